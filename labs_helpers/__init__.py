"""Helpers for the dialogue-summarization labs; the lessons themselves stay in the notebooks.

A notebook's first cell reads the settings (``labs.get_settings()``) and prints the run card; the
rest of the kit takes them as arguments. Modules, by what they do:

- run set-up: ``settings``, ``device``, ``hub``, ``environment``, ``models`` (which model to load);
- data and prompts: ``data``, ``prompting``, ``retrieval`` (few-shot examples chosen by similarity),
  ``course`` (the labs' own constants and published figures);
- inside the model: ``anatomy``, ``foundations`` (week 1 on tiny models: RNN vs attention, the
  feed-forward block, pre-training objectives), ``sampling``; generating: ``generation``;
- scoring: ``metrics`` (ROUGE, diversity), ``evaluation`` (models compared on test dialogues),
  ``baselines`` (the constant summary and the checks that a summary reads its dialogue);
- training: ``finetuning``, ``lora``, ``runs``, ``export``; figures: ``plots``, ``sampling_plots``;
- alignment (Lab 3): ``rlhf``, the kit's PPO with its rewards, toxicity and before/after measurements;
- the offline stand-in: ``standin``; exercises: ``exercises``; results: ``results``;
- command lines: ``train``, ``run_labs``; for instructors (no notebook imports it): ``instructor``
  (``make grade``, ``make student``, ``make course``).
"""

from .data import group_references, load_dialogsum
from .errors import LabsError
from .models import resolve_model
from .results import save_results
from .settings import Settings, get_settings

__all__ = [
    "LabsError",
    "Settings",
    "get_settings",
    "group_references",
    "load_dialogsum",
    "resolve_model",
    "save_results",
]
