"""The baselines of MACPO's tables, in their simplest faithful forms on the tiny world.

Every baseline trains the strong student through MACPO's own code path (:func:`w2s_lib.macpo.loop.fit_step`
with :func:`~w2s_lib.macpo.loop.dpo_fit` or :func:`~w2s_lib.macpo.loop.sft_fit`): one cached, resumable run per
(method, iteration), evaluated exactly as MACPO's agents are (greedy responses to the test prompts, gold
reward). Only *where the pairs come from* differs:

============================  =====================================  ======================================
method (paper)                chosen                                 rejected
============================  =====================================  ======================================
SPIN (Chen et al., 2024)      the SFT data's response                the current student's own sample
Self-rewarding (Yuan et al.)  the student's higher self-judged of 2  the lower self-judged of its 2 samples
RLAIF (Bai/Lee et al.)        the weak teachers' preferred of 2      the other of the student's 2 samples
RLCD (Yang et al., 2024)      sample under a positive context        sample under a negative context
============================  =====================================  ======================================

The weak-to-strong baselines, naive SFT and the confident loss, live in :mod:`w2s_lib.macpo.loop`. Assumptions
this module makes (the tiny GPTs cannot follow a judging instruction, so every "judge" reads
log-probabilities instead of generating a verdict):

- the student's SFT data (SPIN's chosen side, the starting point of SPIN and self-rewarding) is the
  weak teachers' responses to half B's prompts — the only supervision a weak-to-strong student has;
  SPIN and self-rewarding start from the naive-SFT student, RLAIF and RLCD from the student's initial
  weights (as MACPO's student does: the unaligned student by default);
- self-rewarding's judge is the student's own mean token log-probability of a response (its own
  confidence that the response is what it should say), re-read by the current model every iteration;
- RLAIF's AI judge is the weak teachers' implicit reward, Σ log π_SFT(y|x) − Σ log π_base(y|x) averaged
  over teachers: how much their SFT on the labelled half moved them towards y;
- RLCD's contrastive prompts are few-shot contexts: ``n_demos`` labelled dialogues of half A with their
  chosen replies (positive) or their rejected replies (negative) before the prompt.
"""

from __future__ import annotations

import numpy as np
import torch

from w2s_lib.macpo import loop as macpo
from w2s_lib.core.artifacts import Artifact
from w2s_lib.core.errors import W2SError
from w2s_lib.macpo.loop import MACPOConfig, dpo_fit, fit_step, generate, naive_sft, pairs_dataset, splits, weak_responses

#: paper name → (function, iterations the paper's table reports); naive SFT / confident loss have no iterations
ITERATIONS = {"RLAIF": 1, "RLCD": 1, "SPIN": 2, "Self-rewarding": 3}
N_DEMOS = 2  # RLCD: labelled dialogues in each contrastive context


def _student(cfg: MACPOConfig, student: str | None) -> str:
    student = student or cfg.students[0]
    if student not in cfg.students:
        raise W2SError(f"unknown student {student!r}; this experiment's students are {list(cfg.students)}")
    return student


def _check_iteration(name: str, iteration: int) -> None:
    if iteration < 1:
        raise W2SError(f"{name} iterations start at 1, got {iteration}")


def _two_samples(model, tok, prompts: list[str], cfg: MACPOConfig, seed: int) -> tuple[list[str], list[str]]:
    return generate(model, tok, prompts, cfg, seed), generate(model, tok, prompts, cfg, seed + 7919)


def _mean_logprob(model, tok, prompts: list[str], responses: list[str]) -> np.ndarray:
    """Mean token log-probability of each response under ``model`` (−inf for an empty one)."""
    ppl = macpo.perplexities_many(model, tok, list(prompts), [[r] for r in responses])
    return -np.log(np.array([row[0] for row in ppl]))


def _ordered(prompts, a: list[str], b: list[str], score_a, score_b, **extra):
    """(prompt, higher-scored, lower-scored) pairs; ties and empty responses are dropped."""
    sa, sb = np.asarray(score_a, float), np.asarray(score_b, float)
    keep = [i for i in range(len(prompts)) if sa[i] != sb[i]]
    hi = [a[i] if sa[i] > sb[i] else b[i] for i in keep]
    lo = [b[i] if sa[i] > sb[i] else a[i] for i in keep]
    return pairs_dataset([prompts[i] for i in keep], hi, lo, **{k: [v[i] for i in keep] for k, v in extra.items()})


def spin(cfg: MACPOConfig, iteration: int, student: str | None = None) -> Artifact:
    """SPIN: the student learns to tell the SFT data's responses (chosen) from its own samples (rejected).

    Iteration t starts from iteration t − 1 (iteration 1 from the naive-SFT student); the SFT data's
    response for prompt i is weak teacher ``i mod n_teachers``'s sample (:func:`macpo.weak_responses`).
    The paper reports 2 iterations.
    """
    student = _student(cfg, student)
    _check_iteration("SPIN", iteration)
    src = (naive_sft(cfg, student) if iteration == 1 else spin(cfg, iteration - 1, student)).path / "model"

    def make_pairs(model, tok):
        prompts = splits(cfg)[1]["prompt"]
        weak = weak_responses(cfg)
        chosen = [weak[cfg.teachers[i % len(cfg.teachers)]][i] for i in range(len(prompts))]
        own = generate(model, tok, prompts, cfg, cfg.seed * 53 + iteration)
        return pairs_dataset(prompts, chosen, own)

    return fit_step(cfg, "spin", student, iteration, src, dpo_fit(cfg, make_pairs, cfg.seed + iteration))


def self_rewarding(cfg: MACPOConfig, iteration: int, student: str | None = None) -> Artifact:
    """Self-rewarding: the student samples two responses per prompt, judges them itself (its own mean token
    log-probability), and is trained by DPO on (preferred, dispreferred); iteration t starts from t − 1
    (iteration 1 from the naive-SFT student). The paper reports 3 iterations."""
    student = _student(cfg, student)
    _check_iteration("self-rewarding", iteration)
    src = (naive_sft(cfg, student) if iteration == 1 else self_rewarding(cfg, iteration - 1, student)).path / "model"

    def make_pairs(model, tok):
        prompts = splits(cfg)[1]["prompt"]
        a, b = _two_samples(model, tok, prompts, cfg, cfg.seed * 59 + iteration)
        return _ordered(prompts, a, b, _mean_logprob(model, tok, prompts, a), _mean_logprob(model, tok, prompts, b))

    return fit_step(cfg, "self_rewarding", student, iteration, src, dpo_fit(cfg, make_pairs, cfg.seed + iteration))


@torch.no_grad()
def teacher_reward(cfg: MACPOConfig, prompts: list[str], responses: list[str]) -> np.ndarray:
    """RLAIF's AI judge: the weak teachers' implicit reward Σ log π_SFT(y|x) − Σ log π_base(y|x), averaged over
    teachers (π_SFT = the teacher after its SFT on half A, π_base = its pretrained weights)."""
    from w2s_lib.models import zoo
    from w2s_lib.train.lm import sequence_logprobs

    total = np.zeros(len(prompts))
    for t in cfg.teachers:
        tok = zoo.load_tokenizer(t)
        tuned = macpo._load(macpo.init_agent(cfg, t).path / "model", cfg).eval()
        base = zoo.load_causal_lm(t).eval()
        seqs, starts, rows = [], [], []
        for i, (p, r) in enumerate(zip(prompts, responses)):
            p_ids, r_ids = tok(p, add_special_tokens=False)["input_ids"], tok(r, add_special_tokens=False)["input_ids"]
            if r_ids:  # an empty response scores 0
                seqs.append(p_ids + r_ids)
                starts.append(len(p_ids))
                rows.append(i)
        if rows:  # every (prompt, response) of the list in right-padded batches, one forward per batch
            diff = (sequence_logprobs(tuned, seqs, starts, pad_id=0, batch_size=64)[0]
                    - sequence_logprobs(base, seqs, starts, pad_id=0, batch_size=64)[0])
            total[rows] += diff.double().numpy()
    return total / len(cfg.teachers)


def rlaif(cfg: MACPOConfig, iteration: int = 1, student: str | None = None) -> Artifact:
    """RLAIF: the strong student (its initial weights) samples two responses per prompt, the weak teachers judge them
    (:func:`teacher_reward`), DPO on (preferred, dispreferred). One round, as in the paper's table."""
    student = _student(cfg, student)
    _check_iteration("RLAIF", iteration)
    src = macpo._agent_dir(cfg, student, 0) if iteration == 1 else rlaif(cfg, iteration - 1, student).path / "model"

    def make_pairs(model, tok):
        prompts = splits(cfg)[1]["prompt"]
        a, b = _two_samples(model, tok, prompts, cfg, cfg.seed * 61 + iteration)
        return _ordered(prompts, a, b, teacher_reward(cfg, prompts, a), teacher_reward(cfg, prompts, b))

    return fit_step(cfg, "rlaif", student, iteration, src, dpo_fit(cfg, make_pairs, cfg.seed + iteration))


def contrastive_contexts(cfg: MACPOConfig, n_demos: int = N_DEMOS) -> tuple[str, str]:
    """RLCD's (positive, negative) contexts: the first ``n_demos`` labelled dialogues of half A, answered with
    their chosen replies (positive) or their rejected replies (negative), one dialogue per line."""
    half_a = splits(cfg)[0]
    if len(half_a) < n_demos:
        raise W2SError(f"RLCD needs {n_demos} labelled dialogues in half A; raise n_labelled to ≥ {2 * n_demos}")
    rows = half_a.select(range(n_demos))
    pos = "".join(f"{p}{c}\n" for p, c in zip(rows["prompt"], rows["chosen"]))
    neg = "".join(f"{p}{r}\n" for p, r in zip(rows["prompt"], rows["rejected"]))
    return pos, neg


def rlcd(cfg: MACPOConfig, iteration: int = 1, student: str | None = None) -> Artifact:
    """RLCD: for each prompt the student (its initial weights) samples once after a positive context and once after a
    negative one (:func:`contrastive_contexts`); the pair (positive-context sample, negative-context sample)
    is labelled by construction and trained on with the plain prompt. One round, as in the paper's table."""
    student = _student(cfg, student)
    _check_iteration("RLCD", iteration)
    src = macpo._agent_dir(cfg, student, 0) if iteration == 1 else rlcd(cfg, iteration - 1, student).path / "model"
    pos_ctx, neg_ctx = contrastive_contexts(cfg)

    def make_pairs(model, tok):
        prompts = splits(cfg)[1]["prompt"]
        seed = cfg.seed * 67 + iteration
        good = generate(model, tok, [pos_ctx + p for p in prompts], cfg, seed)
        bad = generate(model, tok, [neg_ctx + p for p in prompts], cfg, seed)
        return pairs_dataset(prompts, good, bad)

    return fit_step(cfg, "rlcd", student, iteration, src, dpo_fit(cfg, make_pairs, cfg.seed + iteration))


METHODS = {"RLAIF": rlaif, "RLCD": rlcd, "SPIN": spin, "Self-rewarding": self_rewarding}


def run(cfg: MACPOConfig, student: str | None = None) -> list[dict]:
    """Every baseline at every iteration the paper reports (resuming whatever is cached): one row per
    (method, iteration) with the student's gold reward; the weak-to-strong baselines have iteration 0."""
    rows = []
    for name, fn in (("Naive SFT", macpo.naive_sft), ("Confident loss", macpo.confident_loss)):
        rows.append({"method": name, "iteration": 0, **fn(cfg, student).result})
    for name, fn in METHODS.items():
        for t in range(1, ITERATIONS[name] + 1):
            rows.append({"method": name, "iteration": t, **fn(cfg, t, student).result})
    return [{"seed": cfg.seed, "task": cfg.task, **r} for r in rows]


def artifact(cfg: MACPOConfig, method: str, iteration: int = 0, student: str | None = None) -> Artifact:
    """The cached run of ``method`` (a key of :data:`METHODS`, "Naive SFT", "Confident loss" or "MACPO")."""
    if method == "MACPO":
        return macpo.agent_step(cfg, _student(cfg, student), iteration)
    if method == "Naive SFT":
        return macpo.naive_sft(cfg, student)
    if method == "Confident loss":
        return macpo.confident_loss(cfg, student)
    if method not in METHODS:
        raise W2SError(f"unknown method {method!r}; choose MACPO, Naive SFT, Confident loss or one of {list(METHODS)}")
    return METHODS[method](cfg, iteration, student)
