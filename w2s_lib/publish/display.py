"""Small helpers notebooks use to show the reader the library instead of owning code."""

from __future__ import annotations

import inspect


def show_source(obj) -> object:
    """Display the source of a library function or class, highlighted (falls back to plain text)."""
    source = inspect.getsource(obj)
    try:
        from IPython.display import Code

        return Code(source, language="python")
    except ImportError:  # pragma: no cover - outside IPython
        print(source)
        return None


def config_table(cfg_cls, presets=("smoke", "tiny", "colab", "paper")):
    """The values of ``cfg_cls`` at each preset, as a DataFrame (rows: fields, columns: presets)."""
    import pandas as pd

    cols = {p: cfg_cls.preset_values(p).flat_dict() for p in presets}
    return pd.DataFrame(cols).drop(index=["preset"])


def glue(name: str, value, display: bool = False):
    """``myst_nb.glue`` for the book's numbers: numpy scalars become plain Python numbers first, so the
    page can format them (``{glue:text}`name:.3f```) — myst-nb cannot parse ``np.float64(…)``."""
    from myst_nb import glue as myst_glue

    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    return myst_glue(name, value, display=display)
