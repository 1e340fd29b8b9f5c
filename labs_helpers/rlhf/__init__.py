"""Course Lab 3 (detoxify summaries with PPO) in the kit's own code: PPO for FLAN-T5 + LoRA, rewards, toxicity.

Typical use (notebook 06)::

    from labs_helpers import rlhf
    policy = rlhf.build_policy(base_model, lab2_adapter_folder, reference="base")
    trainer = rlhf.PPOTrainer(rlhf.PPOConfig(), policy, tokenizer)
    reward = rlhf.ProfanityCheckReward()          # offline; rlhf.load_classifier_reward() on the course profile
    rollout = trainer.generate(queries, max_new_tokens=64)
    stats = trainer.step(rollout, reward.rewards(rollout.texts))
    rlhf.save_policy(folder, policy, trainer.value_head, tokenizer)
"""

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
    "COURSE_REWARD_MODEL", "OFFLINE_REWARD_NAME", "REFERENCES", "ClassifierReward", "PPOConfig", "PPOTrainer",
    "ProfanityCheckReward", "RewardModel", "Rollout", "ValueHead", "aggregate_toxicity", "build_policy",
    "check_adapter_folder", "check_seq2seq", "decoder_inputs", "dropout_off", "encode_queries", "freeze_all_but_lora",
    "frequency_change", "is_finite_stats", "lab_first_entry_rewards", "label_index", "load_classifier_reward",
    "load_policy", "load_value_head", "mean_std", "measure_toxicity", "merge_adapter", "pad_right", "penalized_words",
    "pipeline_entries",
    "policy_forward", "reference_logprobs", "rewards_by_label", "sample_responses", "save_policy",
    "toxicity_from_logits", "trainable_parameters", "value_head_for", "vocabulary_of", "word_frequencies", "words_of",
]
