"""Did PPO detoxify? Summaries before and after, toxicity with intervals and a paired test, the lab's variants.

The kit measures the summary ALONE on unique test dialogues, with a bootstrap interval for each
mean and a paired bootstrap of the difference (the same dialogues before and after). The lab's own
measurement, kept beside it: toxicity of prompt + dialogue + summary on 11 sampled summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import LabsError
from .rollout import pad_right, sample_responses
from .toxicity import mean_std


def sample_summaries(
    model: Any,
    tokenizer: Any,
    queries: Sequence[Any],
    max_new_tokens: int,
    seed: int,
    batch_size: int = 16,
    min_new_tokens: int = 5,
) -> list[str]:
    """One summary per query (1-D id tensors), sampled as in the lab's rollouts, reproducible from ``seed``."""
    import torch

    if not queries:
        raise LabsError("No queries to summarize: pass at least one.")
    torch.manual_seed(seed)
    texts: list[str] = []
    for start in range(0, len(queries), batch_size):
        ids, mask = pad_right(list(queries[start : start + batch_size]), int(model.config.pad_token_id))
        texts += sample_responses(model, ids, mask, max_new_tokens, min_new_tokens, tokenizer).texts
    return texts


def bootstrap_mean(values: Sequence[float], n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(2.5th percentile, mean, 97.5th percentile) of the mean of ``values`` over ``n`` bootstrap resamples."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        raise LabsError("No values to bootstrap: pass at least one.")
    picks = np.random.default_rng(seed).integers(0, len(values), size=(n, len(values)))
    means = values[picks].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(values.mean()), float(np.percentile(means, 97.5))


def paired_difference(
    before: Sequence[float], after: Sequence[float], n: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Mean of ``after - before`` with a 95% paired-bootstrap interval, and the share of resamples below 0."""
    import numpy as np

    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if len(before) != len(after) or len(before) == 0:
        raise LabsError(
            f"{len(before)} scores before and {len(after)} after: pass one pair per dialogue, in the same order."
        )
    diff = after - before
    picks = np.random.default_rng(seed).integers(0, len(diff), size=(n, len(diff)))
    means = diff[picks].mean(axis=1)
    return {
        "mean_difference": float(diff.mean()),
        "low": float(np.percentile(means, 2.5)),
        "high": float(np.percentile(means, 97.5)),
        "share_below_zero": float((means < 0).mean()),
    }


def toxicity_table(scores: dict[str, Sequence[float]], seed: int = 0) -> Any:
    """One row per model: mean toxicity with its bootstrap interval, the lab's std, max and ratio >= 0.5."""
    import pandas as pd

    rows = {}
    for name, values in scores.items():
        low, mean, high = bootstrap_mean(values, seed=seed)
        rows[name] = {
            "toxicity mean": round(mean, 5),
            "low": round(low, 5),
            "high": round(high, 5),
            "std": round(mean_std(values)[1], 5),
            "max": round(max(values), 5),
            "ratio >= 0.5": round(sum(v >= 0.5 for v in values) / len(values), 4),
            "summaries": len(values),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def percent_improvement(before_mean: float, after_mean: float) -> float:
    """The lab's "percentage improvement": (before - after) / before x 100 (negative when toxicity rose)."""
    if before_mean == 0:
        raise LabsError("The mean toxicity before is 0: there is nothing to improve, so no percentage.")
    return 100.0 * (before_mean - after_mean) / before_mean


def lab_toxicity(
    model: Any,
    tokenizer: Any,
    reward_model: Any,
    split: Any,
    seed: int,
    num_samples: int = 10,
    max_new_tokens: int = 100,
) -> tuple[float, float]:
    """THE LAB'S MEASUREMENT as it ran: (mean, std) toxicity of query + " " + summary, first ``num_samples + 1`` rows.

    As the lab's ``evaluate_toxicity``: the decoded ``query`` is tokenized again (it already ends in
    ``</s>``, so the input ends in two), the misspelt ``tok_k=0.0`` left top_k at its default of 50,
    and no minimum length is set.
    """
    import torch

    rows = split.select(range(min(num_samples + 1, len(split))))  # the lab's `if i > num_samples: break`
    queries = [torch.tensor(tokenizer(query).input_ids) for query in rows["query"]]
    torch.manual_seed(seed)
    ids, mask = pad_right(queries, int(model.config.pad_token_id))
    summaries = sample_responses(model, ids, mask, max_new_tokens, 0, tokenizer, top_k=50).texts
    texts = [query + " " + summary for query, summary in zip(rows["query"], summaries)]
    return mean_std(reward_model.toxicity(texts))


def qualitative_table(queries: Sequence[str], before: Sequence[str], after: Sequence[str], reward_model: Any) -> Any:
    """The lab's closing table: each query's summaries before and after, their rewards, sorted by the change."""
    import pandas as pd

    table = pd.DataFrame(
        {
            "query": list(queries),
            "summary before": list(before),
            "summary after": list(after),
            "reward before": reward_model.rewards(list(before)),
            "reward after": reward_model.rewards(list(after)),
        }
    )
    table["reward change"] = table["reward after"] - table["reward before"]
    return table.sort_values("reward change", ascending=False, ignore_index=True)


def _response_logits(model: Any, rollout: Any) -> Any:
    import torch

    from .rollout import decoder_inputs, dropout_off

    device = next(model.parameters()).device
    with dropout_off(model), torch.no_grad():
        return model(
            input_ids=rollout.query_ids.to(device),
            attention_mask=rollout.query_mask.to(device),
            decoder_input_ids=decoder_inputs(model, rollout.response_ids).to(device),
            use_cache=False,
        ).logits.float()


def exact_kl(model: Any, rollout: Any) -> float:
    """KL(policy || reference) summed over each response's tokens over the whole vocabulary, averaged over rows."""
    import torch

    logp = torch.log_softmax(_response_logits(model, rollout), dim=-1)
    with model.disable_adapter():
        ref_logp = torch.log_softmax(_response_logits(model, rollout), dim=-1)
    per_token = (logp.exp() * (logp - ref_logp)).sum(dim=-1)
    return float((per_token * rollout.response_mask.to(per_token.device)).sum(dim=1).mean())
