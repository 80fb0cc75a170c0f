"""Claims v2: verdicts come from the registered rules only, checked here on hand-computed cases."""

import json

import numpy as np
import pytest
from scipy import stats

from w2s_lib import cli
from w2s_lib.core.errors import W2SError
from w2s_lib.publish import claims


def test_every_claim_has_one_rule_with_parts_and_a_seed_minimum():
    assert list(claims.RULES) == [f"C{i}" for i in range(1, 9)]
    for rule in claims.RULES.values():
        assert rule.parts and rule.min_seeds >= 5 and rule.test in (claims.T_INTERVAL, claims.PAIRED_BOOTSTRAP)
    assert claims.RULES["C3"].statement.startswith("bootstrapping through intermediate models beats")
    assert [p.name for p in claims.RULES["C5"].parts][-1] == "cbs_minus_small_tuned"


def test_t_interval_verdict_on_a_hand_case():
    effects = [0.1, 0.2, 0.3, 0.2, 0.2, 0.1, 0.3, 0.2, 0.2, 0.2]  # mean 0.2, sd 0.0667
    parts, holds, reason = claims.evaluate("C1", {"pgr": effects}, seeds=range(10))
    (p,) = parts
    half = stats.t.ppf(0.975, 9) * np.std(effects, ddof=1) / np.sqrt(10)
    assert p.estimate == pytest.approx(0.2) and p.ci_low == pytest.approx(0.2 - half)
    assert p.detectable == pytest.approx(claims.DETECTABLE_Z * np.std(effects, ddof=1) / np.sqrt(10))
    assert holds and reason == ""


def test_an_interval_touching_zero_does_not_hold():
    parts, holds, reason = claims.evaluate("C1", {"pgr": [0.3, -0.3] * 5}, seeds=range(10))
    assert not holds and "pgr" in reason and parts[0].ci_low < 0 < parts[0].ci_high


def test_too_few_seeds_never_hold_even_with_a_clear_effect():
    parts, holds, reason = claims.evaluate("C1", {"pgr": [0.5, 0.6, 0.55]}, seeds=[0, 1, 2])
    assert parts[0].holds and not holds and "needs ≥ 10" in reason


def test_every_part_must_hold():
    ok = [0.2] * 19 + [0.21]
    bad = [0.1, -0.1] * 10
    _, holds, reason = claims.evaluate("C2", {"gain": ok, "gain_grows": bad}, seeds=range(20))
    assert not holds and reason.endswith("gain_grows")


def test_paired_bootstrap_part_on_seeds_by_items():
    rng = np.random.default_rng(0)
    clear = 1.0 + rng.normal(0, 0.5, size=(5, 200))
    null = rng.normal(0, 0.5, size=(5, 200))
    effects = {"cbs_minus_base": clear, "cbs_minus_bon": clear, "cbs_minus_small_tuned": null}
    parts, holds, reason = claims.evaluate("C5", effects, seeds=range(5))
    assert parts[0].holds and parts[0].ci_low == pytest.approx(1.0, abs=0.1)
    assert not parts[2].holds and not holds and "cbs_minus_small_tuned" in reason
    with pytest.raises(W2SError, match="seeds × items"):
        claims.evaluate("C5", {k: v[0] for k, v in effects.items()}, seeds=range(5))


def test_bad_inputs_are_one_clear_error():
    with pytest.raises(W2SError, match="unknown claim id 'C9'"):
        claims.evaluate("C9", {}, seeds=[0])
    with pytest.raises(W2SError, match="needs the seeds"):
        claims.evaluate("C1", {"pgr": []}, seeds=[])
    with pytest.raises(W2SError, match="missing \\['pgr'\\]"):
        claims.evaluate("C1", {"pgrr": [1.0]}, seeds=[0])
    with pytest.raises(W2SError, match="non-finite"):
        claims.evaluate("C1", {"pgr": [1.0, float("nan")]}, seeds=[0, 1])
    with pytest.raises(W2SError, match="one effect per seed"):
        claims.evaluate("C1", {"pgr": [1.0, 2.0]}, seeds=[0, 1, 2])
    with pytest.raises(W2SError, match="distinct"):
        claims.evaluate("C1", {"pgr": [1.0, 2.0]}, seeds=[0, 0])


def test_decide_records_and_the_scorecard_reads_it(capsys):
    effects = [0.2 + 0.01 * i for i in range(10)]
    r = claims.decide("C1", {"pgr": effects}, seeds=range(10), preset="smoke", notebook="10_naive_w2s",
                      controls={"pgr": [0.01 * (-1) ** i for i in range(10)]}, control_label="random weak errors")
    assert r.holds and r.controls[0].holds is False
    card = claims.table("smoke")
    row = card[card.claim == "C1"].iloc[0]
    assert row.holds == "yes" and row.seeds == 10 and "vanishes" in row.controls
    assert set(card[card.claim != "C1"].holds) == {"not run"}
    assert cli.main(["claims", "--json", "--preset", "smoke"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["claim"] == "C1" and rec["rule"]["test"] == claims.T_INTERVAL and len(rec["seeds"]) == 10
    assert {"ci_low", "ci_high", "detectable", "holds"} <= set(rec["parts"][0])


def test_a_control_shows_the_claim_only_when_every_part_it_measures_holds(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("W2S_HOME", str(tmp_path))  # records of its own
    seeds = range(20)
    gain = [0.3 + 0.01 * (i % 3) for i in seeds]
    grows = [2.0 + 0.1 * (i % 4) for i in seeds]
    # C2's mechanism-off arm as measured in worlds 0, 2, 4, 5: the gain is negative (a loss), and the loss
    # shrinks in PGR units at larger gaps, so the slope part alone "holds" — the claim is not shown
    r = claims.decide("C2", {"gain": gain, "gain_grows": grows}, seeds=seeds, preset="smoke", notebook="11",
                      controls={"gain": [-0.9 - 0.01 * (i % 3) for i in seeds], "gain_grows": grows})
    assert r.holds and [p.holds for p in r.controls] == [False, True] and r.control_shows is False
    row = claims.table("smoke").set_index("claim").loc["C2"]
    assert row["control"] == "does not show the claim" and "gain_grows +2.150" in row["controls"]
    assert "(holds)" in row["controls"] and "(vanishes)" in row["controls"]
    # both parts hold in the control: the warning
    r = claims.decide("C2", {"gain": gain, "gain_grows": grows}, seeds=seeds, preset="smoke", notebook="11",
                      controls={"gain": gain, "gain_grows": grows})
    assert r.control_shows is True
    assert claims.table("smoke").set_index("claim").loc["C2", "control"] == "shows the claim!"
    assert cli.main(["claims", "--json", "--preset", "smoke"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["claim"] == "C2" and rec["control_shows"] is True
    # no control measured
    r = claims.decide("C2", {"gain": gain, "gain_grows": grows}, seeds=seeds, preset="smoke", notebook="11")
    assert r.control_shows is None and claims.table("smoke").set_index("claim").loc["C2", "control"] == "—"


def test_an_unreadable_record_is_skipped_with_one_line(capsys):
    claims.decide("C1", {"pgr": [0.2] * 9 + [0.3]}, seeds=range(10), preset="smoke", notebook="x")
    path = claims._path("C1", "smoke")
    path.write_text(path.read_text()[:20])
    assert claims.load_all("smoke") == []
    assert "unreadable record" in capsys.readouterr().err


def test_no_notebook_computes_a_verdict_itself():
    from pathlib import Path

    for nb in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "code":
                assert "holds =" not in src and "claims.register" not in src, f"{nb.name} decides a claim itself"


def test_a_control_measured_on_other_seeds_is_recorded_with_them(capsys):
    r = claims.decide("C4", {"gain": [0.1, 0.2, 0.15, 0.12, 0.18]}, seeds=range(5), preset="smoke", notebook="13",
                      controls={"gain": [0.01, -0.02, 0.0]}, control_seeds=[0, 3, 4])
    assert r.holds and r.seeds == (0, 1, 2, 3, 4) and r.control_seeds == (0, 3, 4)
    assert claims.load_all("smoke")[0].control_seeds == (0, 3, 4)
    assert "(3 seeds)" in claims.table("smoke").set_index("claim").loc["C4", "controls"]
    assert cli.main(["claims", "--json", "--preset", "smoke"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["control_seeds"] == [0, 3, 4]
    with pytest.raises(W2SError, match="one effect per seed \\(3\\)"):
        claims.decide("C4", {"gain": [0.1] * 5}, seeds=range(5), preset="smoke", notebook="13",
                      controls={"gain": [0.0, 0.1]}, control_seeds=[0, 1, 2])
    with pytest.raises(W2SError, match="control seeds must be distinct"):
        claims.decide("C4", {"gain": [0.1] * 5}, seeds=range(5), preset="smoke", notebook="13",
                      controls={"gain": [0.0, 0.1]}, control_seeds=[1, 1])
