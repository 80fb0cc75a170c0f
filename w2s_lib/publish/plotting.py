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


def scorecard(ax, results):
    """Every claim part's effect and 95% CI against its rule's threshold, coloured by the part's verdict.

    ``results``: :class:`~w2s_lib.publish.claims.ClaimResult` records. Effects are in each claim's own
    units, so each row is read against its own threshold line (the tick mark at 0 unless stated).
    """
    import numpy as np

    rows = [(f"{r.claim} {p.name}", p) for r in results for p in r.parts]
    if not rows:
        ax.text(0.5, 0.5, "no claim recorded at this preset yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    y = np.arange(len(rows))[::-1]
    for yi, (_, p) in zip(y, rows):
        c = COLORS["ceiling"] if p.holds else COLORS["logconf"]
        lo = p.ci_low if np.isfinite(p.ci_low) else p.estimate
        hi = p.ci_high if np.isfinite(p.ci_high) else p.estimate
        ax.plot([lo, hi], [yi, yi], color=c, lw=2.5)
        ax.plot([p.estimate], [yi], "o", color=c)
        ax.plot([p.threshold], [yi], "|", color="black", ms=14)
    ax.axvline(0, color="#949494", lw=0.8, ls="--")
    ax.set_yticks(y, [label for label, _ in rows])
    ax.set_xlabel("effect (claim's own units) with 95% CI; | = threshold")
    from matplotlib.lines import Line2D

    ax.legend(handles=[Line2D([], [], color=COLORS["ceiling"], lw=2.5, label="part holds"),
                       Line2D([], [], color=COLORS["logconf"], lw=2.5, label="does not hold")],
              loc="lower right")
    return ax
