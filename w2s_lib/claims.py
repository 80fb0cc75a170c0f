"""The claims scorecard: what the repository reproduces today, claim by claim.

Each paper claim the book tests has a fixed id (``C1``–``C8``, from the project's paper sheet). A
chapter that tests a claim calls :func:`register` with what it measured; ``w2s claims`` and the book's
scorecard page read them back. A claim not yet run shows as such; nothing here is typed in by hand.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

from . import paths
from .artifacts import atomic_write_json
from .config import PRESETS
from .errors import W2SError, unknown

CLAIMS: dict[str, tuple[str, str]] = {
    "C1": ("Burns", "naive finetuning on weak labels recovers part of the gap: PGR > 0"),
    "C2": ("Burns", "the auxiliary confidence loss raises PGR over naive, more at larger weak–strong gaps"),
    "C3": ("Burns", "bootstrapping through intermediate models does at least as well as direct supervision at the largest gap"),
    "C4": ("Burns", "generative finetuning on task text before W2S training raises PGR"),
    "C5": ("Zhou", "chunk-level beam search guided by a small tuned/untuned pair lifts a strong model's gold reward above its own base and above best-of-N at a matched base-token budget"),
    "C6": ("Lyu", "MACPO improves the strong student over iterations and ends above naive SFT and confident loss; the weak teachers improve too"),
    "C7": ("Yang", "under a conflicting objective the student's new misalignments concentrate where the strong model knows and the weak one does not (deception score above the chance share of that area)"),
    "C8": ("Yang", "deception grows with the weak–strong capability gap, and bootstrapping through an intermediate model lowers it"),
}


@dataclass(frozen=True)
class ClaimResult:
    claim: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    seeds: tuple[int, ...]
    holds: bool
    preset: str
    notebook: str
    note: str = ""

    @property
    def paper(self) -> str:
        return CLAIMS[self.claim][0]

    @property
    def statement(self) -> str:
        return CLAIMS[self.claim][1]


def _path(claim: str, preset: str):
    return paths.claims_dir() / f"{claim}.{preset}.json"


def register(
    claim: str,
    *,
    metric: str,
    value: float,
    ci: tuple[float, float],
    seeds: list[int] | tuple[int, ...],
    holds: bool,
    preset: str,
    notebook: str,
    note: str = "",
) -> ClaimResult:
    """Record what a chapter measured for ``claim`` at ``preset`` (replaces the previous record)."""
    if claim not in CLAIMS:
        raise unknown("claim id", claim, CLAIMS)
    if preset not in PRESETS:
        raise unknown("preset", preset, PRESETS)
    if not seeds:
        raise W2SError(f"claim {claim} needs the seeds it was measured over; got none")
    for name, number in (("value", value), ("ci low", ci[0]), ("ci high", ci[1])):
        if not isinstance(number, (int, float)) or math.isinf(number):
            raise W2SError(f"claim {claim} {name} must be a finite number or nan, got {number!r}")
    result = ClaimResult(claim, metric, float(value), float(ci[0]), float(ci[1]), tuple(int(s) for s in seeds),
                         bool(holds), preset, notebook, note)
    atomic_write_json(_path(claim, preset), asdict(result))
    return result


def load_all(preset: str | None = None) -> list[ClaimResult]:
    """Every registered result (optionally of one preset), ordered by claim id then preset."""
    root = paths.claims_dir()
    found = []
    for file in sorted(root.glob("C*.json")) if root.exists() else []:
        data = json.loads(file.read_text())
        data["seeds"] = tuple(data["seeds"])
        result = ClaimResult(**data)
        if preset is None or result.preset == preset:
            found.append(result)
    return found


def table(preset: str | None = None):
    """The scorecard: one row per claim id (and preset), unrun claims included."""
    import pandas as pd

    results = load_all(preset)
    rows = []
    for claim, (paper, statement) in CLAIMS.items():
        mine = [r for r in results if r.claim == claim]
        for r in mine or [None]:
            rows.append({
                "claim": claim, "paper": paper, "statement": statement,
                "preset": r.preset if r else "—",
                "metric": r.metric if r else "",
                "value": r.value if r else float("nan"),
                "ci95": f"[{r.ci_low:.3f}, {r.ci_high:.3f}]" if r else "",
                "seeds": len(r.seeds) if r else 0,
                "holds": ("yes" if r.holds else "no") if r else "not run",
                "notebook": r.notebook if r else "",
            })
    return pd.DataFrame(rows)
