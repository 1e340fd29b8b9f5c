"""Does bf16 change what a model summarizes? ROUGE of fp32 and bf16 generation on the same dialogues.

The kit generates in bf16 where the hardware multiplies bf16 natively (``LABS_AUTOCAST``): under bf16
autocast, or on a bf16 copy of the weights (``labs_helpers.device.BF16_GENERATION``). This script shows
what each costs in quality rather than assuming it: greedy summaries of the same unique test dialogues in
fp32, under bf16 autocast and on bf16 weights, ROUGE of each with its 95% bootstrap interval, the paired
bootstrap interval of each bf16 precision's difference from fp32, and how many summaries are identical to
fp32's. Run from the kit's root::

    .venv/bin/python benchmarks/precision_quality.py --model runs/interactive/<04 run>/final --dataset DIR

``--precisions bf16-weights`` compares only that one with fp32.

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

CANDIDATES = ("bf16-autocast", "bf16-weights")  # each compared with fp32 (labs_helpers.device.PRECISIONS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="DialogSum folder (Hub CSV layout) or the kit's data/")
    parser.add_argument("--model", default=None, help="model folder (default: the pre-trained stand-in)")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "labs-kit")
    parser.add_argument("--n-eval", type=int, default=50, help="unique test dialogues")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=HERE / "precision_quality.json")
    parser.add_argument(
        "--precisions",
        default=",".join(CANDIDATES),
        help=f"compared with fp32, comma-separated: {','.join(CANDIDATES)}",
    )
    args = parser.parse_args(argv)
    args.precisions = tuple(p for p in args.precisions.split(",") if p)
    if not args.precisions or set(args.precisions) - set(CANDIDATES):
        parser.error(f"--precisions {','.join(args.precisions)}: choose from {','.join(CANDIDATES)}")
    return args


def summaries_in(model, tokenizer, dialogues: list[str], references: list, precision: str, seed: int) -> tuple:
    """Greedy summaries of ``dialogues`` in ``precision`` and what they score: seconds, ROUGE with intervals."""
    from labs_helpers.evaluation import summarize_dialogues
    from labs_helpers.metrics import rouge_ci

    start = time.perf_counter()
    texts = summarize_dialogues(model, tokenizer, dialogues, max_new_tokens=50, precision=precision)
    seconds = round(time.perf_counter() - start, 1)
    return texts, dict(seconds=seconds, rouge=rouge_ci(texts, references, seed=seed))


def against_fp32(fp32: list[str], other: list[str], references: list, seed: int) -> dict:
    """How ``other``'s summaries differ from fp32's: identical ones, paired ROUGE-1/L differences, examples."""
    from labs_helpers.baselines import paired_bootstrap_diff
    from labs_helpers.metrics import rouge_scores

    out: dict = dict(identical=f"{sum(a == b for a, b in zip(fp32, other))}/{len(fp32)}")
    for kind in ("rouge1", "rougeL"):
        per = [rouge_scores(texts, references, use_aggregator=False)[kind] for texts in (other, fp32)]
        low, mean, high = paired_bootstrap_diff(*per, seed=seed)
        out[f"{kind}_minus_fp32"] = [round(low, 4), round(mean, 4), round(high, 4)]
    out["examples"] = [dict(fp32=a, this=b) for a, b in list(zip(fp32, other))[:3]]
    return out


def compare_precisions(model, tokenizer, dialogues, references, seed: int, candidates=CANDIDATES) -> dict:
    """fp32 and each of ``candidates`` on the same dialogues: ROUGE with intervals, paired differences, identity."""
    texts, out = {}, {}
    for precision in ("fp32", *candidates):
        texts[precision], out[precision] = summaries_in(model, tokenizer, dialogues, references, precision, seed)
    for precision in candidates:
        out[precision] |= against_fp32(texts["fp32"], texts[precision], references, seed)
    return out


def main(argv: list[str] | None = None) -> int:
    """Load the model and the dialogues, compare fp32 with the bf16 precisions, print and save the result."""
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
    dialogues, references = list(test["dialogue"]), list(test["references"])
    result |= compare_precisions(model, tokenizer, dialogues, references, args.seed, args.precisions)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
