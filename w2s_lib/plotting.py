"""One plotting style for the whole book: ``set_style()`` once, fixed colours per role.

Every figure helper takes an ``ax`` (and returns it), so a notebook cell composes one figure.
"""

from __future__ import annotations

#: One colour per role, the same in every chapter (seaborn "colorblind" palette).
COLORS = {
    "weak": "#0173b2",
    "w2s": "#de8f05",
    "naive": "#de8f05",
    "ceiling": "#029e73",
    "strong": "#029e73",
    "logconf": "#d55e00",
    "product": "#cc78bc",
    "bootstrap": "#ca9161",
    "generative": "#fbafe4",
    "base": "#949494",
    "bon": "#56b4e9",
    "eft": "#ece133",
    "cbs": "#d55e00",
    "tuned": "#0173b2",
    "untuned": "#949494",
    "macpo": "#d55e00",
    "deception": "#d55e00",
    "chance": "#949494",
}


def color(role: str) -> str:
    return COLORS.get(role, "#333333")


def set_style() -> None:
    """The book's figure style (call once per notebook, in the setup cell)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.8),
        "figure.dpi": 110,
        "savefig.bbox": "tight",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titleweight": "bold",
        "legend.frameon": False,
    })


def bar_with_ci(ax, labels, values, lows=None, highs=None, roles=None, ylabel=""):
    """Bars with optional 95% CI whiskers; ``roles`` pick colours from :data:`COLORS`."""
    import numpy as np

    x = np.arange(len(labels))
    colors = [color(r) for r in (roles or labels)]
    ax.bar(x, values, color=colors)
    if lows is not None and highs is not None:
        values, lows, highs = map(np.asarray, (values, lows, highs))
        ax.errorbar(x, values, yerr=[values - lows, highs - values], fmt="none", ecolor="black", capsize=4, lw=1)
    ax.set_xticks(x, labels)
    ax.set_ylabel(ylabel)
    return ax
