"""Each autograded cell as the grader runs it: the instructor's checker, in the grader's own process.

A checker cell of the notebooks (``nbgrader.grade``) is never run in the submission's kernel. For each
one this table names the checker, the learner's answer (a function the kernel is asked to call, or a
value it is asked for) and the trusted inputs: the model and tokenizer are the grader's own copies of
the same stand-in, and travel to the kernel only by name. Whether an exercise passed is what the
checker decides from the values that come back, so nothing a submission defines, patches or prints
can change it. ``library`` lists the names whose use in an answer the gradebook flags for review:
an answer that calls the library's own implementation passes the checker without showing the skill.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from typing import TYPE_CHECKING, Any, Callable

from ..exercises import anatomy_checks, decoding_checks, finetuning_checks, lora_checks, prompting_checks, rlhf_checks
from ..exercises.feedback import Feedback

if TYPE_CHECKING:
    from ..settings import Settings

Inputs = Callable[["Kit"], tuple[tuple, dict, dict[int, str]]]  # args after the answer, kwargs, references by id
# Names that belong to the checkers themselves: an answer that reaches for them is always flagged.
CHECKER_NAMES = ("exercises", "feedback", *(f"{m}_checks" for m in ("anatomy", "prompting", "decoding")))
CHECKER_NAMES += tuple(f"{m}_checks" for m in ("finetuning", "lora", "rlhf")) + ("wire", "instructor")


class Kit:
    """The grader's trusted copies of what the checkers need: the stand-in model, its tokenizer, test dialogues."""

    def __init__(self, settings: Settings, checker_seed: int = 0) -> None:
        self.settings, self.checker_seed = settings, checker_seed  # seed: the checkers' own random cases

    @functools.cached_property
    def dataset(self) -> Any:
        """DialogSum (or the sample) as the submissions' kernels load it."""
        from ..data import load_dialogsum

        return load_dialogsum(self.settings.dataset)

    @functools.cached_property
    def folder(self) -> str:
        """The model folder the kernels load too (the stand-in, built once into the grader's cache)."""
        from ..models import resolve_model

        return resolve_model(self.settings, self.dataset)

    @functools.cached_property
    def model(self) -> Any:
        """The model in fp32, in evaluation mode."""
        import torch
        from transformers import AutoModelForSeq2SeqLM

        return AutoModelForSeq2SeqLM.from_pretrained(self.folder, dtype=torch.float32).eval()

    @functools.cached_property
    def tokenizer(self) -> Any:
        """The model's tokenizer."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.folder)

    @functools.cached_property
    def eval_dialogues(self) -> list[str]:
        """The test dialogues notebook 02 evaluates on (its exercise counts how many prompts are too long)."""
        from ..evaluation import eval_dialogues

        return list(eval_dialogues(self.dataset["test"], self.settings.n_eval)["dialogue"])


@dataclasses.dataclass(frozen=True)
class TrustedCheck:
    """How the grader checks one exercise: the checker, the learner's answer by name, the trusted inputs."""

    check: Callable[..., Feedback]
    answer: str
    inputs: Inputs = lambda kit: ((), {}, {})
    value: bool = False  # the answer is a value (a template), not a function to call
    library: tuple[str, ...] = ()


def _head(kit: Kit) -> tuple[tuple, dict, dict[int, str]]:
    ids = kit.tokenizer(anatomy_checks.HEAD_TEXT, return_tensors="pt").input_ids
    return (kit.model, ids), {"head": kit.model.config.num_heads - 1}, {id(kit.model): "model"}


def _template(kit: Kit) -> tuple[tuple, dict, dict[int, str]]:
    return (kit.tokenizer, kit.eval_dialogues, kit.tokenizer.model_max_length, None), {}, {}


CHECKS: dict[str, TrustedCheck] = {
    "check_01_1": TrustedCheck(
        anatomy_checks.check_positional_encoding, "positional_encoding", library=("sinusoidal_encoding",)
    ),
    "check_01_2": TrustedCheck(
        anatomy_checks.check_attention_head,
        "head_attention",
        _head,
        library=("output_attentions", "model_attentions", "self_attention_by_hand", "attention_reference"),
    ),
    "check_02_1": TrustedCheck(prompting_checks.check_template, "my_template", _template, value=True),
    "check_02_2": TrustedCheck(prompting_checks.check_fit_shots, "fit_shots", library=("fit_shots", "make_prompt")),
    "check_03_1": TrustedCheck(decoding_checks.check_top_p, "top_p_filter", library=("TopPLogitsWarper",)),
    "check_03_2": TrustedCheck(
        decoding_checks.check_temperature, "apply_temperature", library=("TemperatureLogitsWarper",)
    ),
    "check_03_3": TrustedCheck(decoding_checks.check_distinct_n, "distinct_n", library=("distinct_n",)),
    "check_04_1": TrustedCheck(
        finetuning_checks.check_label_masking, "mask_padding", library=("DataCollatorForSeq2Seq",)
    ),
    "check_04_2": TrustedCheck(
        finetuning_checks.check_tokenize,
        "tokenize",
        lambda kit: ((kit.tokenizer,), {}, {id(kit.tokenizer): "tokenizer"}),
        library=("tokenize_function", "prepare_data"),
    ),
    "check_05_1": TrustedCheck(
        lora_checks.check_lora_count,
        "lora_trainable",
        lambda kit: ((kit.model,), {}, {id(kit.model): "original_model"}),
        library=("peft", "get_peft_model", "add_lora", "lora_reference", "count_parameters", "describe_parameters"),
    ),
    "check_05_2": TrustedCheck(
        lora_checks.check_paired_bootstrap, "paired_bootstrap", library=("paired_bootstrap_reference",)
    ),
    "check_06_1": TrustedCheck(
        rlhf_checks.check_kl_rewards, "kl_penalized_rewards", library=("ppo_math", "kl_penalized_rewards")
    ),
    "check_06_2": TrustedCheck(
        rlhf_checks.check_clipped_loss, "clipped_policy_loss", library=("ppo_math", "policy_loss")
    ),
}


def library_uses(sources: list[str], check: TrustedCheck) -> list[str]:
    """The library or checker names that the learner's own cells use (their own definitions aside)."""
    watched = set(check.library) | set(CHECKER_NAMES)
    found: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        own = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                found.add(node.attr)
            elif isinstance(node, ast.Name) and node.id not in own:
                found.add(node.id)
            elif isinstance(node, ast.keyword) and node.arg:
                found.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    found.update(alias.name.split("."))
                found.update((getattr(node, "module", None) or "").split("."))
    return sorted(found & watched)


def review_note(uses: list[str]) -> str:
    """Why a passing answer is flagged for an instructor's look, or '' when nothing is."""
    if not uses:
        return ""
    return (
        f"review: the learner's code uses {', '.join(uses)}, the library's or the checker's own code; "
        "the checker cannot tell whether the answer computes the result itself."
    )
