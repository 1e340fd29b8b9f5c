"""The course labs' own choices, written once: the model, the data, Lab 2's LoRA and training settings.

Notebooks spell some of these out for the learner (``LoraConfig(r=32, ...)``) and then check, in a
cell nbval compares, that what they wrote equals what is here; the CLI, the exercises and the
benchmarks import them from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from peft import LoraConfig

MODEL = "google/flan-t5-base"
DATASET = "knkarthick/dialogsum"

# Lab 2 ("Fine-tune a generative AI model for dialogue summarization").
FULL_LEARNING_RATE = 1e-5
FULL_WEIGHT_DECAY = 0.01
LORA_LEARNING_RATE = 1e-3
LORA = dict(r=32, lora_alpha=32, target_modules=["q", "v"], lora_dropout=0.05, bias="none")
MAX_INPUT_TOKENS = 512  # FLAN-T5's model_max_length; the lab pads and truncates prompts to it
MAX_TARGET_TOKENS = 128  # the kit's cut for summaries; the lab cuts them at 512 (DialogSum's are short; counted in 04)

# Lab 2's published numbers on flan-t5-base (Generative AI with LLMs, DeepLearning.AI / AWS, Week 2 lab
# "Fine-tune a generative AI model for dialogue summarization"). The lab scores its models twice:
#
# 1. REFERENCE_ROUGE1: ROUGE-1 read from the lab's pre-generated results file
#    (data/dialogue-summary-training-results.csv), summaries of all 1,500 test rows by the original
#    model and the course's downloaded full and PEFT checkpoints, one reference per row.
REFERENCE_ROUGE1 = {"original": 0.2334, "full fine-tune": 0.4216, "PEFT (LoRA)": 0.4081}
REFERENCE_SOURCE = "the lab's pre-generated results file, all 1,500 test rows (one reference each)"
# 2. The lab's own generations on the first 10 test rows (3-4 dialogues, repeated). Its original
#    model scores 0.2422 in the full fine-tuning section and 0.2128 in the PEFT section, because by
#    then the lab has injected LoRA into that same model object and left it in training mode.
TEN_ROW_ROUGE1 = {
    "original": 0.2422,
    "original (PEFT section)": 0.2128,
    "full fine-tune": 0.4103,
    "PEFT (LoRA)": 0.3725,
}
# The improvements the lab prints ("absolute percentage improvement", ROUGE-1/2/L/Lsum), computed from
# the results file of (1): differences of ROUGE in points, e.g. 100 * (0.4216 - 0.2334) = 18.82.
IMPROVEMENT_POINTS = {
    "full fine-tune over original": (18.82, 10.43, 13.70, 13.69),
    "PEFT over original": (17.47, 8.73, 12.36, 12.34),
    "PEFT over full fine-tune": (-1.35, -1.70, -1.34, -1.35),
}


def course_figures() -> str:
    """The lab's ROUGE figures with where each comes from, as lines of text for a notebook to print."""
    lines = [f"ROUGE-1 from {REFERENCE_SOURCE}:"]
    lines += [f"  {name:<25} {value:.4f}" for name, value in REFERENCE_ROUGE1.items()]
    lines.append("ROUGE-1 of the lab's own generations on the first 10 test rows:")
    lines += [f"  {name:<25} {value:.4f}" for name, value in TEN_ROW_ROUGE1.items()]
    lines.append(
        "improvements the lab prints, in ROUGE points (rouge1, rouge2, rougeL, rougeLsum), from the results file:"
    )
    lines += [f"  {name:<29} {', '.join(f'{v:+.2f}' for v in values)}" for name, values in IMPROVEMENT_POINTS.items()]
    return "\n".join(lines)


# Lab 3 ("Fine-tune FLAN-T5 with reinforcement learning to generate more-positive summaries").
PPO_LEARNING_RATE = 1.41e-5
PPO_BATCH_SIZE = 16
PPO_MINI_BATCH_SIZE = 4
PPO_STEPS = 10


def lora_config(**overrides: Any) -> LoraConfig:
    """Lab 2's ``LoraConfig`` (r 32, alpha 32, q and v, dropout 0.05) for a seq2seq model, with overrides."""
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, **(LORA | overrides))
