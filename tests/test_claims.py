import math

import pytest

from w2s_lib import claims, cli
from w2s_lib.errors import W2SError


def test_register_and_table(capsys):
    claims.register("C1", metric="median PGR (acc)", value=0.3, ci=(0.1, 0.5), seeds=[0, 1, 2], holds=True,
                    preset="smoke", notebook="01_naive")
    card = claims.table("smoke")
    row = card[card.claim == "C1"].iloc[0]
    assert row.holds == "yes" and row.seeds == 3 and row.ci95 == "[0.100, 0.500]"
    assert set(card[card.claim != "C1"].holds) == {"not run"}
    assert len(card) == len(claims.CLAIMS) == 8
    assert cli.main(["claims", "--json", "--preset", "smoke"]) == 0
    assert '"claim": "C1"' in capsys.readouterr().out


def test_register_rejects_bad_input():
    with pytest.raises(W2SError, match="unknown claim id 'C9'"):
        claims.register("C9", metric="m", value=1, ci=(0, 1), seeds=[0], holds=True, preset="tiny", notebook="x")
    with pytest.raises(W2SError, match="needs the seeds"):
        claims.register("C1", metric="m", value=1, ci=(0, 1), seeds=[], holds=True, preset="tiny", notebook="x")
    with pytest.raises(W2SError, match="finite number"):
        claims.register("C1", metric="m", value=math.inf, ci=(0, 1), seeds=[0], holds=True, preset="tiny",
                        notebook="x")
