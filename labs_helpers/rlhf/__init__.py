"""Course Lab 3 (detoxify summaries with PPO) in the kit's own code: PPO for FLAN-T5 + LoRA, rewards, toxicity.

Typical use (notebook 06)::

    from labs_helpers import rlhf
    policy = rlhf.build_policy(base_model, lab2_adapter_folder, reference="base")
    trainer = rlhf.PPOTrainer(rlhf.PPOConfig(), policy, tokenizer)
    reward = rlhf.ProfanityCheckReward()          # offline; rlhf.load_classifier_reward() on the course profile
    rollout = trainer.generate(queries[:16], max_new_tokens=64)   # one step by hand ...
    stats = trainer.step(rollout, reward.rewards(rollout.texts))
    history = rlhf.train_ppo(trainer, reward.rewards, queries, steps=10, max_new_tokens=64,
    on_step=rlhf.print_step)      # ... or the lab's loop in one call
    rlhf.save_policy(folder, policy, trainer.value_head, tokenizer)

Modules: ``ppo_math`` (the formulas), ``rollout`` (sampling, log-probs), ``policy`` (LoRA policy,
value head, KL reference, save/load), ``ppo`` (config, trainer), ``loop`` (the lab's loop),
``rewards`` / ``toxicity`` / ``reward_hacking`` (reward models and what they measure), ``data``
(the lab's data path), ``start`` (the adapter PPO starts from), ``evaluate`` (before vs after:
intervals, a paired test, the lab's own measurement), ``run`` (``train ppo``). Section 13's
measured lesson: ``toxic_slice`` (the dialogues where the reward has signal), ``judge`` (a second
toxicity measure PPO never saw), ``dpo`` (DPO for seq2seq),
``rivals`` (best-of-n and the one table), ``arena`` (that table in one call, for the benchmark),
``dpo_run`` (``train dpo``). Notebook 06 reaches these as ``rlhf.<module>``.
"""

from . import arena, data, dpo, evaluate, judge, rivals, start, toxic_slice
from .loop import PRINTED, draw_length, history_table, print_step, query_batches, train_ppo
from .policy import (
    REFERENCES,
    ValueHead,
    build_policy,
    check_adapter_folder,
    check_seq2seq,
    freeze_all_but_lora,
    load_policy,
    load_value_head,
    merge_adapter,
    save_policy,
    trainable_parameters,
    value_head_for,
)
from .ppo import PPOConfig, PPOTrainer, is_finite_stats
from .reward_hacking import frequency_change, penalized_words, vocabulary_of, word_frequencies, words_of
from .rewards import (
    COURSE_REWARD_MODEL,
    OFFLINE_REWARD_NAME,
    ClassifierReward,
    ProfanityCheckReward,
    RewardModel,
    lab_first_entry_rewards,
    label_index,
    load_classifier_reward,
    pipeline_entries,
    rewards_by_label,
)
from .rollout import (
    Rollout,
    decoder_inputs,
    dropout_off,
    encode_queries,
    pad_right,
    policy_forward,
    reference_logprobs,
    sample_responses,
)
from .toxicity import aggregate_toxicity, mean_std, measure_toxicity, toxicity_from_logits

__all__ = [
    "COURSE_REWARD_MODEL",
    "OFFLINE_REWARD_NAME",
    "PRINTED",
    "REFERENCES",
    "ClassifierReward",
    "PPOConfig",
    "PPOTrainer",
    "ProfanityCheckReward",
    "RewardModel",
    "Rollout",
    "ValueHead",
    "aggregate_toxicity",
    "arena",
    "build_policy",
    "check_adapter_folder",
    "check_seq2seq",
    "data",
    "decoder_inputs",
    "dpo",
    "draw_length",
    "dropout_off",
    "encode_queries",
    "evaluate",
    "freeze_all_but_lora",
    "frequency_change",
    "history_table",
    "judge",
    "is_finite_stats",
    "lab_first_entry_rewards",
    "label_index",
    "load_classifier_reward",
    "load_policy",
    "load_value_head",
    "mean_std",
    "measure_toxicity",
    "merge_adapter",
    "pad_right",
    "penalized_words",
    "pipeline_entries",
    "policy_forward",
    "print_step",
    "query_batches",
    "reference_logprobs",
    "rivals",
    "rewards_by_label",
    "sample_responses",
    "save_policy",
    "start",
    "toxic_slice",
    "toxicity_from_logits",
    "train_ppo",
    "trainable_parameters",
    "value_head_for",
    "vocabulary_of",
    "word_frequencies",
    "words_of",
]
