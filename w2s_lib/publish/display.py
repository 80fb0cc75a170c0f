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
    """The values of ``cfg_cls`` at each preset, as a DataFrame (rows: fields, columns: presets); a preset with
    values of its own for one task (``TASK_PRESET_VALUES``, e.g. MACPO's) adds a column ``"<preset> (<task>)"``."""
    import pandas as pd

    cols = {}
    for p in presets:
        cols[p] = cfg_cls.preset_values(p).flat_dict()
        for task, values in getattr(cfg_cls, "TASK_PRESET_VALUES", {}).get(p, {}).items():
            cols[f"{p} ({task})"] = cfg_cls.preset_values(p).replace(task=task, **values).flat_dict()
    return pd.DataFrame(cols).drop(index=["preset"])


#: myst-nb's mime prefix of a glued value that is not displayed (``myst_nb.ext.glue.GLUE_PREFIX``)
GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value, display: bool = False):
    """Record ``value`` under ``name`` for the book's ``{glue:text}`` roles: ``myst_nb.glue``'s record, written
    here instead of imported — ``myst_nb.glue`` imports nbformat and jsonschema, ≈ 1.8 s CPU in every chapter
    (``tests/test_publish.py`` checks the two records are the same). Numpy scalars become plain Python numbers
    first, so the page can format them (``{glue:text}`name:.3f```) — myst-nb cannot parse ``np.float64(…)``."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
