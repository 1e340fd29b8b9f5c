"""Sentences that state a result from a run's own numbers: whose ROUGE intervals overlap, what each notebook found.

The wording is picked from the values (an interval that overlaps another says "does not tell them apart"), so
a sentence holds for whichever model ran. Every number is written the same way: scores with 3 decimals,
differences with a sign, values under 0.001 in scientific notation.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .evaluation import CONSTANT

NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}


def number(value: float, signed: bool = False) -> str:
    """``value`` as the findings write every number: 3 decimals, or 3 significant digits below 0.001."""
    sign = "+" if signed else ""
    return f"{value:{sign}.2e}" if 0 < abs(value) < 0.001 else f"{value:{sign}.3f}"


def rows(table: Any) -> dict[str, dict]:
    """A results table by row name: a DataFrame indexed by name, or saved records whose first column is the name."""
    if hasattr(table, "to_dict"):
        return {str(name): row for name, row in table.to_dict(orient="index").items()}
    return {str(next(iter(row.values()))): row for row in table}


def interval(table: Any, name: str, key: str = "rouge1") -> tuple[float, float, float]:
    """Row ``name``'s ``key``: (median, low, high) of its 95% interval (low = high = median without one)."""
    row = rows(table)[name]
    return float(row[key]), float(row.get(f"{key} low", row[key])), float(row.get(f"{key} high", row[key]))


def overlap(table: Any, a: str, b: str, key: str = "rouge1") -> bool:
    """True when the 95% intervals of rows ``a`` and ``b`` share a value."""
    _, low_a, high_a = interval(table, a, key)
    _, low_b, high_b = interval(table, b, key)
    return low_a <= high_b and low_b <= high_a


def _span(table: Any, name: str, key: str) -> str:
    mid, low, high = interval(table, name, key)
    return f"{number(mid)} [{number(low)}, {number(high)}]"


def _verdict(table: Any, a: str, b: str, key: str) -> str:
    gap = interval(table, a, key)[0] - interval(table, b, key)[0]
    if overlap(table, a, b, key):
        return f"{number(gap, signed=True)}, but the 95% intervals overlap: this run does not tell them apart"
    return f"{number(gap, signed=True)}, {'above' if gap > 0 else 'below'} it with no overlap of the 95% intervals"


def versus(table: Any, a: str, b: str, key: str = "rouge1") -> str:
    """One sentence comparing rows ``a`` and ``b`` by ``key``, worded from whether their intervals overlap."""
    return (
        f"{a}: {NAMES.get(key, key)} {_span(table, a, key)} against the {b}'s {_span(table, b, key)}: "
        f"{_verdict(table, a, b, key)}."
    )


def _anatomy(data: dict, found: Mapping[str, dict]) -> str:
    same = "reproduces" if data["greedy_loop_equals_generate"] else "does not reproduce"
    return (
        f"attention computed by hand matches the model's to {number(data['attention_max_abs_diff'])} "
        f"(largest difference); a greedy loop written by hand {same} generate()."
    )


def _prompting(data: dict, found: Mapping[str, dict]) -> str:
    table = rows(data["table"])
    floor = table.pop(CONSTANT, None)
    best = max(table, key=lambda name: table[name]["rouge1"])
    text = f"the best prompt, {best}, scores ROUGE-1 {number(table[best]['rouge1'])}"
    if floor is None:
        return text + "."
    beaten = sum(row["rouge1"] > floor["rouge1"] for row in table.values())
    gap = number(table[best]["rouge1"] - floor["rouge1"], signed=True)
    return f"{text}, {gap} against the {CONSTANT}; {beaten} of {len(table)} prompts beat it."


def _decoding(data: dict, found: Mapping[str, dict]) -> str:
    table = list(data["table"])
    best = max(table, key=lambda row: row["rouge1"])
    return (
        f"greedy decoding scores ROUGE-1 {number(table[0]['rouge1'])}; the best of {len(table)} settings, "
        f"{best['decoding']} at temperature {best['temperature']:g}, {number(best['rouge1'])}."
    )


def _full(data: dict, found: Mapping[str, dict]) -> str:
    text = versus(data["table"], "full fine-tune", CONSTANT)
    int8 = found.get("04_int8", {}).get("data", {}).get("table")
    if not int8:
        return text
    fp32, small = rows(int8)["fp32"], rows(int8)["int8"]
    return (
        f"{text} In int8, ROUGE-1 {number(small['rouge1'] - fp32['rouge1'], signed=True)}, "
        f"{small['summaries / s (CPU)']:.1f} summaries/s against {fp32['summaries / s (CPU)']:.1f} in fp32."
    )


def _lora(data: dict, found: Mapping[str, dict]) -> str:
    table, lora = data["table"], "PEFT (LoRA)"
    return (
        f"{versus(table, lora, CONSTANT)} Against the full fine-tune's {_span(table, 'full fine-tune', 'rouge1')}: "
        f"{_verdict(table, lora, 'full fine-tune', 'rouge1')}."
    )


def _rlhf(data: dict, found: Mapping[str, dict]) -> str:
    change = data["paired_difference"]
    mean, low, high = (change[k] for k in ("mean_difference", "low", "high"))
    verdict = "PPO lowered it" if high < 0 else "PPO raised it" if low > 0 else "no effect shown (the interval holds 0)"
    rivals = found.get("06_rlhf_rivals_details", {}).get("data", {}).get("conclusion", "")
    on_slice = f" On the toxic slice: {rivals.split('. ')[0].rstrip('.')}." if rivals else ""
    return (
        f"toxicity after PPO minus before, {number(mean, signed=True)} "
        f"[{number(low, signed=True)}, {number(high, signed=True)}]: {verdict}.{on_slice}"
    )


# Which saved result states each notebook's finding, and how.
FINDINGS: dict[str, tuple[str, Callable[[dict, Mapping[str, dict]], str]]] = {
    "01": ("01_transformer_anatomy", _anatomy),
    "02": ("02_prompt_engineering", _prompting),
    "03": ("03_generation_config", _decoding),
    "04": ("04_full_fine_tuning", _full),
    "05": ("05_peft_lora", _lora),
    "06": ("06_rlhf_detox_details", _rlhf),
}


def notebook_findings(found: Mapping[str, dict]) -> list[str]:
    """One sentence per notebook whose saved results (``results.load_results``) state its finding; none for others."""
    sentences = []
    for number_, (name, finding) in FINDINGS.items():
        if name not in found:
            continue
        try:
            sentences.append(f"{number_}: {finding(found[name]['data'], found)}")
        except (KeyError, TypeError, ValueError, IndexError, StopIteration):  # a notebook saved another shape
            continue
    return sentences
