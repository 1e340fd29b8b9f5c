"""Helpers for the dialogue-summarization labs: settings, data, the offline stand-in, ROUGE.

The notebooks import this package as ``import labs_helpers as labs``; the lessons themselves
(tokenizers, ``model.generate``, ``Trainer``, ``LoraConfig``) stay in the notebooks.
"""

from .data import group_references, load_dialogsum
from .errors import LabsError
from .results import save_results
from .rouge import rouge, rouge_ci
from .settings import Settings, get_settings, print_run_card
from .standin import resolve_model

__all__ = [
    "LabsError", "Settings", "get_settings", "group_references", "load_dialogsum",
    "print_run_card", "resolve_model", "rouge", "rouge_ci", "save_results",
]
