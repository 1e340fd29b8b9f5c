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
MAX_TARGET_TOKENS = 128  # the kit's cut for summaries (DialogSum's are short; longer ones are counted)

# Lab 2's ROUGE-1 on flan-t5-base, as printed in the course notebook (Generative AI with LLMs,
# DeepLearning.AI / AWS, Week 2 lab "Fine-tune a generative AI model for dialogue summarization").
# Its full and PEFT models are the course's downloaded checkpoints, scored on 10 test rows.
REFERENCE_ROUGE1 = {"original": 0.2334, "full fine-tune": 0.4216, "PEFT (LoRA)": 0.4081}

# Lab 3 ("Fine-tune FLAN-T5 with reinforcement learning to generate more-positive summaries").
PPO_LEARNING_RATE = 1.41e-5
PPO_BATCH_SIZE = 16
PPO_MINI_BATCH_SIZE = 4
PPO_STEPS = 10


def lora_config(**overrides: Any) -> LoraConfig:
    """Lab 2's ``LoraConfig`` (r 32, alpha 32, q and v, dropout 0.05) for a seq2seq model, with overrides."""
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, **(LORA | overrides))
