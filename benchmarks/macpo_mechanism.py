"""Chapter 30, round 3: is MACPO's mechanism present in the tiny world? Ground-truth diagnostics that decide the
settings, measured before any claim run of this round.

Written before running (2026-12-03 00:49 UTC, the commit's time). World 0, helpful task, the chapter's configuration (unaligned
student, reworded test), seed 0 (seed 1 too where noted); the chapter's cached MACPO steps are reused. Every
quantity below is a ground-truth measurement (gold facts / gold reward); none is a C6 part.

D1 — does naive SFT inherit the teachers' wrong facts? The paper's naive-SFT baseline is trained on the weak
teachers' responses to convergence; ours ran 2 epochs. For naive SFT at ``sft.epochs`` = 2 and 6 (lr 5e-4, batch
16; the student's targets are both teachers' first samples), on the reworded test's fact questions: the share of
the student's greedy answers with the right fact, and the share that state a wrong value some teacher's target
stated for that fact (inherited); the unaligned student's right-fact share on the same prompts for reference.
And the converge check: the share of half B's fact prompts whose greedy answer states the value of one of its
targets (fit). Reading: naive SFT "to convergence" = the smaller of {2, 6} epochs whose fit is within 0.05 of the
fit at 6 (6 is the most the budget affords); the chapter's naive SFT (and the confident loss after it) takes
that many epochs. Recorded with it: inherited error share (the paper's premise is that it is clearly > 0).

D2 — do MACPO's positives carry correct facts? Iteration 1, the student's positives (lowest perplexity among the
teachers' samples) against the naive-SFT targets (the teachers' first samples): right-fact share and both-right
share on the fact prompts. Recorded (no setting depends on it).

D3 — can a teacher learn facts at a given update budget? Each teacher from its SFT initialisation, SFT on the
*gold* answers (half B's ``chosen``, which MACPO never sees) at (lr, epochs) = (3e-4, 1) [the current update],
(1e-3, 4), (1e-3, 8); change of test gold (reworded test, greedy) over the initialisation, per teacher.
Reading: the teachers' per-iteration MACPO update takes the smallest budget of the three whose gold-SFT gain is
≥ +0.10 for both teachers (lr → ``teacher_lr``, epochs → ``teacher_epochs``); if none, the current update stays
and arrow (b) is reported as not buildable at this scale.

D4 — which student responses should a teacher learn from? After the student's iteration-1 update, on half B's
fact prompts: right-fact and both-right shares of the student's greedy answer and of its samples (temperature
0.7), against each teacher's own greedy answer (its initialisation). Reading: the teachers' candidates include
the student's greedy answer (``teacher_candidates="greedy+samples"``) if the greedy answer's both-right share
beats the samples' by ≥ 0.05; else samples only (as now).

Round 1 result (seed 0, ``macpo_mechanism_results.json``): D1 fit 0.53 (2 epochs) / 0.57 (6): within 0.05, naive SFT
stays at 2 epochs (inherited wrong facts 0.03 / 0.05 of the test's fact questions; 0.29 have a wrong target; right
fact 0.58 / 0.48 against the unaligned student's 0.68). D2 positives right fact 0.54, both 0.52 against the naive
targets' 0.42 / 0.38. D3 gold-SFT gains: ``tinygpt-s`` −0.046 / −0.044 / −0.008, ``tinygpt-m`` +0.075 / +0.126 /
+0.113: no budget moves both teachers by +0.10. D4: the student's greedy answers both right 0.26 (right fact 0.71)
against its samples' 0.12 (0.56): greedy adopted for the teachers' candidates.

Round 2, written after round 1's numbers and before running (2026-12-03, see the commit's time). Round 1 says a
teacher that SFT on the gold answers cannot move will not show "the teachers improve" whatever MACPO gives it, and
``tinygpt-s`` is such a rung. So:

- R2-a (the teacher set): a weak rung is a teacher only if SFT on the gold answers moves it by ≥ +0.10 at one of
  D3's budgets on both seed 0 and seed 1 (D3 re-run at seed 1); its update budget is the smallest budget that does
  so on both seeds. If no rung qualifies, the teachers stay (``tinygpt-s``, ``tinygpt-m``) at the current update.
- R2-b (candidates per agent): with R2-a's teacher set, the share of the student's iteration-1 positives (lowest
  perplexity under its initialisation among the teachers' samples) with the right fact and form on half B's fact
  prompts, at ``n_samples`` 2 and 4, seeds 0 and 1; 4 is adopted if the share rises by ≥ 0.05 on average, else 2.
- R2-c: D1 (naive SFT's epochs) and D4 are re-measured with the adopted settings, seeds 0 and 1, and their
  round-1 readings decide again (D1 on the mean fit over the two seeds).

Round 2 result (``seed0_r2`` / ``seed1_r2`` and ``seed1`` in the results file): R2-a — SFT on the gold answers,
``tinygpt-m`` +0.126 / +0.098 at (1e-3, 4 epochs) and +0.113 / +0.109 at (1e-3, 8) on seeds 0 / 1; ``tinygpt-s``
+0.051 / +0.021 / −0.024 at seed 1 (−0.046 / −0.044 / −0.008 at seed 0): the teacher set is (``tinygpt-m``,), its
update lr 1e-3 for 8 epochs. R2-b — positives both right 0.529 / 0.535 (seed 0, n_samples 2 / 4), 0.560 / 0.572
(seed 1): +0.009 on average, 2 samples stay. R2-c — D1 fit 0.488 → 0.541 (seed 0), 0.446 → 0.590 (seed 1) from 2 to
6 epochs: mean 0.467 → 0.566, not within 0.05, so naive SFT takes 6 epochs (inherited wrong facts at test 0.00 /
0.00 at 2 epochs, 0.00 / 0.02 at 6; only 0.15–0.16 of the test's facts have a wrong target with this teacher;
right fact 0.60 → 0.51 and 0.66 → 0.66). D2 with one teacher: positives right fact 0.55 / 0.57 against the naive
targets' 0.52 / 0.54. D4: the student's greedy answers both right 0.24 / 0.20 against its samples' 0.11 / 0.12:
greedy kept. Adopted in the tiny preset: teachers (``tinygpt-m``,), ``teacher_lr`` 1e-3, ``teacher_epochs`` 8,
``teacher_candidates`` greedy+samples, ``naive_epochs`` 6, ``n_samples`` 2.

Cost (measured on seed 9, not a claim seed, before the claim run): MACPO + naive SFT + confident loss ≈ 79 s CPU
per helpful seed (the teacher's 8-epoch DPO 39 s of it), against ≈ 56 s before: the chapter will exceed its
300 s budget (estimate ≈ 450–520 s).

Registration of the claim run (written before it, 2026-12-03, the commit's time). Chapter 30 at the tiny preset
with the settings above and nothing else changed (seeds 0–4 on the helpful task, the harmless task on seed 0,
baselines as before), run once in world 0 and once in world 1 (``W2S_WORLD_SEED=1``), each from a cache holding
only the zoo, timed with ``/usr/bin/time -v``. C6 is decided by the library's unchanged rule (``claims.decide``:
paired bootstrap over seeds × test prompts, every part's 95% CI above zero, ≥ 5 seeds) and reported whatever it
says; no setting or seed changes after either run. Reported with it, descriptively (no verdict): the inherited
wrong-value share of naive SFT and of MACPO's iteration-3 student at test, the positives' right-fact share against
the naive targets', and the harmless task's benign-refusal share from the start through iteration 3.

Claim run result (``claim_round3`` in the results file; chapter 30 once per world, as registered): C6 does not
hold. World 0: iter3 − iter1 +0.086 [−0.001, +0.164]; − naive SFT −0.127 [−0.240, −0.021]; − confident loss −0.124
[−0.229, −0.031]; teachers −0.197 [−0.290, −0.109]. World 1: +0.086 [+0.023, +0.143]; −0.070 [−0.159, +0.020];
−0.059 [−0.178, +0.051]; −0.102 [−0.169, −0.024]. CPU 593 s (world 0) and 617 s (world 1), the two run at once.
Read after the verdict (no setting changed): the teacher's positives — the student's answers after its first
update — have the right fact more often than its own samples (0.65 against 0.51, world 0) but the right form far
less often (0.52 against 0.70); at 8 epochs of lr 1e-3 it learns that form (its samples' right form 0.70 → 0.38–0.44)
and its test reward falls 0.57 → 0.34–0.37. D4 had measured the teacher's own greedy answers right in both on
0.55–0.58 against the student's greedy 0.20–0.24, but its reading compared the student's greedy answers only with
the student's samples. A round 4 would have to gate arrow (b) on the positives beating the teacher's own answers.
After the verdict, from the claim runs' cache (``after_verdict_arrow_b``; seeds 0–4, half B's fact prompts): the
student's greedy answers after iterations 1 / 2 / 3 are right in fact and form on 0.23 / 0.34 / 0.34 (world 0) and
0.31 / 0.42 / 0.48 (world 1), never above the teacher's own initial samples (0.49 / 0.53); right fact 0.62 / 0.63 /
0.58 against 0.51 (world 0) and 0.52–0.55 against 0.56 (world 1). In this world the student is never a better
teacher than the teacher: its knowledge edge in answers (unaligned, right fact 0.69 / 0.81 at test) is small and
shrinks as it learns the teacher's form.

Not adopted (2026-12-03, after the claim run): round 3 came out worse than round 2 in both worlds, so the tiny
preset is restored to round 2's settings (teachers ``tinygpt-s`` + ``tinygpt-m``, every agent updated like the
student, candidates the samples only, naive SFT ``sft.epochs``) and round 2 stays chapter 30's world; the four
knobs stay in the library at defaults that leave round 2's run ids unchanged. ``chapter_cfg`` therefore gives round
2's settings now; the claim run and the after-verdict reading above used round 3's settings, which ``--set '{"teachers":
["tinygpt-m"], "teacher_lr": 1e-3, "teacher_epochs": 8.0, "teacher_candidates": "greedy+samples", "naive_epochs": 6.0}'``
reproduces (same run ids as round 3's preset; write the epochs as floats — ``8`` hashes to another run id).

    python benchmarks/macpo_mechanism.py --out benchmarks/macpo_mechanism_results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from w2s_lib.data.tinyworld import scorers
from w2s_lib.data.tinyworld.world import current_world_seed
from w2s_lib.macpo import loop as macpo
from w2s_lib.macpo.loop import MACPOConfig

# the chapter as these readings ran: round 2's update (the tiny preset took round 5's in 2026-12-04; same run ids);
# macpo_knowledge_areas, macpo_teacher_learning and macpo_decoding read it from here
CHAPTER = {"student_init": "unaligned", "test_set": "reworded", "dpo.lr": 3e-4, "dpo.epochs": 1.0,
           "teachers": ("tinygpt-s", "tinygpt-m"), "students": ("tinygpt-l",)}  # round 2's update, teachers and student


def chapter_cfg(seed: int, **kw) -> MACPOConfig:
    return MACPOConfig.for_preset("tiny", CHAPTER, task="helpful", seed=seed, **kw)


def stated(prompt: str, response: str) -> tuple[tuple[str, str] | None, set[str]]:
    """((entity, attribute) asked about, values of that attribute the response states)."""
    kb = scorers.world(current_world_seed()).facts
    user = scorers._last_user_turn(prompt)
    e = scorers._entity_in(user, kb)
    cues = [scorers.ATTRIBUTE_CUES[w] for w in scorers._words(user) if w in scorers.ATTRIBUTE_CUES]
    if e is None or not cues:
        return None, set()
    return (e, cues[0]), scorers.values_mentioned(response).get(cues[0], set())


def shares(pairs) -> dict:
    v = [macpo.fact_and_form(p, r) for p, r in pairs]
    return {"right_fact": float(np.mean([f for f, _ in v])), "both": float(np.mean([f and g for f, g in v])), "n": len(v)}


def naive(cfg: MACPOConfig, epochs: float):
    """Naive SFT (as :func:`macpo.naive_sft`: both teachers' first samples) for ``epochs`` epochs."""
    if epochs == cfg.sft.epochs:
        return macpo.naive_sft(cfg)
    v = cfg.replace(sft=dataclasses.replace(cfg.sft, epochs=epochs))
    prompts = macpo.splits(cfg)[1]["prompt"]
    weak = macpo.weak_responses(cfg)
    ex = lambda model, tok: ([p for _ in cfg.teachers for p in prompts], [r for t in cfg.teachers for r in weak[t]])
    st = cfg.students[0]
    return macpo.fit_step(v, "diag_naive", st, 0, macpo.init_agent(cfg, st).path / "model", macpo.sft_fit(v, ex, cfg.seed))


def d1(cfg: MACPOConfig) -> dict:
    kb = scorers.world(current_world_seed()).facts
    half_b = macpo.splits(cfg)[1]
    weak = macpo.weak_responses(cfg)
    wrong, targets = {}, {}
    for i, p in enumerate(half_b["prompt"]):
        key, _ = stated(p, "")
        if key is None:
            continue
        for t in cfg.teachers:
            _, vals = stated(p, weak[t][i])
            targets.setdefault(key, set()).update(vals)
            wrong.setdefault(key, set()).update(vals - {kb[key[0]][key[1]].lower()})
    out = {}
    unaligned = macpo.eval_rows(macpo.init_agent(cfg, cfg.students[0]))
    for name, rows in [("unaligned", unaligned)] + [(f"naive_{int(ep)}ep", macpo.eval_rows(naive(cfg, ep))) for ep in (2.0, 6.0)]:
        facts = [(r["prompt"], r["response"]) for r in rows if stated(r["prompt"], "")[0] is not None]
        inh = [bool(stated(p, r)[1] & wrong.get(stated(p, "")[0], set())) for p, r in facts]
        out[name] = {**shares(facts), "inherited": float(np.mean(inh)),
                     "test_prompts_with_a_wrong_target": float(np.mean([bool(wrong.get(stated(p, "")[0])) for p, _ in facts]))}
    for ep in (2.0, 6.0):  # fit to the training targets (half B's fact prompts)
        from w2s_lib.models import zoo
        st = cfg.students[0]
        model = macpo._load(naive(cfg, ep).path / "model", cfg)
        prompts = [p for p in half_b["prompt"] if stated(p, "")[0] is not None]
        greedy = macpo.generate(model, zoo.load_tokenizer(st), prompts, cfg, 0, greedy=True)
        out[f"naive_{int(ep)}ep"]["fit"] = float(np.mean([bool(stated(p, r)[1] & targets.get(stated(p, "")[0], set()))
                                                          for p, r in zip(prompts, greedy)]))
    return out


def d2(cfg: MACPOConfig) -> dict:
    half_b = macpo.splits(cfg)[1]
    prompts = half_b["prompt"]
    fact = [i for i, p in enumerate(prompts) if stated(p, "")[0] is not None]
    rows = [json.loads(x) for x in (macpo.agent_step(cfg, cfg.students[0], 1).path / "pairs.jsonl").read_text().splitlines()]
    pos = [(r["prompt"], r["chosen"]) for r in rows if stated(r["prompt"], "")[0] is not None]
    weak = macpo.weak_responses(cfg)
    return {"positives_ppl": shares(pos), "naive_targets": shares([(prompts[i], weak[t][i]) for t in cfg.teachers for i in fact])}


def d3(cfg: MACPOConfig) -> dict:
    half_b = macpo.splits(cfg)[1]
    prompts, gold = list(half_b["prompt"]), list(half_b["chosen"])
    out = {}
    for t in cfg.teachers:
        init = macpo.init_agent(cfg, t)
        out[t] = {"init": init.result["gold_mean"]}
        for lr, ep in ((3e-4, 1.0), (1e-3, 4.0), (1e-3, 8.0)):
            stage = dataclasses.replace(cfg.sft, lr=lr, epochs=ep, batch_size=cfg.dpo.batch_size)
            v = cfg.replace(sft=stage)
            art = macpo.fit_step(v, "diag_gold_sft", t, 0, init.path / "model",
                                 macpo.sft_fit(v, lambda model, tok: (prompts, gold), cfg.seed + 1))
            out[t][f"lr{lr:g}_ep{ep:g}"] = art.result["gold_mean"] - out[t]["init"]
    return out


def d4(cfg: MACPOConfig) -> dict:
    from w2s_lib.models import zoo
    half_b = macpo.splits(cfg)[1]
    prompts = [p for p in half_b["prompt"] if stated(p, "")[0] is not None]
    idx = [i for i, p in enumerate(half_b["prompt"]) if stated(p, "")[0] is not None]
    st = cfg.students[0]
    model = macpo._load(macpo.agent_step(cfg, st, 1).path / "model", cfg)
    greedy = macpo.generate(model, zoo.load_tokenizer(st), prompts, cfg, 0, greedy=True)
    samples = macpo.generate_samples(cfg, st, 2)
    out = {"student_greedy": shares(zip(prompts, greedy)),
           "student_samples": shares([(half_b["prompt"][i], s[i]) for s in samples for i in idx])}
    for t in cfg.teachers:
        m = macpo._load(macpo.init_agent(cfg, t).path / "model", cfg)
        out[f"{t}_greedy"] = shares(zip(prompts, macpo.generate(m, zoo.load_tokenizer(t), prompts, cfg, 0, greedy=True)))
    return out


def r2b(cfg: MACPOConfig) -> dict:
    """R2-b: the student's iteration-1 positives (lowest perplexity under its initialisation) at n_samples 2 and 4."""
    from w2s_lib.models import zoo
    st = cfg.students[0]
    half_b = macpo.splits(cfg)[1]
    prompts = list(half_b["prompt"])
    model, tok = macpo._load(macpo.init_agent(cfg, st).path / "model", cfg), zoo.load_tokenizer(st)
    out = {}
    for n in (2, 4):
        c = cfg.replace(n_samples=n)
        cands = macpo.candidates(c, st, 1)
        scored = macpo.perplexities_many(model, tok, prompts, [[cands[a][i] for a in cands] for i in range(len(prompts))])
        ppl = {a: [row[k] for row in scored] for k, a in enumerate(cands)}
        pos = macpo.select_positives(ppl, cands, st)
        out[f"n{n}"] = shares([(p, r) for p, (_, r) in zip(prompts, pos) if stated(p, "")[0] is not None])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--only", default="d1,d2,d3,d4")
    ap.add_argument("--set", default="{}", help="JSON overrides of the chapter config (round 2)")
    ap.add_argument("--tag", default="", help="result key suffix")
    args = ap.parse_args()
    t0, res = time.process_time(), {}
    for seed in map(int, args.seeds.split(",")):
        cfg = chapter_cfg(seed, **json.loads(args.set))
        for name in args.only.split(","):
            res.setdefault(f"seed{seed}{args.tag}", {})[name] = globals()[name](cfg)
            print(seed, name, json.dumps(res[f"seed{seed}{args.tag}"][name], indent=1), flush=True)
    res["cpu_s"] = time.process_time() - t0
    if args.out:
        prev = json.loads(open(args.out).read()) if __import__("os").path.exists(args.out) else {}
        for k, v in res.items():
            prev[k] = {**prev.get(k, {}), **v} if isinstance(v, dict) else v
        open(args.out, "w").write(json.dumps(prev, indent=1))


if __name__ == "__main__":
    main()
