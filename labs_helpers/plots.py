"""Figures the notebooks share: heatmaps with token labels, attention grids, position encodings,
loss curves and ROUGE bars.

Each function draws into a new matplotlib figure (or the ``ax`` given) and returns it; the
notebook calls ``plt.show()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

MAX_LABELS = 100  # up to this many tokens each gets its tick label (a smaller font above 60); more: every n-th


def _ticks(count: int, max_labels: int = MAX_LABELS) -> list[int]:
    step = max(1, -(-count // max_labels))
    return list(range(0, count, step))


def _fontsize(count: int) -> int:
    """Tick-label font size that keeps ``count`` labels apart on a figure at most 14 inches wide."""
    return 8 if count <= 60 else 6


def _every(ticks: list[int], label: str) -> str:
    """``label``, saying which tokens carry a tick label when not all of them do."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    if step == 1:
        return label
    nth = {2: "second", 3: "third"}.get(step, f"{step}th")
    return f"{label} (every {nth} token labelled)"


def _plain(matrix):
    """A 2-D numpy array from a tensor or array (detached, on the CPU, float)."""
    import numpy as np

    if hasattr(matrix, "detach"):
        matrix = matrix.detach().float().cpu().numpy()
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(
            f"Expected a 2-D matrix, got shape {matrix.shape}. Select one head or average the heads first."
        )
    return matrix


def heatmap(
    matrix,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    ax=None,
    cmap: str = "viridis",
    colorbar: bool = True,
    **imshow_kwargs,
):
    """Draw a 2-D matrix as a heatmap, with token labels on the axes when given; returns the axes."""
    import matplotlib.pyplot as plt

    matrix = _plain(matrix)
    for name, labels, size in (("x_labels", x_labels, matrix.shape[1]), ("y_labels", y_labels, matrix.shape[0])):
        if labels is not None and len(labels) != size:
            raise ValueError(f"{name} has {len(labels)} labels for {size} columns/rows. Pass one label per entry.")
    if ax is None:
        width = min(14.0, 3 + 0.22 * matrix.shape[1]) if x_labels is not None else 7.0
        height = min(10.0, 2 + 0.22 * matrix.shape[0]) if y_labels is not None else 4.0
        _, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(matrix, aspect="auto", cmap=cmap, interpolation="nearest", **imshow_kwargs)
    if x_labels is not None:
        ticks = _ticks(len(x_labels))
        ax.set_xticks(ticks, [x_labels[i] for i in ticks], rotation=90, fontsize=_fontsize(len(ticks)))
        xlabel = _every(ticks, xlabel)
    if y_labels is not None:
        ticks = _ticks(len(y_labels))
        ax.set_yticks(ticks, [y_labels[i] for i in ticks], fontsize=_fontsize(len(ticks)))
        ylabel = _every(ticks, ylabel)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    return ax


def attention_grid(weights, tokens: Sequence[str], title: str = "", ncols: int = 4):
    """One small attention heatmap per head (``weights``: heads x queries x keys); returns the figure."""
    import matplotlib.pyplot as plt

    heads = weights.shape[0]
    ncols = min(ncols, heads)
    nrows = -(-heads // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows), squeeze=False)
    show_labels = len(tokens) <= 20
    for head, ax in enumerate(axes.flat):
        if head >= heads:
            ax.axis("off")
            continue
        labels = list(tokens) if show_labels else None
        heatmap(weights[head], labels, labels, title=f"head {head}", ax=ax, colorbar=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def positional_encoding(encoding, title: str = "Sinusoidal positional encoding"):
    """The (positions x dimensions) encoding as a heatmap, values from -1 to 1; returns the axes."""
    return heatmap(encoding, title=title, xlabel="dimension", ylabel="position", cmap="RdBu", vmin=-1, vmax=1)


def relative_bias(bias_by_bucket, distances: Sequence[int], bias_by_distance, title: str = ""):
    """T5's learned bias: per bucket and head (left), and per distance and head (right); returns the figure."""
    import matplotlib.pyplot as plt

    table = _plain(bias_by_bucket)  # (buckets, heads)
    by_distance = _plain(bias_by_distance)  # (distances, heads)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
    heatmap(table.T, title="bias per bucket", xlabel="bucket", ylabel="head", ax=left, cmap="RdBu_r")
    left.set_yticks(_ticks(table.shape[1], 16))
    for head in range(by_distance.shape[1]):
        right.plot(list(distances), by_distance[:, head], label=f"head {head}", linewidth=1)
    right.set_title("bias by distance (key position - query position)")
    right.set_xlabel("distance")
    right.set_ylabel("bias added to the score")
    if by_distance.shape[1] <= 12:
        right.legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curves(history: pd.DataFrame, title: str = "loss") -> Axes:
    """Training and validation loss against the step (``finetuning.loss_history``); returns the axes."""
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6, 3.5))
    train = history["train_loss"].dropna()
    evals = history["eval_loss"].dropna()
    ax.plot(train.index, train.values, label="training loss")
    if len(evals):
        ax.plot(evals.index, evals.values, "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(title)
    ax.legend()
    return ax


def rouge_bars(table: pd.DataFrame, title: str = "ROUGE on unique test dialogues (95% bootstrap CI)") -> Axes:
    """Grouped bars: one group per ROUGE type, one bar per model, with CI whiskers; returns the axes."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .metrics import ROUGE_TYPES

    keys = [k for k in ROUGE_TYPES if k in table.columns]
    x = np.arange(len(keys))
    width = 0.8 / len(table)
    _, ax = plt.subplots(figsize=(7, 3.5))
    for i, (name, row) in enumerate(table.iterrows()):
        mids = np.array([row[k] for k in keys])
        errors = np.array([[row[k] - row[f"{k} low"] for k in keys], [row[f"{k} high"] - row[k] for k in keys]])
        ax.bar(x + (i - (len(table) - 1) / 2) * width, mids, width, yerr=errors, capsize=3, label=str(name))
    ax.set_xticks(x, keys)
    ax.set_ylabel("F-measure")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # beside the bars, never over them
    ax.figure.tight_layout()
    return ax
