"""Does bf16 autocast change what a model summarizes? ROUGE of fp32 and bf16 generation on the same dialogues.

The kit generates under bf16 autocast where the hardware multiplies bf16 natively (``LABS_AUTOCAST``).
This script shows what that costs in quality rather than assuming it: greedy summaries of the same unique
test dialogues in fp32 and under bf16 autocast, ROUGE of each with its 95% bootstrap interval, the paired
bootstrap interval of the difference, and how many summaries are identical. Run from the kit's root::

    .venv/bin/python benchmarks/precision_quality.py --model runs/interactive/<04 run>/final --dataset DIR

``--model`` defaults to the pre-trained stand-in in ``--cache-dir`` (built if missing). On a CPU without
native bf16 the bf16 side is emulated: the numbers are the same, only slower. Writes
``precision_quality.json`` next to this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: the kit's root makes ``labs_helpers`` importable
    sys.path.insert(0, str(HERE.parent))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="DialogSum folder (Hub CSV layout) or the kit's data/")
    parser.add_argument("--model", default=None, help="model folder (default: the pre-trained stand-in)")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "labs-kit")
    parser.add_argument("--n-eval", type=int, default=50, help="unique test dialogues")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=HERE / "precision_quality.json")
    return parser.parse_args(argv)


def compare_precisions(model, tokenizer, dialogues, references, seed: int) -> dict:
    """fp32 and bf16-autocast greedy summaries of ``dialogues``: ROUGE with intervals, paired difference, identity."""
    from labs_helpers.baselines import paired_bootstrap_diff
    from labs_helpers.evaluation import summarize_dialogues
    from labs_helpers.metrics import rouge_ci, rouge_scores

    out: dict = {}
    summaries = {}
    for mode in ("off", "bfloat16"):
        start = time.perf_counter()
        summaries[mode] = summarize_dialogues(model, tokenizer, dialogues, max_new_tokens=50, autocast=mode)
        out[f"{mode}_seconds"] = round(time.perf_counter() - start, 1)
        out[f"{mode}_rouge"] = rouge_ci(summaries[mode], references, seed=seed)
    for kind in ("rouge1", "rougeL"):
        per = {m: rouge_scores(summaries[m], references, use_aggregator=False)[kind] for m in summaries}
        low, mean, high = paired_bootstrap_diff(per["bfloat16"], per["off"], seed=seed)
        out[f"{kind}_bf16_minus_fp32"] = [round(low, 4), round(mean, 4), round(high, 4)]
    out["identical"] = f"{sum(a == b for a, b in zip(summaries['off'], summaries['bfloat16']))}/{len(dialogues)}"
    out["examples"] = [dict(fp32=a, bf16=b) for a, b in list(zip(summaries["off"], summaries["bfloat16"]))[:3]]
    return out


def main(argv: list[str] | None = None) -> int:
    """Load the model and the dialogues, compare the two precisions, print and save the result."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    import labs_helpers as labs
    from labs_helpers.device import cpu_bf16_flags
    from labs_helpers.evaluation import eval_dialogues
    from labs_helpers.settings import make_settings

    args = parse_args(argv)
    dataset = labs.load_dialogsum(args.dataset)
    if args.model is None:
        env = dict(LABS_PROFILE="offline", LABS_STANDIN="pretrained", LABS_CACHE=str(args.cache_dir))
        args.model = labs.resolve_model(make_settings(env | dict(LABS_DATASET=args.dataset)), dataset)
    model = AutoModelForSeq2SeqLM.from_pretrained(args.model, dtype="float32").eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    test = eval_dialogues(dataset["test"], args.n_eval)
    result = dict(model=str(args.model), dialogues=len(test), native_bf16=cpu_bf16_flags() or "none (emulated)")
    result |= compare_precisions(model, tokenizer, list(test["dialogue"]), list(test["references"]), args.seed)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
