"""Figures for notebook 03: next-token distributions, filter masks, draws, and a slider explorer."""

from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np

from .sampling import next_token_probs

KEPT, REMOVED, THEORY = "#1f77b4", "#d3d3d3", "#d62728"


def _axes(ax, figsize=(7, 3)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_distribution(
    words: Sequence[str], probs: np.ndarray, ax=None, top: int = 12, title: str = "", keep: np.ndarray | None = None
):
    """Bars of the ``top`` most likely words and one bar for all the others; removed tokens in grey."""
    probs = np.asarray(probs, dtype=np.float64)
    keep = np.ones(probs.shape, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    order = np.argsort(-probs, kind="stable")
    shown, rest = order[:top], order[top:]
    labels = [words[i] for i in shown] + ([f"{len(rest)} others"] if len(rest) else [])
    ax = _axes(ax)
    ax.bar(range(len(shown)), probs[shown], color=[KEPT if keep[i] else REMOVED for i in shown])
    if len(rest):  # one bar for the tail: its kept part coloured, its removed part grey on top
        kept_mass, removed_mass = probs[rest][keep[rest]].sum(), probs[rest][~keep[rest]].sum()
        ax.bar([len(shown)], [kept_mass], color=KEPT)
        ax.bar([len(shown)], [removed_mass], bottom=[kept_mass], color=REMOVED)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("probability")
    ax.set_title(title, fontsize=10)
    return ax


def plot_temperatures(words: Sequence[str], logits: np.ndarray, temperatures: Sequence[float], top: int = 8):
    """One panel per temperature: the softmax of logits / T."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(temperatures), figsize=(3 * len(temperatures), 3), sharey=True)
    for ax, t in zip(np.atleast_1d(axes), temperatures):
        probs = next_token_probs(logits, temperature=t)
        plot_distribution(words, probs, ax=ax, top=top, title=f"T = {t:g}  (top word {probs.max():.2f})")
        ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def plot_filters(words: Sequence[str], logits: np.ndarray, panels: Sequence[tuple[str, np.ndarray]], top: int = 12):
    """One panel per (title, keep-mask) over the same distribution: kept tokens coloured, removed grey."""
    import matplotlib.pyplot as plt

    probs = next_token_probs(logits)
    ncols = min(2, len(panels))  # two panels a row keep the labels readable when the figure is shown shrunk
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 3.8 * nrows), sharey=True, squeeze=False)
    for ax, (title, keep) in zip(axes.flat, panels):
        plot_distribution(words, probs, ax=ax, top=top, keep=keep, title=title)
        ax.set_title(f"{title}\nkeeps {int(np.sum(keep))} tokens, {probs[keep].sum():.2f} of the mass", fontsize=12)
        ax.tick_params(axis="x", labelsize=10)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_draws(words: Sequence[str], probs: np.ndarray, draws: np.ndarray, top: int = 10, ax=None, title: str = ""):
    """Share of ``draws`` that landed on each of the ``top`` words, against the probabilities (+-2 s.e.)."""
    probs = np.asarray(probs, dtype=np.float64)
    n = len(draws)
    counts = np.bincount(draws, minlength=len(probs)) / n
    order = np.argsort(-probs, kind="stable")[:top]
    x = np.arange(len(order))
    ax = _axes(ax)
    ax.bar(x, counts[order], color=KEPT, label=f"share of {n:,} draws")
    err = 2 * np.sqrt(probs[order] * (1 - probs[order]) / n)
    ax.errorbar(x, probs[order], yerr=err, fmt="o", color=THEORY, label="probability (±2 s.e.)")
    ax.set_xticks(x, [words[i] for i in order], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("frequency")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return ax


def plot_sweep(table, x: str = "temperature", quality: str = "rougeL", diversity: str = "distinct_2", title: str = ""):
    """Quality and diversity against ``x`` from a results table (one row per setting), two y axes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(table[x], table[quality], "o-", color=KEPT, label=quality)
    ax.set_xlabel(x)
    ax.set_ylabel(quality, color=KEPT)
    twin = ax.twinx()
    twin.plot(table[x], table[diversity], "s--", color=THEORY, label=diversity)
    twin.set_ylabel(diversity, color=THEORY)
    ax.set_ylim(bottom=0)
    twin.set_ylim(0, 1.05)  # distinct-n is a share
    # Below the axes, where no point can be: inside, a curve may pass anywhere.
    ax.legend(handles=ax.get_lines() + twin.get_lines(), loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _explorer_figure(words, logits, temperature, top_k, top_p, top):
    import matplotlib.pyplot as plt

    probs = next_token_probs(logits, temperature=temperature, top_k=top_k or None, top_p=top_p)
    fig, ax = plt.subplots(figsize=(7, 3))
    plot_distribution(
        words,
        probs,
        ax=ax,
        top=top,
        keep=probs > 0,
        title=f"T={temperature:g}, top_k={top_k or 'off'}, top_p={top_p:g}: "
        f"{int(np.sum(probs > 0))} tokens left, top word {probs.max():.2f}",
    )
    ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


class _Explorer:
    """Sliders plus a picture: the frontend shows the sliders if it can render widgets, else the picture."""

    def __init__(self, box, png: bytes):
        self.box, self.png = box, png

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs) or {}
        bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        bundle["text/plain"] = "Sampling explorer (open the notebook in JupyterLab for the sliders)"
        return bundle


def explorer(
    words: Sequence[str],
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    top: int = 12,
):
    """Sliders for temperature, top-k and top-p over a distribution; a static figure where widgets cannot show.

    In a Jupyter kernel it returns one object whose display carries both the widget and a PNG of
    the starting figure: a frontend with ipywidgets (JupyterLab, VS Code) draws the sliders, any
    other (nbval, nbconvert, GitHub) shows the PNG. Nothing is printed. Outside a kernel, or
    without ipywidgets, it draws the static figure with matplotlib and returns None.
    """
    try:
        import ipywidgets as widgets
        from IPython import get_ipython

        in_kernel = getattr(get_ipython(), "kernel", None) is not None
    except ImportError:
        in_kernel = False
    if not in_kernel:
        import matplotlib.pyplot as plt

        _explorer_figure(words, logits, temperature, top_k, top_p, top)
        plt.show()
        return None

    t_slider, k_slider, p_slider = _sliders(widgets, temperature, top_k, top_p)
    first = _png(_explorer_figure(words, logits, temperature, top_k, top_p, top))
    image = widgets.Image(value=first, format="png")

    def redraw(_change=None):
        image.value = _png(_explorer_figure(words, logits, t_slider.value, k_slider.value, p_slider.value, top))

    for slider in (t_slider, k_slider, p_slider):
        slider.observe(redraw, names="value")
    return _Explorer(widgets.VBox([t_slider, k_slider, p_slider, image]), first)


def _sliders(widgets, temperature: float, top_k: int, top_p: float) -> tuple:
    """The explorer's temperature (log scale), top-k and top-p sliders, updating on release."""
    style = {"description_width": "90px"}
    common = dict(style=style, continuous_update=False)
    return (
        widgets.FloatLogSlider(
            value=temperature, base=10, min=-1.3, max=0.7, step=0.01, description="temperature", **common
        ),
        widgets.IntSlider(value=top_k, min=0, max=50, description="top_k (0=off)", **common),
        widgets.FloatSlider(value=top_p, min=0.01, max=1.0, step=0.01, description="top_p", **common),
    )
