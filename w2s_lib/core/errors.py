"""User-facing errors.

Every mistake a user can make (an unknown name, a bad override, a missing file, asking the hub while
offline) raises :class:`W2SError` with one line that says what is wrong and how to fix it. The CLI
prints that line and exits with status 2; notebooks show it as the cell's error.
"""

from __future__ import annotations

from collections.abc import Iterable


class W2SError(Exception):
    """A mistake in what the user asked for; the message is one line and names the fix."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def unknown(kind: str, name: object, choices: Iterable[object]) -> W2SError:
    """The error for a name that is not one of ``choices`` (datasets, models, presets, keys...)."""
    listed = ", ".join(sorted(str(c) for c in choices))
    return W2SError(f"unknown {kind} {name!r}; choose one of: {listed}")


class DivergedError(W2SError):
    """Training went numerically wrong (a non-finite or exploding loss); the message names the knob to lower."""


def _one_line_in_notebooks() -> None:
    """Inside IPython / Jupyter, show a :class:`W2SError` as its one line, not a 100-line traceback (the
    reply is still an error, so papermill and nbval see the cell fail). Nothing happens outside IPython."""
    import sys

    ipython = sys.modules.get("IPython")
    try:
        shell = ipython.get_ipython() if ipython is not None else None
    except Exception:  # pragma: no cover - a half-initialised IPython
        return
    if shell is None or getattr(shell, "_w2s_one_line", False):
        return

    def handler(self, etype, value, tb, tb_offset=None):
        line = [f"{etype.__name__}: {value}"]
        self._showtraceback(etype, value, line)
        return line

    shell.set_custom_exc((W2SError,), handler)
    shell._w2s_one_line = True


_one_line_in_notebooks()
