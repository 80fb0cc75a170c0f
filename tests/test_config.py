from dataclasses import dataclass

import pytest

from w2s_lib.core.config import Config, knob, parse_override, resolve_preset
from w2s_lib.core.errors import W2SError


@dataclass(frozen=True)
class Demo(Config):
    lr: float = knob(1e-3, low=0.0, high=1.0)
    n: int = knob(10, low=1)
    loss: str = knob("xent", choices=("xent", "logconf"))
    sizes: tuple[int, ...] = knob((1, 2), low=1)
    batch_size: int = knob(32, low=1, affects_result=False)

    SLUG = "demo"
    PRESET_VALUES = {"tiny": {"n": 100}, "smoke": {"n": 5}}


def test_preset_values_and_overrides():
    cfg = Demo.for_preset("tiny", {"lr": 0.5})
    assert (cfg.preset, cfg.n, cfg.lr) == ("tiny", 100, 0.5)
    assert Demo.for_preset("colab").n == 10


def test_smoke_env_turns_tiny_into_smoke(monkeypatch):
    monkeypatch.setenv("W2S_SMOKE", "1")
    assert resolve_preset("tiny") == "smoke"
    assert resolve_preset("colab") == "colab"
    assert Demo.for_preset("tiny").n == 5


@pytest.mark.parametrize("overrides, needle", [
    ({"lrr": 0.1}, "unknown override for Demo: 'lrr'"),
    ({"lr": "fast"}, "Demo.lr must be of type float"),
    ({"lr": 2.0}, "out of range; allowed range is [0.0, 1.0]"),
    ({"n": 0}, "Demo.n = 0 is out of range"),
    ({"n": 2.5}, "Demo.n must be of type int"),
    ({"n": True}, "Demo.n must be of type int"),
    ({"loss": "mse"}, "choose one of: xent, logconf"),
    ({"sizes": (1, 0)}, "Demo.sizes = 0 is out of range"),
    ({"seed": -1}, "Demo.seed = -1 is out of range"),
])
def test_bad_overrides_are_one_line_errors(overrides, needle):
    with pytest.raises(W2SError) as exc:
        Demo.for_preset("tiny", overrides)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_preset():
    with pytest.raises(W2SError, match="unknown preset 'huge'; choose one of: colab, paper, smoke, tiny"):
        Demo.for_preset("huge")


def test_lists_become_tuples_and_int_is_a_float():
    cfg = Demo(sizes=[3, 4], lr=1)
    assert cfg.sizes == (3, 4) and hash(cfg)


def test_run_id_follows_result_fields_only():
    a = Demo.for_preset("tiny")
    assert a.run_id.startswith("demo-tiny-s0-")
    assert a.replace(batch_size=7).run_id == a.run_id
    assert a.replace(lr=0.2).run_id != a.run_id
    assert a.replace(seed=1).run_id.startswith("demo-tiny-s1-")
    assert Demo.for_preset("tiny").run_id == a.run_id  # stable


@pytest.mark.parametrize("text, expected", [
    ("lr=1e-4", ("lr", 1e-4)), ("seeds=[0,1,2]", ("seeds", [0, 1, 2])), ("preset=tiny", ("preset", "tiny")),
    ("force=True", ("force", True)), ("name='a=b'", ("name", "a=b")),
])
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["lr", "=3", "two words=1"])
def test_parse_override_malformed(text):
    with pytest.raises(W2SError, match="malformed parameter"):
        parse_override(text)


def test_a_field_added_later_keeps_old_run_ids_until_it_is_set():
    from dataclasses import dataclass

    from w2s_lib.core.config import Config, knob

    @dataclass(frozen=True)
    class Demo(Config):  # as it was first written
        width: int = knob(4)
        SLUG = "demo"

    old = Demo().run_id

    @dataclass(frozen=True)
    class Demo(Config):  # noqa: F811  (the same config after a field was added)
        width: int = knob(4)
        depth: int = knob(1, added_later=True)
        SLUG = "demo"

    assert Demo().run_id == old
    assert Demo(depth=2).run_id != old


# -- composed sections: the shared training vocabulary ------------------------------------------------------
import re  # noqa: E402

from w2s_lib.core.config import TrainStage  # noqa: E402


@dataclass(frozen=True)
class _TwoStages(Config):
    sft: TrainStage = TrainStage(lr=1e-4, epochs=1.0)
    dpo: TrainStage = TrainStage(lr=5e-6, epochs=3.0, beta=0.1)
    n: int = knob(10, low=1)
    SLUG = "two"
    PRESET_VALUES = {"tiny": {"dpo.lr": 1e-3, "sft": {"epochs": 2.0}}}


def test_sections_take_dotted_and_partial_dict_overrides_and_keep_the_rest():
    cfg = _TwoStages.for_preset("tiny", {"dpo.beta": 0.5, "sft": {"lr": 3e-4}})
    assert cfg.dpo == TrainStage(lr=1e-3, epochs=3.0, beta=0.5)  # preset lr kept, beta overridden
    assert cfg.sft == TrainStage(lr=3e-4, epochs=2.0)
    assert cfg.flat_dict()["dpo.lr"] == 1e-3 and cfg.to_dict()["sft"]["epochs"] == 2.0


def test_sections_round_trip_through_json_and_enter_the_run_id():
    import json

    cfg = _TwoStages.for_preset("tiny")
    again = _TwoStages(**json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.run_id == cfg.run_id
    assert cfg.replace(**{"dpo.beta": 0.2}).run_id != cfg.run_id
    assert cfg.replace(**{"dpo.beta": 0.1}).run_id == cfg.run_id


@pytest.mark.parametrize("overrides, message", [
    ({"dpo.lrr": 1e-5}, "unknown override for _TwoStages.dpo: 'lrr'"),
    ({"lr": 1e-5}, "_TwoStages keeps 'lr' in its"),
    ({"dpo.lr": -1.0}, "_TwoStages.dpo.lr = -1.0 is out of range"),
    ({"dpo": {"epochs": "two"}}, "_TwoStages.dpo.epochs must be of type float"),
    ({"n.lr": 1.0}, "_TwoStages.n has no knobs to set"),
    ({"dpo": 3}, "_TwoStages.dpo must be a TrainStage or a dict of its knobs"),
])
def test_bad_section_overrides_are_one_line_errors(overrides, message):
    with pytest.raises(W2SError, match=re.escape(message)):
        _TwoStages.for_preset("tiny", overrides)


def test_a_section_knob_that_does_not_change_results_round_trips_but_stays_out_of_the_run_id():
    import json
    from w2s_lib.core.config import Section

    @dataclass(frozen=True)
    class Eval(Section):
        batch_size: int = knob(8, low=1, affects_result=False)
        n: int = knob(3, low=1)

    @dataclass(frozen=True)
    class WithEval(Config):
        eval: Eval = Eval()

    cfg = WithEval().replace(**{"eval.batch_size": 64})
    assert WithEval(**json.loads(json.dumps(cfg.to_dict()))) == cfg  # nothing lost in config.json
    assert cfg.run_id == WithEval().run_id and cfg.replace(**{"eval.n": 4}).run_id != cfg.run_id
