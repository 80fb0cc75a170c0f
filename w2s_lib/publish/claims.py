"""The claims scorecard: every paper claim the book tests, decided by a rule registered before the run.

Each claim has a fixed id (``C1``–``C8``, from the project's paper sheet) and one :class:`Rule` in
:data:`RULES`, written before any chapter ran it: the statement, the metric, the unit of replication,
the statistical test, the threshold each part's effect must clear, and the fewest seeds that may decide
it. A chapter hands its measured effects to :func:`decide` — the only place a verdict is computed — and
``w2s claims`` and the book's scorecard page read the records back. Nothing here is typed in by hand.

The decision, for every part of a claim:

- **t-interval over seeds** (effects: one number per seed): the Student-t 95% interval of the mean;
- **paired bootstrap over seeds × items** (effects: a seeds × items array of paired differences, both arms
  sharing seed and item): :func:`w2s_lib.metrics.paired_bootstrap_ci`.

A part holds when its interval's lower end lies above the part's threshold (0, or a stated margin); the
claim holds when every part holds and at least ``min_seeds`` seeds were run. Each part also reports the
smallest effect the run could have detected, ``(z_0.975 + z_0.80) · SE`` (5% two-sided, 80% power),
so a "does not hold" can be read as "absent" or "too noisy to tell". *Controls* — the same effect measured
with the paper's mechanism switched off — are decided part by part by the same test and shown beside the
claim. The control *shows the claim* (:attr:`ClaimResult.control_shows`, a warning that the effect does not
come from the mechanism) when every part it measures holds, just as the claim holds when every part holds:
for a claim like C2 ("a gain, and the gain grows with the gap") an arm whose gain is negative does not show
the claim however its loss varies with the gap. (Until 2026-12-02, 21:00 UTC any one control part that held
raised the warning; changed for C2's rule version 5, chapter 11, registered before the runs it decides.)
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field

import numpy as np

from w2s_lib import metrics
from w2s_lib.core import paths
from w2s_lib.core.artifacts import atomic_write_json
from w2s_lib.core.config import PRESETS
from w2s_lib.core.errors import W2SError, unknown

T_INTERVAL = "t-interval over seeds"
PAIRED_BOOTSTRAP = "paired bootstrap over seeds × items"
#: (z_{0.975} + z_{0.80}): the detectable effect is this many standard errors
DETECTABLE_Z = 1.959964 + 0.841621


@dataclass(frozen=True)
class Part:
    """One tested statement of a claim: ``effect > threshold`` (lower 95% bound above it)."""

    name: str
    statement: str
    threshold: float = 0.0


@dataclass(frozen=True)
class Rule:
    claim: str
    paper: str
    statement: str
    metric: str
    unit: str  # the unit of replication
    test: str  # T_INTERVAL or PAIRED_BOOTSTRAP
    parts: tuple[Part, ...]
    min_seeds: int

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        raise unknown(f"part of claim {self.claim}:", name, [p.name for p in self.parts])


RULES: dict[str, Rule] = {r.claim: r for r in (
    Rule("C1", "Burns", "naive finetuning on weak labels recovers part of the gap: PGR > 0",
         "median PGR over ladder pairs (test accuracy), naive loss", "seed", T_INTERVAL,
         (Part("pgr", "median PGR over pairs > 0"),), min_seeds=10),
    Rule("C2", "Burns", "the auxiliary confidence loss raises PGR over naive, more at larger weak–strong gaps",
         "median PGR over ladder pairs with a capability gap ≥ 0.05, confidence loss − naive", "seed", T_INTERVAL,
         (Part("gain", "median PGR, logconf − naive > 0"),
          # revised 2026-12-02 (was: gain at the largest rung distance − gain at one rung), again at 15:38 UTC (was: a
          # least-squares slope per seed on a three-pair ladder, ill-conditioned when a seed's gaps coincide) and at
          # 15:49 UTC (the ladder without a near-chance supervisor): each registered before the runs it decides
          # (chapter 11, *The gap axis*)
          Part("gain_grows", "within-seed pooled slope of each pair's gain on its capability gap (strong ceiling "
                             "− weak accuracy) > 0")), min_seeds=20),
    Rule("C3", "Burns", "bootstrapping through intermediate models beats direct supervision at the largest gap",
         "test accuracy of the strongest student, bootstrapped − direct, weakest supervisor", "seed", T_INTERVAL,
         (Part("boot_minus_direct", "accuracy, bootstrapped − direct > 0"),), min_seeds=10),
    Rule("C4", "Burns", "generative finetuning on task text before W2S training raises PGR",
         "median PGR over ladder pairs, with − without generative finetuning", "seed", T_INTERVAL,
         (Part("gain", "median PGR, generative finetuning − none > 0"),), min_seeds=5),
    Rule("C5", "Zhou", "chunk-level beam search guided by a small tuned/untuned pair lifts a strong model's gold "
         "reward above its own base and above best-of-N at a matched base-token budget, and the guided strong "
         "model ends above the small tuned guide alone (weak-to-strong)",
         "gold reward per prompt, paired over seeds × prompts", "seed × prompt", PAIRED_BOOTSTRAP,
         (Part("cbs_minus_base", "CBS − the strong base's own samples > 0"),
          Part("cbs_minus_bon", "CBS − best-of-N at the same base-token budget > 0"),
          Part("cbs_minus_small_tuned", "CBS-guided strong − the small tuned model alone > 0")), min_seeds=5),
    Rule("C6", "Lyu", "MACPO improves the strong student over iterations and ends above naive SFT and confident "
         "loss; the weak teachers improve too",
         "gold reward per test prompt, paired over seeds × prompts", "seed × prompt", PAIRED_BOOTSTRAP,
         (Part("student_improves", "student, last iteration − first > 0"),
          Part("vs_naive_sft", "student, MACPO − naive SFT > 0"),
          Part("vs_confident_loss", "student, MACPO − confident loss > 0"),
          Part("teachers_improve", "weak teachers, last iteration − first > 0")), min_seeds=5),
    Rule("C7", "Yang", "under a conflicting objective the student's new misalignments concentrate where the strong "
         "model knows and the weak one does not (deception score above the chance share of that area among the "
         "pairs the no-conflict student got right)",
         "deception score − chance share of S_k ∩ W_uk among the no-conflict student's aligned pairs",
         "seed", T_INTERVAL, (Part("excess", "deception score − conditional chance share > 0"),), min_seeds=5),
    Rule("C8", "Yang", "deception (its excess over the chance share) grows with the weak–strong capability gap, "
         "and bootstrapping through an intermediate model trained without the conflict lowers it",
         "excess deception score", "seed", T_INTERVAL,
         (Part("grows_with_gap", "excess at the largest gap − excess at the smallest gap > 0"),
          Part("bootstrap_lowers", "excess, direct − bootstrapped > 0")), min_seeds=5),
)}


@dataclass(frozen=True)
class PartResult:
    name: str
    statement: str
    estimate: float
    ci_low: float
    ci_high: float
    threshold: float
    detectable: float  # smallest true effect this run detects with 80% power
    holds: bool


@dataclass(frozen=True)
class ClaimResult:
    claim: str
    preset: str
    notebook: str
    seeds: tuple[int, ...]
    test: str
    parts: tuple[PartResult, ...]
    holds: bool
    reason: str  # why it does not hold ("" when it holds)
    controls: tuple[PartResult, ...] = field(default=())
    control_label: str = ""
    note: str = ""
    control_seeds: tuple[int, ...] = field(default=())  # the controls' seeds where they differ from ``seeds``

    @property
    def rule(self) -> Rule:
        return RULES[self.claim]

    @property
    def paper(self) -> str:
        return self.rule.paper

    @property
    def statement(self) -> str:
        return self.rule.statement

    @property
    def control_shows(self) -> bool | None:
        """Whether the mechanism-off arm shows the claim: every part it measures holds (None: no control)."""
        return all(p.holds for p in self.controls) if self.controls else None

    @property
    def value(self) -> float:  # the first part's estimate (the headline)
        return self.parts[0].estimate

    @property
    def ci(self) -> tuple[float, float]:
        return self.parts[0].ci_low, self.parts[0].ci_high


def _effect(part: Part, effects, test: str, n_seeds: int) -> PartResult:
    a = np.asarray(effects, dtype=float)
    if test == T_INTERVAL:
        if a.ndim != 1 or len(a) != n_seeds:
            raise W2SError(f"part {part.name!r} needs one effect per seed ({n_seeds}), got shape {a.shape}")
        if not np.isfinite(a).all():
            raise W2SError(f"part {part.name!r} has a non-finite effect: {a.tolist()}; drop or explain that seed")
        est, lo, hi = metrics.t_ci(a)
        se = metrics.t_se(a)
    else:
        if a.ndim != 2 or a.shape[0] != n_seeds:
            raise W2SError(f"part {part.name!r} needs a seeds × items array ({n_seeds} rows), got shape {a.shape}")
        est, lo, hi, se = metrics.paired_bootstrap_ci(a)
    holds = bool(np.isfinite(lo) and lo > part.threshold)
    return PartResult(part.name, part.statement, float(est), float(lo), float(hi), part.threshold,
                      float(DETECTABLE_Z * se), holds)


def evaluate(claim: str, effects: dict, seeds) -> tuple[tuple[PartResult, ...], bool, str]:
    """The verdict of ``claim``'s rule on ``effects`` (part name -> per-seed effects or seeds × items)."""
    if claim not in RULES:
        raise unknown("claim id", claim, RULES)
    rule = RULES[claim]
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise W2SError(f"claim {claim} needs the seeds it was measured over; got none")
    if len(set(seeds)) != len(seeds):
        raise W2SError(f"claim {claim}: seeds must be distinct, got {list(seeds)}")
    missing = [p.name for p in rule.parts if p.name not in effects]
    extra = [k for k in effects if k not in {p.name for p in rule.parts}]
    if missing or extra:
        raise W2SError(f"claim {claim} takes the parts {[p.name for p in rule.parts]}; "
                       f"missing {missing}, unknown {extra}")
    parts = tuple(_effect(p, effects[p.name], rule.test, len(seeds)) for p in rule.parts)
    failed = [p.name for p in parts if not p.holds]
    if len(seeds) < rule.min_seeds:
        return parts, False, f"{len(seeds)} seeds, the rule needs ≥ {rule.min_seeds}"
    if failed:
        return parts, False, "CI not above the threshold: " + ", ".join(failed)
    return parts, True, ""


def decide(claim: str, effects: dict, *, seeds, preset: str, notebook: str, controls: dict | None = None,
           control_label: str = "mechanism off", note: str = "", control_seeds=None) -> ClaimResult:
    """Decide ``claim`` by its registered rule and record the result (replacing the previous one).

    ``effects`` maps each of the rule's part names to the measured effects: one number per seed for a
    t-interval rule, a seeds × items array of paired differences for a paired-bootstrap rule.
    ``controls`` (optional) maps part names to the same effects measured with the mechanism switched off,
    over ``seeds`` or, where the control is defined on other seeds than the claim, over ``control_seeds``
    (a control never decides which seeds the claim is judged on).
    """
    if preset not in PRESETS:
        raise unknown("preset", preset, PRESETS)
    parts, holds, reason = evaluate(claim, effects, seeds)
    rule = RULES[claim]
    ctrl: tuple[PartResult, ...] = ()
    if controls:
        extra = [k for k in controls if k not in {p.name for p in rule.parts}]
        if extra:
            raise W2SError(f"claim {claim}: unknown control parts {extra}; parts are {[p.name for p in rule.parts]}")
        c_seeds = tuple(int(s) for s in (seeds if control_seeds is None else control_seeds))
        if len(set(c_seeds)) != len(c_seeds) or not c_seeds:
            raise W2SError(f"claim {claim}: control seeds must be distinct and not empty, got {list(c_seeds)}")
        ctrl = tuple(_effect(rule.part(k), v, rule.test, len(c_seeds)) for k, v in controls.items())
    seeds = tuple(int(s) for s in seeds)
    extra_seeds = c_seeds if ctrl and c_seeds != seeds else ()
    result = ClaimResult(claim, preset, notebook, seeds, rule.test, parts, holds, reason,
                         ctrl, control_label if ctrl else "", note, extra_seeds)
    atomic_write_json(_path(claim, preset), _to_json(result))
    return result


def _to_json(r: ClaimResult) -> dict:
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return clean(asdict(r))


def _from_json(data: dict) -> ClaimResult:
    def part(d):
        return PartResult(**{k: (float("nan") if v is None and k not in ("name", "statement", "holds") else v)
                             for k, v in d.items()})

    return ClaimResult(data["claim"], data["preset"], data["notebook"], tuple(data["seeds"]), data["test"],
                       tuple(part(p) for p in data["parts"]), bool(data["holds"]), data["reason"],
                       tuple(part(p) for p in data.get("controls", [])), data.get("control_label", ""),
                       data.get("note", ""), tuple(data.get("control_seeds", ())))


def _path(claim: str, preset: str):
    return paths.claims_dir() / f"{claim}.{preset}.json"


def load_all(preset: str | None = None) -> list[ClaimResult]:
    """Every recorded result (optionally of one preset), ordered by claim id then preset.

    A record that cannot be read (truncated, from an older format) is reported as unreadable in one line
    and left out rather than crashing the scorecard.
    """
    root = paths.claims_dir()
    found = []
    for file in sorted(root.glob("C*.json")) if root.exists() else []:
        try:
            result = _from_json(json.loads(file.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            print(f"claims: skipping unreadable record {file} ({type(exc).__name__}); re-run its chapter",
                  file=sys.stderr)  # stderr: `w2s claims --json` stays parseable
            continue
        if preset is None or result.preset == preset:
            found.append(result)
    return found


def table(preset: str | None = None):
    """The scorecard: one row per claim id (and preset), unrun claims included."""
    import pandas as pd

    results = load_all(preset)
    rows = []
    for claim, rule in RULES.items():
        mine = [r for r in results if r.claim == claim]
        for r in mine or [None]:
            first = r.parts[0] if r else None
            rows.append({
                "claim": claim, "paper": rule.paper, "statement": rule.statement,
                "preset": r.preset if r else "—",
                "rule": f"{rule.test}; every part's 95% CI above its threshold; ≥ {rule.min_seeds} seeds",
                "effect": first.name if r else "",
                "value": first.estimate if r else float("nan"),
                "ci95": f"[{first.ci_low:.3f}, {first.ci_high:.3f}]" if r else "",
                "detectable": first.detectable if r else float("nan"),
                "parts": "; ".join(f"{p.name} {p.estimate:+.3f} [{p.ci_low:+.3f}, {p.ci_high:+.3f}]"
                                   for p in r.parts) if r else "",
                "controls": "; ".join(f"{p.name} {p.estimate:+.3f} [{p.ci_low:+.3f}, {p.ci_high:+.3f}]"
                                      + (" (holds)" if p.holds else " (vanishes)")
                                      for p in r.controls)
                            + (f" ({len(r.control_seeds)} seeds)" if r.control_seeds else "") if r else "",
                "control": ("—" if r.control_shows is None else "shows the claim!" if r.control_shows
                            else "does not show the claim") if r else "",
                "seeds": len(r.seeds) if r else 0,
                "holds": ("yes" if r.holds else "no") if r else "not run",
                "reason": r.reason if r else "",
                "notebook": r.notebook if r else "",
            })
    return pd.DataFrame(rows)


def records(preset: str | None = None) -> list[dict]:
    """The JSON rows of ``w2s claims --json``: rule, seeds, every part with its CI and detectable effect."""
    out = []
    for r in load_all(preset):
        rule = r.rule
        out.append({"claim": r.claim, "paper": rule.paper, "statement": rule.statement, "preset": r.preset,
                    "rule": {"metric": rule.metric, "unit": rule.unit, "test": rule.test,
                             "min_seeds": rule.min_seeds,
                             "parts": [asdict(p) for p in rule.parts]},
                    "seeds": list(r.seeds), "holds": r.holds, "reason": r.reason, "control_shows": r.control_shows,
                    **{k: v for k, v in _to_json(r).items() if k in ("parts", "controls", "control_label", "note",
                                                                     "notebook", "control_seeds")}})
    return out
