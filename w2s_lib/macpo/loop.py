"""MACPO — multi-agent contrastive preference optimisation (Lyu et al., 2024/25), a first public implementation.

Weak teachers and strong students learn from each other over iterations:

1. **Initialisation** (:func:`init_agent`). The labelled training pairs of a task are split in two halves.
   Each weak teacher is fine-tuned (SFT, prompt → chosen) on half A; the strong students start from an
   *unaligned* version of their zoo checkpoint (:func:`unaligned_student`: it knows the world's facts but
   answers badly, like the paper's unaligned base models) and never see a label. Half B's *prompts* (no
   labels) drive the alignment.
2. **Each iteration t = 1…T**, for every agent (:func:`agent_step`):

   - every agent samples ``n_samples`` responses per alignment prompt (:func:`generate_samples`);
   - **mutual positive behaviour augmentation** — the agent's positive for a prompt is the response of
     another agent with the *lowest perplexity under the learning agent* (:func:`select_positives`):
     unfamiliar to its own sampling, but plausible to it. With ``positive_pool="cross"`` (default) the
     candidates cross the weak/strong line (:func:`candidates`): students choose among the teachers'
     samples, teachers among the students' samples drawn after the students' update (students train first);
   - **hard negative behaviour construction** — a copy of the agent is fine-tuned by SFT on the negative data (half A's *rejected* responses); its samples are the
     agent's familiar negative behaviour (:func:`negative_step`);
   - DPO (TRL, :func:`w2s_lib.train.preference.dpo_train`) of the agent on (positive, negative) pairs
     (``dpo_loss="sigmoid+sft"``: plus the NLL of the positive, as in iterative RPO).

3. **Evaluation**: the gold reward of each agent's greedy response on the test prompts (:func:`test_sets`:
   the task's held-out test, or with ``test_set="reworded"`` the alignment prompts' facts asked in another
   wording, the held-out test kept as a second measurement), after initialisation (iteration 0) and after
   every iteration.

Every step is its own cached run (:func:`w2s_lib.core.artifacts.load_or_run`) keyed by the experiment, the
agent and the iteration, so a run killed mid-iteration resumes at the first unfinished step.

Choices the paper leaves open, made here (and listed in the chapter):

- the negative copy is built once per agent from its initialisation and sampled afresh every iteration
  (``refresh_negative=True`` re-derives it from the agent as it stands each iteration, at one more SFT
  per agent per iteration);
- the negative data is half A's rejected responses, shared by all agents;
- perplexity is the per-token one, exp(mean NLL of the response given the prompt); empty responses and
  responses identical to the negative are never positives;
- ``n_samples`` sampled responses per agent per prompt (temperature ``temperature``, top-k ``top_k``), all
  of them candidates of the other agents' positives; the baselines use each agent's first sample;
- the loss: DPO, or (``dpo_loss="sigmoid+sft"``, the tiny preset) DPO plus the positive's NLL — plain DPO
  lowered the negatives without raising the positives in the tiny world (chapter 30's diagnostics);
- evaluation decodes greedily.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import torch

from w2s_lib import data
from w2s_lib.core.artifacts import Artifact, atomic_write_json, load_or_run
from w2s_lib.core.config import Config, TrainStage, knob, parse_overrides
from w2s_lib.data.tinyworld import scorers
from w2s_lib.data.tinyworld.world import current_world_seed
from w2s_lib.core.errors import W2SError
from w2s_lib.models import zoo
from w2s_lib.models.tinygpt import knows_entity
from w2s_lib.core.runtime import torch_threads
from w2s_lib.train.preference import quiet_training

def _helpfulness(prompt: str, response: str) -> float:
    return scorers.helpfulness(prompt, response, current_world_seed())


#: task → (registry dataset, gold reward of a (prompt, response)). helpful / harmless are MACPO's own
#: datasets (one row per unique prompt, with the unaligned student's replies; harmless balanced, scored by
#: ``harmless_balanced``: refusing a benign request costs).
TASKS = {
    "helpful": ("tiny_helpful_v2", _helpfulness),
    "harmless": ("tiny_harmless_v2", scorers.harmless_balanced),
    "safety": ("tiny_safety", scorers.harmlessness),
}
POSITIVES = ("perplexity", "random")


@dataclass(frozen=True)
class MACPOConfig(Config):
    """MACPO on one task: weak teachers and strong students aligning each other (Lyu et al.)."""

    task: str = knob("helpful", choices=tuple(TASKS), help="tiny-world task (dataset + gold reward)")
    teachers: tuple[str, ...] = knob(("tinygpt-xs", "tinygpt-s"), help="weak teachers (SFT on half A)")
    students: tuple[str, ...] = knob(("tinygpt-l",), help="strong students")
    student_init: str = knob("base", choices=("unaligned", "base"),
                             help="unaligned (chapter 30): the zoo student after a short SFT on the task's unaligned "
                                  "replies (knows the world, answers badly); base: the zoo checkpoint as it is")
    n_labelled: int = knob(128, low=4, help="labelled training pairs; half A → teacher SFT and negatives, half B → prompts")
    n_test: int = knob(48, low=1, help="test prompts for the gold evaluation")
    iterations: int = knob(3, low=1, help="MACPO iterations (paper: 3)", affects_result=False)
    max_new_tokens: int = knob(24, low=1, high=1024)
    temperature: float = knob(1.0, low=0.0, high=5.0, help="sampling temperature of the alignment responses")
    top_k: int = knob(0, low=0)
    lora: bool = knob(False, help="train LoRA adapters (colab/paper) instead of all weights")
    sft: TrainStage = knob(TrainStage(lr=5e-4, epochs=2.0, batch_size=16),
                           help="SFT of the teachers on half A (and of the negative copies, the naive-SFT baseline)")
    dpo: TrainStage = knob(TrainStage(lr=5e-4, epochs=2.0, batch_size=16, beta=0.1),
                           help="each agent's contrastive DPO pass per iteration (β = dpo.beta)")
    dpo_loss: str = knob("sigmoid", choices=("sigmoid", "sigmoid+sft"),
                         help="sigmoid: DPO; sigmoid+sft: DPO plus the NLL of the positive (RPO: the positive's own "
                              "likelihood must rise, not only the margin to the negative)")
    positive_pool: str = knob("cross", choices=("cross", "all"),
                              help="cross (the paper's 'learn from each other'): a student's positives come from the "
                                   "teachers' samples, a teacher's from the students' samples after their update in the "
                                   "same iteration; all: any other agent's samples of the iteration")
    refresh_negative: bool = knob(False, help="re-derive the negative copy from the current agent every iteration (else once, from the initial agent)")
    activation_checkpointing: bool = knob(False, help="recompute activations in backward (TRL's default; saves GPU memory, "
                                          "costs ~25% more time on the tiny CPU models)", affects_result=False)
    n_samples: int = knob(1, low=1, help="sampled responses per agent per alignment prompt (the candidates a learner's "
                                         "positive is chosen from; each agent's first sample is the one baselines use)")
    test_set: str = knob("heldout", choices=("heldout", "reworded"),
                         help="heldout: the task's test prompts (facts / requests no alignment prompt shows); reworded "
                              "(helpful task): held-out wordings of the alignment prompts' fact questions (same facts, "
                              "disjoint prompt strings), with the held-out test kept as a second measurement")
    alignment_people: str = knob("all", choices=("all", "known_to_a_teacher"), added_later=True,
                                 help="helpful task: whom the alignment prompts (half B) and so the reworded test ask "
                                      "about — anyone, or only people at least one weak teacher read about in "
                                      "pretraining, where the teachers' answers differ and the student's knowledge can "
                                      "pick the right one (benchmarks/macpo_knowledge_areas.py); half A (the teachers' "
                                      "SFT) takes the other rows first")
    confident_alpha: float = knob(0.5, low=0.0, high=1.0, help="confident loss: share of prompts whose target is the student's own greedy answer")
    naive_epochs: float = knob(0.0, low=0.0, added_later=True,
                               help="epochs of the naive-SFT baseline on the teachers' responses (0 = sft.epochs); the "
                                    "paper's baseline is trained to convergence (benchmarks/macpo_mechanism.py, D1)")
    teacher_lr: float = knob(0.0, low=0.0, added_later=True,
                             help="the weak teachers' MACPO update: learning rate (0 = dpo.lr)")
    teacher_epochs: float = knob(0.0, low=0.0, added_later=True,
                                 help="the weak teachers' MACPO update: epochs per iteration (0 = dpo.epochs); a budget "
                                      "that can move a tiny teacher (benchmarks/macpo_mechanism.py, D3)")
    init_lr: float = knob(0.0, low=0.0, added_later=True,
                          help="the SFTs that build agents from half A — each weak teacher's on the chosen replies, each "
                               "negative copy's on the rejected ones: learning rate (0 = sft.lr)")
    init_epochs: float = knob(0.0, low=0.0, added_later=True,
                              help="... and their epochs (0 = sft.epochs); trained to fit half A "
                                   "(benchmarks/macpo_init_fit.py)")
    precompute_ref: bool = knob(False, added_later=True,
                                help="DPO: the reference model's log-probabilities of the pairs computed once before "
                                     "training instead of in every step (one reference pass instead of one per epoch; "
                                     "the same values batched otherwise, so results can differ at float level)")
    teacher_candidates: str = knob("samples", choices=("samples", "greedy+samples"), added_later=True,
                                   help="cross pool: a teacher's candidates are the students' samples, or also each "
                                        "student's greedy answer (benchmarks/macpo_mechanism.py, D4)")

    SLUG = "macpo"
    PRESET_VALUES = {
        "smoke": {"teachers": ("tinygpt-xs",), "students": ("tinygpt-l-hazy-a", "tinygpt-l-hazy-b"), "n_labelled": 16, "n_test": 6, "max_new_tokens": 8,
                  "sft.epochs": 1.0, "dpo.epochs": 1.0, "sft.batch_size": 8, "dpo.batch_size": 8, "iterations": 2},
        # tiny = round 2 (the chapter's world): 200 labelled pairs for the teachers (half A), 200 alignment prompts
        # (half B), 100 unique test prompts; 20-token replies sampled at the colab/paper presets' temperature 0.7,
        # top-k 50; 13 DPO steps per agent per iteration. Chosen on seed-0 diagnostics of world 0 (chapter 30,
        # before the claim run): teachers tinygpt-s + tinygpt-m (tinygpt-xs, 1 layer, answered in the right form —
        # naming the person asked about — on 10-13% of the alignment prompts; s 37%, m 66%); 2 samples per agent
        # per prompt; DPO + the positive's NLL at lr 3e-4 (plain DPO at 1e-4 … 5e-4, 1–3 epochs, left the
        # unaligned student's form unchanged — 1-2% of its answers a sentence naming the person — and taught it
        # to repeat the bare value instead of stopping; with the NLL term at 3e-4, 35%).
        # Round 3 (measured, NOT adopted): benchmarks/macpo_mechanism.py's registered readings set one weak
        # teacher tinygpt-m ("teachers": ("tinygpt-m",)), its MACPO update at teacher_lr=1e-3 x teacher_epochs=8,
        # teacher_candidates="greedy+samples" and naive_epochs=6. Its registered claim run (chapter 30 once per
        # world, ~600 s CPU, twice round 2's): C6 does not hold — world 0 iter3-iter1 +0.086 [-0.001, +0.164],
        # -naive -0.127 [-0.240, -0.021], -confident -0.124 [-0.229, -0.031], teachers -0.197 [-0.290, -0.109];
        # world 1 +0.086 [+0.023, +0.143], -0.070 [-0.159, +0.020], -0.059 [-0.178, +0.051], teachers -0.102
        # [-0.169, -0.024]. Why: the teacher, updated at a budget that moves it, learns the student's bare-value
        # form and loses reward; naive SFT inherits only 1-3% wrong facts, so there is little for MACPO to avoid;
        # and D4's reading was flawed (it compared the student's greedy answers only with the student's samples,
        # never with the teacher's own samples, which they never beat in fact+form: 0.23-0.34 vs 0.49 in world 0,
        # 0.31-0.48 vs 0.53 in world 1). Numbers: benchmarks/macpo_mechanism_results.json. The knobs stay
        # (defaults keep every run id). Round 2 stayed the tiny preset until round 5 (below).
        # Round 5 (benchmarks/macpo_knowledge_areas.py, readings registered before they ran): round 2's update (lr 3e-4,
        # 1 epoch) fitted the student to its own positives on 0.33 of half B's fact questions (mean of seeds 0, 1 and
        # worlds 0, 1; the match of stated value and form); 3e-4 x 2 0.78, 1e-3 x 1 0.83, 1e-3 x 2 0.87, 1e-3 x 4 0.92:
        # every agent's MACPO update is trained to fit, at 1e-3 for 4 epochs (52 steps), the first budget within 0.05
        # of the best. Naive SFT's fit rises 0.90 -> 0.95 from 2 to 6 epochs (< 0.05 more): it stays at 2. The chapter
        # also keeps the alignment prompts to people a teacher read about (alignment_people, a chapter override).
        # Adopted before its claim run, which C6 does not pass (world 0: +0.008, +0.037, +0.063 holds, -0.007; world 1:
        # -0.008, +0.009, +0.002, -0.046) at ~2200 s CPU; the harmless student then refuses benign requests (chapter 30).
        # Round 6 (registered 2026-12-04 before its claim run; adopted whatever the verdict): the weak teachers read
        # about *different* people — tinygpt-m-a the first 40 % of the world's people, tinygpt-m-b the next 40 %
        # (tinygpt.PEERS: tinygpt-m's size and schedule) — instead of round 5's nested pair (tinygpt-m read everyone
        # tinygpt-s read, so on the alignment prompts it knew every answer and had nothing to learn from the student:
        # benchmarks/macpo_knowledge_areas.py). Each alignment prompt is then about a person one teacher knows and the
        # other does not; the student, who knows everyone, can pick the right teacher's answer, and each teacher can
        # learn the other's people from the student. Nothing else changes.
        # Round 6's claim runs: C6 does not hold — world 0 iter3-iter1 -0.022 [-0.053, +0.004], -naive +0.077 [+0.016,
        # +0.141] holds, -confident +0.022 [-0.030, +0.070], teachers +0.047 [-0.019, +0.102]; world 1 +0.021 [-0.001,
        # +0.046], +0.110 [+0.053, +0.171] holds, +0.110 [+0.043, +0.186] holds, +0.002 [-0.055, +0.065] (~660 s CPU).
        # Round 7 (benchmarks/macpo_teacher_fit.py, registered before it ran): R5-b's fit rule applied to the teachers'
        # own update — they fitted their positives (the student's samples) on 0.50 of the fact questions at round 5's
        # budget; 3e-3 x 8 epochs 0.59, the only budget within 0.05 of the best: teacher_lr / teacher_epochs below.
        # Adopted before its claim run, whatever the verdict.
        # Round 8 (benchmarks/macpo_init_fit.py, registered before it ran): the SFTs that build agents from half A
        # (teachers on the chosen replies, negative copies on the rejected ones) fitted it poorly at sft's budget
        # (5e-4 x 2 epochs: a greedy reply earning its target's gold on 0.42 / 0.38 of half A's prompts, worlds 0 / 1;
        # the harmless negative copies complied with 89% of benign requests). The rule's four budgets: 0.42 / 0.53 /
        # 0.60 / 0.68 (world 0), 0.38 / 0.50 / 0.54 / 0.66 (world 1) -> init_lr 1e-3, init_epochs 8. Adopted before
        # its claim run, whatever the verdict. Round 8's claim runs: world 0 iter3-iter1 -0.001 [-0.024, +0.021], -naive
        # +0.080 holds, -confident +0.069 holds, teachers +0.456 holds; world 1 -0.014, +0.148, +0.095, +0.421 (three
        # of four hold). The student is right in fact and form on 0.97-0.99 of the test at iteration 1 (a ceiling).
        # Round 9 (registered 2026-12-04 before its claim run; adopted whatever the verdict): chapter 30's alignment
        # prompts come from the whole task again (alignment_people="all", the paper's random half B) instead of round 5's
        # filter to people a teacher read about. About a fifth of the prompts then ask about people no teacher knows:
        # at iteration 1 the teachers can only guess there; the student's knowledge picks a right guess when one is
        # among the candidates, the teachers learn it from the student, and the right answers can accumulate over
        # iterations — the paper's "teachers need the student". Nothing else changes.
        # Round 9's claim runs: C6 does not hold — world 0 iter3-iter1 -0.136 [-0.213, -0.069], -naive -0.107, -confident
        # -0.112, teachers +0.336 holds; world 1 -0.117 [-0.173, -0.064], +0.173 holds, +0.102, +0.299 holds (~1150 s
        # CPU). Where no teacher read about the person, no candidate is right in fact and form (0.00 / 0.02 at iteration
        # 1), so the student's positives there are wrong guesses; it still answers those facts at test on 0.52 / 0.41 at
        # iteration 1, and on 0.10 / 0.02 at iteration 3 as it fits the guesses — the teachers cannot learn from it what
        # it has unlearned. (benchmarks/macpo_init_fit_results.json) With precompute_ref (each DPO update reads its
        # reference once; float-level differences) rerun in both worlds: world 0 -0.131 [-0.214, -0.063], -0.103, -0.107,
        # +0.326; world 1 -0.117, +0.173, +0.102, +0.305 — the same verdicts, 1029 / 1045 s CPU.
        # Round 10 (benchmarks/macpo_student_budget.py, registered 2026-12-05 before it ran): round 9's held-out test
        # (facts no alignment prompt asks) falls with every iteration — by area 0.77/0.73/0.38 at iteration 1, 0.65/0.72/
        # 0.09 at 3 (round 8 the same without any prompt about the last area) — because R5-b chose the student's update
        # on its fit at iteration 1 alone. The student's update budget is chosen on validation instead: its greedy gold
        # on half A's prompts (never trained on), averaged over iterations 1-3, seeds 0-1, worlds 0-1: (1e-3, 4) 0.634,
        # (1e-3, 2) 0.770, (3e-4, 2) 0.848, (3e-4, 1) 0.630 -> dpo.lr 3e-4, dpo.epochs 2 (26 steps; the preference
        # baselines train the same student with the same update). Adopted before its claim run, whatever the verdict.
        # Round 11 (registered 2026-12-05 before its claim run; adopted whatever the verdict): two strong students,
        # tinygpt-l-a and tinygpt-l-b (tinygpt-l's size; each read 70 % of the people: the first 70 %, the last 70 %),
        # instead of one tinygpt-l that knows everyone. Why: with a student that knows every fact, its iteration-1
        # answers are already right wherever its knowledge can pick or make them (rounds 8-10: 0.89-0.97 by area), so
        # the teachers' better positives at iterations 2-3 have nothing left to give it; the paper's several students
        # can each learn, through the teachers, what only the other knows (tinygpt-l-a: the last 30 % of the people,
        # of whom only tinygpt-m-b knows the first third; tinygpt-l-b: the first 30 %, known to tinygpt-m-a). Nothing
        # else changes. C6's student parts read the students' mean per test prompt (as the teachers' part reads the
        # teachers' mean); naive SFT and confident loss are trained from each student and averaged the same way.
        # Round 11's claim runs: C6 does not hold — world 0 iter3-iter1 -0.015 [-0.048, +0.023], -naive +0.221 holds,
        # -confident +0.171 holds, teachers +0.245 holds; world 1 +0.036 [-0.010, +0.085], +0.114, +0.070, +0.264 (three
        # of four hold; ~1100 s CPU). The teachers relay what only one student knows (their samples about the people only
        # tinygpt-l-b read about: 0.00 -> 0.29 right in fact and form, world 0), but a student never answers about a
        # person its pretraining never showed, not even naming them, whatever its positives say (chapter 30, Round 11).
        # Round 12 (registered 2026-12-05 before its claim run; adopted whatever the verdict): two strong students who
        # read about every person but recall imperfectly, tinygpt-l-hazy-a and tinygpt-l-hazy-b (tinygpt-l's size and
        # schedule, pretraining stopped at the first check where they recall 70 % of the world's facts; each its own
        # seed), instead of round 11's two who each read 70 %. Why (benchmarks/macpo_weak_recall.py, registered before it
        # ran): round 11's students improved on the people they read about but could take up nothing about the others,
        # where their answers only turned into wrong values; a student that half-remembers (peers at 700 steps, recall
        # 0.75 / 0.71) keeps taking up right facts over three updates (gold positives 0.345 -> 0.740 -> 0.860 -> 0.875
        # right in fact and form, world 0; 0.175 -> 0.430 -> 0.570 -> 0.615, world 1) and is misled by wrong ones (0.495
        # / 0.290 after one update), so what its positives say matters at every iteration. Amended before any claim run:
        # first registered as "700 steps", whose recall proved seed-dependent (the two students built at 700 steps
        # recalled 0.93 / 0.22 in world 0, 0.52 / 0.72 in world 1), so pretraining stops on the recall the reading chose
        # (tinygpt.HAZY_RECALL). Nothing else changes.
        # Round 12's claim runs: C6 does not hold — world 0 iter3-iter1 +0.001 [-0.056, +0.059], -naive +0.044, -confident
        # +0.038, teachers +0.127 holds; world 1 +0.017 [-0.055, +0.084], +0.107 holds, +0.056, +0.119 holds (~1090 s CPU).
        # The loop carries errors as well as facts: the teachers take up what the students misremember, and the students'
        # positives where a teacher knows the person fall from 0.81-0.93 right at iteration 1 to 0.40-0.83 at iteration 3.
        "tiny": {"n_labelled": 400, "n_test": 100, "max_new_tokens": 20, "sft.batch_size": 16, "dpo.batch_size": 16, "dpo.epochs": 2.0,
                 "sft.epochs": 2.0, "temperature": 0.7, "top_k": 50, "dpo.lr": 3e-4, "dpo_loss": "sigmoid+sft",
                 "teachers": ("tinygpt-m-a", "tinygpt-m-b"), "students": ("tinygpt-l-hazy-a", "tinygpt-l-hazy-b"), "n_samples": 2,
                 "teacher_lr": 3e-3, "teacher_epochs": 8.0, "init_lr": 1e-3, "init_epochs": 8.0, "precompute_ref": True},
        # colab: the paper's models at a consumer-GPU scale; HH-RLHF/PKU are hub datasets (not wired offline)
        "colab": {"teachers": ("qwen2.5-0.5b",), "students": ("qwen2.5-1.5b",), "lora": True, "activation_checkpointing": True, "n_labelled": 2000,
                  "n_test": 200, "max_new_tokens": 128, "temperature": 0.7, "top_k": 50, "sft.lr": 2e-4,
                  "dpo.lr": 5e-6, "dpo.epochs": 1.0, "sft.batch_size": 8, "dpo.batch_size": 8},
        # paper: 10k train (halved) / 2k test per dataset; teacher/student sizes and optimiser settings beyond
        # that are not in our facts sheet — UNKNOWN: learning rates, DPO β, epochs, sampling temperature,
        # number of responses per prompt, LoRA rank. The values below are placeholders, marked as such.
        "paper": {"teachers": ("qwen2.5-0.5b",), "students": ("qwen2.5-1.5b",), "lora": True, "activation_checkpointing": True, "n_labelled": 10000,
                  "n_test": 2000, "max_new_tokens": 256, "temperature": 0.7, "top_k": 50, "sft.lr": 2e-4,
                  "dpo.lr": 5e-6, "dpo.epochs": 1.0, "sft.batch_size": 8, "dpo.batch_size": 8},
    }

    #: a preset's values for one task, applied over :attr:`PRESET_VALUES` (and under any override) when the config
    #: names that task — the paper trains each task on its own, and a budget read on one task need not suit another.
    TASK_PRESET_VALUES = {
        # round 10's rule read on the harmless task (benchmarks/macpo_student_budget.py, second reading, registered
        # before it ran): the student's validation gold on half A's requests, averaged over iterations 1-3, seeds 0-1,
        # worlds 0-1, is 0.832 / 0.684 / 0.364 / 0.117 for (1e-3, 4) / (1e-3, 2) / (3e-4, 2) / (3e-4, 1): the harmless
        # student keeps round 5's update (the helpful task's 3e-4 x 2 barely taught it to refuse harm)
        "tiny": {"harmless": {"dpo.lr": 1e-3, "dpo.epochs": 4.0}},
    }

    @classmethod
    def for_preset(cls, preset: str, overrides=None, **more):
        """:meth:`Config.for_preset`, with the preset's values for the config's task (:attr:`TASK_PRESET_VALUES`)
        between the preset's and the overrides."""
        cfg = super().for_preset(preset, overrides, **more)
        per_task = cls.TASK_PRESET_VALUES.get(cfg.preset, {}).get(cfg.task)
        if not per_task:
            return cfg
        return cls.preset_values(cfg.preset).replace(**per_task).replace(**{**parse_overrides(overrides), **more})

    @property
    def agents(self) -> tuple[str, ...]:
        return (*self.teachers, *self.students)


@dataclass(frozen=True)
class StepConfig(Config):
    """One cached step of a MACPO experiment: (step, agent, iteration)."""

    experiment: str = knob("", help="result key of the MACPOConfig")
    step: str = knob("init", help="init | generate | negative_model | negative | train | naive_sft | confident | "
                                          "spin | self_rewarding | rlaif | rlcd (w2s_lib.macpo.baselines)")
    agent: str = knob("")
    iteration: int = knob(0, low=0)

    SLUG = "macpo-step"


# ----------------------------------------------------------------------------- data
def _gold(cfg: MACPOConfig):
    return TASKS[cfg.task][1]


def splits(cfg: MACPOConfig) -> tuple[datasets.Dataset, datasets.Dataset, list[str]]:
    """(half A: labelled pairs, half B: labelled pairs whose prompts drive alignment, test prompts).

    The test prompts are the primary evaluation set (:func:`test_sets`)."""
    half_a, half_b = _halves(cfg)
    return half_a, half_b, test_sets(cfg, half_b)["test"]


def agents_who_know(cfg: MACPOConfig, entity: str, among: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The agents of ``cfg`` (or those ``among`` them) that read about ``entity`` in pretraining (the zoo's
    knowledge areas)."""
    return tuple(a for a in (cfg.agents if among is None else among) if knows_entity(a, entity))


@functools.cache
def recalled_at_start(agent: str, world_seed: int, micro: bool) -> dict[tuple[str, str], bool]:
    """(entity, attribute) → whether the zoo rung ``agent`` recalls that fact before any training
    (:func:`w2s_lib.models.tinygpt.recalled_facts`: its true value the most likely of the eight). Round 12's students
    read about everyone but recall about three quarters; this says which quarter each misremembers."""
    from w2s_lib.models.tinygpt import recalled_facts

    with torch_threads(1):
        return recalled_facts(zoo.load_causal_lm(agent).eval(), zoo.load_tokenizer(agent), world_seed, micro)


def teachers_who_know(cfg: MACPOConfig, entity: str) -> tuple[str, ...]:
    """The weak teachers of ``cfg`` that read about ``entity`` in pretraining."""
    return agents_who_know(cfg, entity, cfg.teachers)


def _halves(cfg: MACPOConfig) -> tuple[datasets.Dataset, datasets.Dataset]:
    people = None
    if cfg.alignment_people == "known_to_a_teacher" and cfg.task == "helpful":
        people = frozenset(e for e in scorers.world(current_world_seed()).entities if teachers_who_know(cfg, e))
    return _halves_of(TASKS[cfg.task][0], cfg.n_labelled, cfg.seed, current_world_seed(), people)


@functools.lru_cache(maxsize=64)
def _task_split(name: str, split: str, world_seed: int) -> datasets.Dataset:
    """``data.load(name, split)`` once per process and world (a step asks for its halves and test prompts
    many times: building the Arrow table each time cost ≈ 5 s CPU per seed of chapter 30). Datasets are
    immutable (``shuffle`` / ``select`` return new ones), so sharing one is safe."""
    return data.load(name, split)


@functools.lru_cache(maxsize=64)
def _halves_of(name: str, n_labelled: int, seed: int, world_seed: int,
               people: frozenset[str] | None = None) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(half A, half B) of the shuffled train split: n_labelled // 2 and the rest of n_labelled rows. With
    ``people``, half B is the first rows about those people and half A the first of the remaining rows."""
    train = _task_split(name, "train", world_seed).shuffle(seed=seed)
    n = min(n_labelled, len(train))
    if people is None:
        return train.select(range(n // 2)), train.select(range(n // 2, n))
    half_b = [i for i, e in enumerate(train["entity"]) if e in people][: n - n // 2]
    taken = set(half_b)
    return train.select([i for i in range(len(train)) if i not in taken][: n // 2]), train.select(half_b)


def test_sets(cfg: MACPOConfig, half_b: datasets.Dataset | None = None) -> dict[str, list[str]]:
    """The evaluation prompts: ``{"test": primary[, "heldout": second measurement]}``.

    ``test_set="heldout"`` (or a task without fact questions): the task's test split (facts / requests no
    alignment prompt shows). ``"reworded"`` on the helpful task: the primary set asks the alignment prompts'
    facts (half B's fact questions, in order) in the other of the task's two wordings (the dataset's
    ``reworded`` column: no prompt string is shared with training), the tiny analogue of HH test prompts drawn from the training
    prompts' distribution; the held-out-facts test stays as the ``heldout`` measurement."""
    test = _task_split(TASKS[cfg.task][0], "test", current_world_seed())
    heldout = test.select(range(min(cfg.n_test, len(test))))["prompt"]
    if cfg.test_set == "heldout" or cfg.task != "helpful":
        return {"test": heldout}
    half_b = _halves(cfg)[1] if half_b is None else half_b  # ``half_b``: :func:`splits` passes the one it made
    return {"test": [p for p in half_b["reworded"] if p][:cfg.n_test], "heldout": heldout}


def _step_cfg(cfg: MACPOConfig, step: str, agent: str = "", iteration: int = 0) -> StepConfig:
    return StepConfig(preset=cfg.preset, seed=cfg.seed, experiment=_experiment_key(cfg), step=step, agent=agent,
                      iteration=iteration)


@functools.lru_cache(maxsize=256)
def _experiment_key(cfg: MACPOConfig) -> str:
    """The result key every step of ``cfg`` is filed under (``iterations`` does not change any step); once per
    config, as the chapter looks its steps up thousands of times."""
    return cfg.replace(iterations=1).run_id


# ----------------------------------------------------------------------------- models
def _load(path_or_name: str | Path, cfg: MACPOConfig):
    p = Path(str(path_or_name))
    model = zoo.load_local_causal_lm(p) if p.is_dir() else zoo.load_causal_lm(str(path_or_name))
    return model


def _maybe_lora(model, cfg: MACPOConfig):
    """The model as it is trained: LoRA adapters when ``cfg.lora``."""
    if not cfg.lora:
        return model
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM"))


def _save(model, tok, out: Path) -> None:
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    with quiet_training():
        model.save_pretrained(out)
        tok.save_pretrained(out)


def _sft(model, tok, prompts, completions, cfg: MACPOConfig, seed: int):
    from w2s_lib.train.preference import sft_train

    ds = datasets.Dataset.from_dict({"prompt": list(prompts), "completion": list(completions)})
    with quiet_training():
        return sft_train(_maybe_lora(model, cfg), tok, ds, lr=cfg.sft.lr, epochs=cfg.sft.epochs,
                         batch_size=cfg.sft.batch_size, seed=seed, activation_checkpointing=cfg.activation_checkpointing)


def generate(model, tok, prompts: list[str], cfg: MACPOConfig, seed: int, greedy: bool = False,
             batch_size: int = 64) -> list[str]:
    """One response per prompt: batched decoding (left padding, KV cache) cut at the first EOS.

    Sampling uses temperature ``cfg.temperature`` and top-k ``cfg.top_k`` (0 = off) from a torch generator
    seeded with ``seed`` (the global RNG is left as it was); ``greedy`` decodes greedily. A prompt longer
    than the model's context minus ``max_new_tokens`` keeps its last tokens. The decoder is the search
    part's own (:func:`w2s_lib.search.decoding.sample_continuations`: one forward per token over the
    unfinished rows of a batch of ``batch_size`` prompts).
    """
    from w2s_lib.search.decoding import sample_continuations

    model = model.eval()
    room = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 10**9)
    keep = max(1, room - cfg.max_new_tokens)
    temperature = 0.0 if greedy or cfg.temperature == 0 else cfg.temperature
    gen = torch.Generator().manual_seed(seed)
    texts = []
    for start in range(0, len(prompts), batch_size):
        ids = [tok(p, add_special_tokens=False)["input_ids"][-keep:] for p in prompts[start:start + batch_size]]
        for row in sample_continuations(model, ids, cfg.max_new_tokens, tok.eos_token_id, temperature=temperature,
                                        top_k=cfg.top_k, generator=gen):
            texts.append(tok.decode(row, skip_special_tokens=True))
    return texts


def evaluate(model, tok, cfg: MACPOConfig, out: Path, seed: int) -> dict:
    """Greedy responses on the evaluation prompts (:func:`test_sets`) with their gold reward; writes
    ``eval.json`` (one row per prompt, ``set`` = test | heldout). ``gold_mean`` is the primary set's mean,
    ``gold_mean_heldout`` the held-out set's (when it is a second measurement)."""
    rows, res = [], {}
    for name, prompts in test_sets(cfg).items():
        resp = generate(model, tok, prompts, cfg, seed, greedy=True)
        gold = [_gold(cfg)(p, r) for p, r in zip(prompts, resp)]
        rows += [{"prompt": p, "response": r, "gold": g, "set": name} for p, r, g in zip(prompts, resp, gold)]
        suffix = "" if name == "test" else f"_{name}"
        res.update({f"gold_mean{suffix}": float(np.mean(gold)), f"gold_std{suffix}": float(np.std(gold))})
    atomic_write_json(out / "eval.json", rows)
    return res


# ----------------------------------------------------------------------------- the algorithm
@torch.no_grad()
def perplexities(model, tok, prompt: str, responses: list[str]) -> list[float]:
    """Per-token perplexity of each response given ``prompt`` under ``model`` (inf for an empty one)."""
    return perplexities_many(model, tok, [prompt], [responses])[0]


@torch.no_grad()
def perplexities_many(model, tok, prompts: list[str], responses: list[list[str]],
                      batch_size: int = 16) -> list[list[float]]:
    """:func:`perplexities` of ``responses[i]`` given ``prompts[i]`` for every i, scored in right-padded
    batches of ``batch_size`` (prompt, response) sequences across prompts (one forward per batch, sequences
    of similar length together)."""
    from w2s_lib.train.lm import sequence_logprobs

    if len(prompts) != len(responses):
        raise W2SError(f"{len(prompts)} prompts but {len(responses)} lists of responses")
    out = [[math.inf] * len(rs) for rs in responses]
    seqs, starts, where = [], [], []
    for i, (p, rs) in enumerate(zip(prompts, responses)):
        p_ids = tok(p, add_special_tokens=False)["input_ids"]
        for j, r in enumerate(rs):
            r_ids = tok(r, add_special_tokens=False)["input_ids"]
            if r_ids:
                seqs.append(p_ids + r_ids)
                starts.append(len(p_ids))
                where.append((i, j, len(r_ids)))
    if seqs:  # batches of similar lengths (less padding), results put back in order
        order = sorted(range(len(seqs)), key=lambda k: len(seqs[k]))
        total, _ = sequence_logprobs(model.eval(), [seqs[k] for k in order], [starts[k] for k in order], pad_id=0,
                                     batch_size=batch_size)
        for k, v in zip(order, total.tolist()):
            i, j, n = where[k]
            out[i][j] = math.exp(-v / n)
    return out


def select_positives(ppl: dict[str, list[float]], responses: dict[str, list[str]], learner: str) -> list[tuple[str, str]]:
    """Per prompt, the (agent, response) of the *other* agent whose response has the lowest perplexity under
    ``learner``. ``ppl[a][i]`` is the perplexity of agent a's response i under the learner; ties go to the
    first agent in order; ("", "") where no other agent has a non-empty response. ``responses`` may omit
    the learner (only its candidates: :func:`candidates`)."""
    others = [a for a in responses if a != learner]
    if not others:
        raise W2SError("MACPO needs at least two agents: positives come from the other agents")
    n = len(responses[others[0]])
    chosen = []
    for i in range(n):
        cands = [(ppl[a][i], k, a) for k, a in enumerate(others) if responses[a][i].strip() and math.isfinite(ppl[a][i])]
        if not cands:
            chosen.append(("", ""))
            continue
        _, _, best = min(cands)
        chosen.append((best, responses[best][i]))
    return chosen


def candidates(cfg: MACPOConfig, agent: str, iteration: int) -> dict[str, list[str]]:
    """The responses ``agent``'s positives are chosen from at ``iteration``: other agent → one sample per
    alignment prompt.

    ``positive_pool="cross"`` (default), the paper's mutual augmentation read as teachers and students
    learning *from each other*: a student chooses among the weak teachers' samples (drawn by the teachers
    as they stood after iteration − 1); a teacher chooses among the strong students' samples drawn *after*
    the students' own update of this iteration (:func:`generate_step` at iteration + 1, the same cached
    samples the students' next iteration uses), so what the students have just learned reaches the
    teachers in the same iteration. A weak teacher never takes another weak teacher's answer (the
    diagnostic of chapter 30: ``tinygpt-s`` took 75–90% of its positives from the weaker ``tinygpt-xs`` and
    lost half its reward). ``"all"``: every other agent's samples of this iteration.

    ``teacher_candidates="greedy+samples"`` adds each student's greedy answer (same model as its samples) to a
    teacher's candidates under the cross pool (key ``"<student>#greedy"``)."""
    others = [a for a in cfg.agents if a != agent]
    if cfg.positive_pool == "all":
        pool = {a: iteration for a in others}
    elif agent in cfg.students:
        pool = {a: iteration for a in cfg.teachers}
    else:
        pool = {a: iteration + 1 for a in cfg.students}
    out = {}
    for a, it in pool.items():
        for j, resp in enumerate(generate_samples(cfg, a, it)):
            out[a if j == 0 else f"{a}#{j}"] = resp
        if cfg.positive_pool == "cross" and agent in cfg.teachers and cfg.teacher_candidates == "greedy+samples":
            out[f"{a}#greedy"] = greedy_responses(cfg, a, it)
    return out


def source_agent(source: str) -> str:
    """The agent behind a candidate key of :func:`candidates` (``"tinygpt-s#2"`` → ``"tinygpt-s"``)."""
    return source.split("#")[0]


def _agent_dir(cfg: MACPOConfig, agent: str, iteration: int) -> str:
    """Where the agent's weights after ``iteration`` live (0 = after initialisation); runs what is missing."""
    if iteration == 0:
        return str(init_agent(cfg, agent).path / "model")
    return str(agent_step(cfg, agent, iteration).path / "model")


def unaligned_student(cfg: MACPOConfig, student: str) -> Artifact:
    """The badly-behaved strong student: the zoo checkpoint after a short SFT (one epoch) on the task's
    ``unaligned`` replies to every train prompt — a model that keeps the world's facts from pretraining but
    answers like an unaligned base model (repeats the question or deflects; complies with any request).
    No label is used (the unaligned replies ignore the chosen/rejected pair). One cached model per world,
    task and student, shared by every seed."""
    name = TASKS[cfg.task][0]
    # v2: the task's unaligned replies became bare values (a cache of the deflecting student must not be reused)
    key = f"unaligned-v2:{name}:w{current_world_seed()}:lr{cfg.sft.lr}:bs{cfg.sft.batch_size}:lora{cfg.lora}"

    def compute(out):
        torch.manual_seed(0)
        train = data.load(name, "train")
        tok = zoo.load_tokenizer(student)
        model = _sft(_load(student, cfg), tok, train["prompt"], train["unaligned"], cfg.replace(sft={"epochs": 1.0}), 0)
        _save(model, tok, out / "model")
        return {"agent": student, "n_examples": len(train)}

    step = StepConfig(preset=cfg.preset, seed=0, experiment=key, step="unaligned", agent=student)
    with torch_threads(1):
        return load_or_run(step, compute)


def init_agent(cfg: MACPOConfig, agent: str, force: bool = False) -> Artifact:
    """Teachers: SFT on half A (prompt → chosen). Students: the unaligned student (:func:`unaligned_student`,
    ``student_init="unaligned"``) or the base weights. Evaluated (iteration 0)."""
    if agent not in cfg.agents:
        raise W2SError(f"unknown agent {agent!r}; this experiment's agents are {list(cfg.agents)}")

    def fit(model, tok, out):
        if agent not in cfg.teachers:
            return model, {}
        half_a = splits(cfg)[0]
        return _sft(model, tok, half_a["prompt"], half_a["chosen"], init_cfg(cfg), cfg.seed), {}

    src = agent
    if agent in cfg.students and cfg.student_init == "unaligned":
        src = unaligned_student(cfg, agent).path / "model"
    return fit_step(cfg, "init", agent, 0, src, fit, force=force)


def _sampled_responses(cfg: MACPOConfig, step: str, agent: str, iteration: int, make_model, seed: int,
                       result_key: str, n_samples: int = 1, greedy: bool = False) -> list[list[str]]:
    """``n_samples`` responses per alignment prompt from ``make_model()`` (one batched decoding), cached as
    ``step`` of ``agent`` at ``iteration`` (with the mean gold reward of the responses as its result):
    ``n_samples`` lists, one response per prompt each."""

    def compute(out):
        _, half_b, _ = splits(cfg)
        prompts = list(half_b["prompt"])
        resp = generate(make_model(), zoo.load_tokenizer(agent), prompts * n_samples, cfg, seed, greedy=greedy)
        samples = [resp[j * len(prompts):(j + 1) * len(prompts)] for j in range(n_samples)]
        atomic_write_json(out / "responses.json", samples)
        gold = [_gold(cfg)(p, r) for rs in samples for p, r in zip(prompts, rs)]
        return {result_key: float(np.mean(gold))}

    with torch_threads(1):
        art = load_or_run(_step_cfg(cfg, step, agent, iteration), compute)
    return json.loads((art.path / "responses.json").read_text())


def generate_samples(cfg: MACPOConfig, agent: str, iteration: int) -> list[list[str]]:
    """The agent (as after iteration − 1) samples ``n_samples`` responses per alignment prompt."""
    src = _agent_dir(cfg, agent, iteration - 1)
    return _sampled_responses(cfg, "generate", agent, iteration, lambda: _load(src, cfg),
                              cfg.seed * 97 + iteration, "train_gold_mean", cfg.n_samples)


def greedy_responses(cfg: MACPOConfig, agent: str, iteration: int) -> list[str]:
    """The agent's (as after iteration − 1) greedy response per alignment prompt (cached step ``greedy``)."""
    src = _agent_dir(cfg, agent, iteration - 1)
    return _sampled_responses(cfg, "greedy", agent, iteration, lambda: _load(src, cfg), 0, "train_gold_mean",
                              greedy=True)[0]


def generate_step(cfg: MACPOConfig, agent: str, iteration: int) -> list[str]:
    """The agent's (as after iteration − 1) first sampled response per alignment prompt."""
    return generate_samples(cfg, agent, iteration)[0]


def negative_model(cfg: MACPOConfig, agent: str) -> Artifact:
    """The agent's negative copy built once from its initialisation: SFT on half A's rejected responses."""
    src = _agent_dir(cfg, agent, 0)

    def compute(out):
        torch.manual_seed(cfg.seed)
        half_a, _, _ = splits(cfg)
        tok = zoo.load_tokenizer(agent)
        neg = _sft(_load(src, cfg), tok, half_a["prompt"], half_a["rejected"], init_cfg(cfg), cfg.seed)
        _save(neg, tok, out / "model")
        return {"agent": agent}

    with torch_threads(1):
        return load_or_run(_step_cfg(cfg, "negative_model", agent, 0), compute)


def negative_step(cfg: MACPOConfig, agent: str, iteration: int) -> list[str]:
    """Hard negatives at ``iteration``: samples of a copy of the agent SFT'd on half A's rejected responses.

    ``refresh_negative``: the copy is re-derived from the agent as it stands after iteration − 1 (one SFT per
    agent per iteration); otherwise (default, cheaper) it is built once from the initialised agent and
    sampled afresh each iteration. Only the responses are kept per iteration.
    """
    src = _agent_dir(cfg, agent, iteration - 1) if cfg.refresh_negative else str(negative_model(cfg, agent).path / "model")

    def negative_copy():
        torch.manual_seed(cfg.seed)
        if not cfg.refresh_negative:
            return _load(src, cfg)
        half_a, _, _ = splits(cfg)
        neg = _sft(_load(src, cfg), zoo.load_tokenizer(agent), half_a["prompt"], half_a["rejected"], init_cfg(cfg),
                   cfg.seed + iteration)
        return neg.merge_and_unload() if hasattr(neg, "merge_and_unload") else neg

    return _sampled_responses(cfg, "negative", agent, iteration, negative_copy, cfg.seed * 89 + iteration,
                              "negative_gold_mean")[0]


def build_pairs(cfg: MACPOConfig, agent: str, iteration: int, model, tok,
                selection: str = "perplexity") -> datasets.Dataset:
    """The agent's DPO pairs at ``iteration``: (lowest-perplexity other agent's response, its hard negative).

    ``selection="random"`` is the mechanism-off control: the positive is a uniformly random other agent's
    (non-empty) response instead of the lowest-perplexity one."""
    if selection not in POSITIVES:
        raise W2SError(f"selection must be one of {POSITIVES}, got {selection!r}")
    _, half_b, _ = splits(cfg)
    prompts = half_b["prompt"]
    responses = candidates(cfg, agent, iteration)
    negatives = negative_step(cfg, agent, iteration)
    others = list(responses)
    ppl = {a: [math.inf] * len(prompts) for a in others}
    if selection == "random":
        rng = np.random.default_rng([cfg.seed, iteration, 7])
        for a in others:
            ppl[a] = rng.random(len(prompts)).tolist()  # a random order stands in for the perplexity
    else:
        scored = perplexities_many(model, tok, list(prompts), [[responses[a][i] for a in others] for i in range(len(prompts))])
        for i, row in enumerate(scored):
            for a, v in zip(others, row):
                ppl[a][i] = v
    pos = select_positives(ppl, responses, agent)
    pairs = pairs_dataset(prompts, [c for _, c in pos], negatives, source=[src for src, _ in pos])
    if len(pairs) == 0:
        raise W2SError(f"no MACPO pairs for {agent} at iteration {iteration}: every positive equals its negative")
    return pairs


def fit_step(cfg: MACPOConfig, step: str, agent: str, iteration: int, src: str | Path, fit,
             force: bool = False) -> Artifact:
    """The one training code path of MACPO and every baseline: a cached run that loads ``src``, trains it
    with ``fit(model, tok, out) -> (model, info)``, saves ``model/`` and evaluates it on the test prompts.

    ``info`` (a dict of small results) is merged into the step's result with ``agent``, ``iteration``, the
    agent's ``role`` and the evaluation (``gold_mean``); ``eval.json`` holds the per-prompt scores."""

    def compute(out):
        torch.manual_seed(cfg.seed + iteration)
        tok = zoo.load_tokenizer(agent)
        model, info = fit(_load(src, cfg), tok, out)
        _save(model, tok, out / "model")
        return {"agent": agent, "iteration": iteration, "role": "teacher" if agent in cfg.teachers else "student",
                **info, **evaluate(_load(out / "model", cfg), tok, cfg, out, cfg.seed)}

    with torch_threads(1):
        return load_or_run(_step_cfg(cfg, step, agent, iteration), compute, force=force)


def dpo_fit(cfg: MACPOConfig, make_pairs, seed: int):
    """A ``fit`` for :func:`fit_step`: DPO (TRL) on ``make_pairs(model, tok)`` — rows of prompt, chosen,
    rejected (extra columns are kept in ``pairs.jsonl``) — reporting the pairs' mean gold rewards."""

    def fit(model, tok, out):
        pairs = make_pairs(model, tok)
        if len(pairs) == 0:
            raise W2SError("no DPO pairs were built: every chosen response equals its rejected one; "
                           "raise n_labelled or the sampling temperature")
        gold = _gold(cfg)
        cg = [gold(p, c) for p, c in zip(pairs["prompt"], pairs["chosen"])]
        rg = [gold(p, r) for p, r in zip(pairs["prompt"], pairs["rejected"])]
        pairs = pairs.add_column("chosen_gold", cg).add_column("rejected_gold", rg)
        with quiet_training():
            model = dpo_update(model, tok, pairs, cfg, seed)
            pairs.to_json(out / "pairs.jsonl")
        return model, {"n_pairs": len(pairs), "chosen_gold": float(np.mean(cg)), "rejected_gold": float(np.mean(rg)),
                       "pair_accuracy": float(np.mean(np.array(cg) > np.array(rg)))}

    return fit


def dpo_update(model, tok, pairs: datasets.Dataset, cfg: MACPOConfig, seed: int):
    """One MACPO update of ``model`` on ``pairs`` (prompt, chosen, rejected) at ``cfg``'s DPO stage and loss — every
    agent's update in :func:`dpo_fit`, and the readings in ``benchmarks/`` that replay a student's updates."""
    from w2s_lib.train.preference import dpo_train

    return dpo_train(_maybe_lora(model, cfg), tok, pairs, beta=cfg.dpo.beta, lr=cfg.dpo.lr, epochs=cfg.dpo.epochs,
                     batch_size=cfg.dpo.batch_size, seed=seed, loss_type=cfg.dpo_loss.split("+"),
                     precompute_ref=cfg.precompute_ref, activation_checkpointing=cfg.activation_checkpointing)


def pairs_dataset(prompts, chosen, rejected, **extra) -> datasets.Dataset:
    """DPO rows, dropping prompts whose chosen or rejected response is empty or where the two are equal."""
    keep = [i for i, (c, r) in enumerate(zip(chosen, rejected)) if c.strip() and r.strip() and c.strip() != r.strip()]
    cols = {"prompt": list(prompts), "chosen": list(chosen), "rejected": list(rejected), **{k: list(v) for k, v in extra.items()}}
    return datasets.Dataset.from_dict({k: [v[i] for i in keep] for k, v in cols.items()})


def _with_stage(cfg: MACPOConfig, stage: str, lr: float, epochs: float) -> MACPOConfig:
    """``cfg`` with its ``stage`` (sft | dpo) taking ``lr`` / ``epochs`` where they are set (non-zero); ``cfg``
    itself when neither is."""
    moved = {k: v for k, v in (("lr", lr), ("epochs", epochs)) if v}
    return cfg.replace(**{stage: moved}) if moved else cfg


def init_cfg(cfg: MACPOConfig) -> MACPOConfig:
    """The config whose ``sft`` stage builds an agent from half A (a weak teacher's SFT on the chosen replies, a
    negative copy's on the rejected ones): ``init_lr`` / ``init_epochs`` where set (non-zero), else ``sft``."""
    return _with_stage(cfg, "sft", cfg.init_lr, cfg.init_epochs)


def update_cfg(cfg: MACPOConfig, agent: str) -> MACPOConfig:
    """The config whose ``dpo`` stage trains ``agent`` in a MACPO iteration: a weak teacher's update takes
    ``teacher_lr`` / ``teacher_epochs`` where set (non-zero), a student's is ``dpo`` as it is."""
    return _with_stage(cfg, "dpo", cfg.teacher_lr, cfg.teacher_epochs) if agent in cfg.teachers else cfg


def agent_step(cfg: MACPOConfig, agent: str, iteration: int, force: bool = False,
               selection: str = "perplexity") -> Artifact:
    """One MACPO iteration of one agent: pairs (:func:`build_pairs`), DPO, evaluation; saves ``model/`` and
    ``pairs.jsonl`` (with each positive's source agent).

    ``selection="random"`` runs the mechanism-off control for this agent alone: its own chain of
    iterations (step ``train_random``) picks positives at random among the other agents' responses, which
    are the ones of the MACPO run itself (the other agents and the agent's negatives are shared)."""
    if iteration < 1:
        raise W2SError("MACPO iterations start at 1 (0 is the initialisation: init_agent)")
    if selection == "perplexity":
        src = _agent_dir(cfg, agent, iteration - 1)
    else:
        src = _agent_dir(cfg, agent, 0) if iteration == 1 else agent_step(cfg, agent, iteration - 1, selection=selection).path / "model"
    fit = dpo_fit(update_cfg(cfg, agent), lambda model, tok: build_pairs(cfg, agent, iteration, model, tok, selection),
                  cfg.seed + iteration)

    def fit_with_sources(model, tok, out):
        model, info = fit(model, tok, out)
        sources = [json.loads(line)["source"] for line in (out / "pairs.jsonl").read_text().splitlines()]
        info["positive_sources"] = {a: sum(source_agent(s) == a for s in sources)
                                    for a in dict.fromkeys(map(source_agent, candidates(cfg, agent, iteration)))}
        return model, info

    step = "train" if selection == "perplexity" else f"train_{selection}"
    return fit_step(cfg, step, agent, iteration, src, fit_with_sources, force=force)


def run(cfg: MACPOConfig) -> list[dict]:
    """The whole experiment (resuming whatever is cached); one row per (agent, iteration), 0 = initial."""
    rows = []
    for agent in cfg.agents:
        rows.append({"seed": cfg.seed, "task": cfg.task, "iteration": 0, **init_agent(cfg, agent).result})
    for t in range(1, cfg.iterations + 1):
        for agent in (*cfg.students, *cfg.teachers):  # students first: with the cross pool, teachers learn from them
            r = agent_step(cfg, agent, t).result
            rows.append({"seed": cfg.seed, "task": cfg.task, **r})
    return rows


def eval_rows(art: Artifact, which: str = "test") -> list[dict]:
    """Per-prompt gold scores a step wrote (``eval.json``) on the evaluation set ``which`` (test | heldout;
    :func:`test_sets`)."""
    return [r for r in json.loads((art.path / "eval.json").read_text()) if r.get("set", "test") == which]


def fact_and_form(prompt: str, response: str) -> tuple[bool, bool]:
    """For a fact question of the helpful task: (right fact: the true value is named and no wrong one, right
    form: a complete sentence that names the person) — the two halves of the gold reward's best answer."""
    kb = scorers.world(current_world_seed()).facts
    user = scorers._last_user_turn(prompt)
    entity = scorers._entity_in(user, kb)
    cues = [scorers.ATTRIBUTE_CUES[w] for w in scorers._words(user) if w in scorers.ATTRIBUTE_CUES]
    if entity is None or not cues:
        return False, False
    got = scorers.values_mentioned(response).get(cues[0], set())
    fact = got == {kb[entity][cues[0]].lower()}
    return fact, entity in (response or "") and response.strip().endswith(".") and not scorers.is_refusal(response)


def inherited_error(prompt: str, response: str, targets: list[str]) -> bool:
    """For a fact question of the helpful task: does ``response`` state a *wrong* value of the asked attribute
    that one of ``targets`` (e.g. the weak teachers' answers a student was trained on) also states? The naive-SFT
    failure the paper names: imitating the weak supervisor's errors."""
    kb = scorers.world(current_world_seed()).facts
    user = scorers._last_user_turn(prompt)
    entity = scorers._entity_in(user, kb)
    cues = [scorers.ATTRIBUTE_CUES[w] for w in scorers._words(user) if w in scorers.ATTRIBUTE_CUES]
    if entity is None or not cues:
        return False
    truth = kb[entity][cues[0]].lower()
    wrong = set().union(*[scorers.values_mentioned(t).get(cues[0], set()) for t in targets]) - {truth}
    return bool(scorers.values_mentioned(response).get(cues[0], set()) & wrong)


# ----------------------------------------------------------------------------- weak-to-strong baselines
def sft_fit(cfg: MACPOConfig, make_examples, seed: int):
    """A ``fit`` for :func:`fit_step`: SFT (TRL, loss on the completion) on ``make_examples(model, tok)`` =
    (prompts, completions); empty completions are dropped."""

    def fit(model, tok, out):
        prompts, completions = make_examples(model, tok)
        keep = [(p, c) for p, c in zip(prompts, completions) if c.strip()]
        if not keep:
            raise W2SError("no SFT examples: every target response is empty; raise max_new_tokens or n_labelled")
        return _sft(model, tok, [p for p, _ in keep], [c for _, c in keep], cfg, seed), {"n_examples": len(keep)}

    return fit


def weak_responses(cfg: MACPOConfig) -> dict[str, list[str]]:
    """Each weak teacher's sampled responses to half B's prompts after its SFT (MACPO's iteration-1 samples,
    shared with MACPO's cache): the weak supervision every weak-to-strong baseline learns from."""
    return {t: generate_step(cfg, t, 1) for t in cfg.teachers}


def naive_sft(cfg: MACPOConfig, student: str | None = None) -> Artifact:
    """Naive SFT: the student fine-tuned on every weak teacher's (initial) sampled responses to half B's prompts.

    Assumption: all teachers' responses are used (one target per teacher per prompt), as the paper pools
    weak supervision; empty responses are dropped. ``naive_epochs`` (when set) replaces ``sft.epochs``: the
    paper's baseline is trained on the weak responses to convergence.
    """
    student = student or cfg.students[0]

    def examples(model, tok):
        prompts = splits(cfg)[1]["prompt"]
        weak = weak_responses(cfg)
        return [p for _ in cfg.teachers for p in prompts], [r for t in cfg.teachers for r in weak[t]]

    stage = cfg.replace(sft={"epochs": cfg.naive_epochs}) if cfg.naive_epochs else cfg
    return fit_step(cfg, "naive_sft", student, 0, _agent_dir(cfg, student, 0), sft_fit(stage, examples, cfg.seed))


def confident_loss(cfg: MACPOConfig, student: str | None = None) -> Artifact:
    """The Burns et al. auxiliary confidence loss adapted to generation.

    Burns mixes cross-entropy to the weak label with cross-entropy to the strong model's own *hardened*
    prediction, weight α. For text, the hardened prediction is the student's greedy answer, and a mixed
    target is a mixture of examples: starting from the naive-SFT student (Burns warms α up from 0; the
    naive stage is that warm-up), we continue SFT where a share ``confident_alpha`` of half B's prompts
    has the student's own greedy answer as target and the rest a weak teacher's response.
    """
    student = student or cfg.students[0]
    warm = naive_sft(cfg, student).path / "model"

    def examples(model, tok):
        prompts = splits(cfg)[1]["prompt"]
        own = generate(model, tok, prompts, cfg, cfg.seed, greedy=True)
        weak = weak_responses(cfg)
        rng = np.random.default_rng(cfg.seed)
        targets = [own[i] if rng.random() < cfg.confident_alpha else weak[cfg.teachers[i % len(cfg.teachers)]][i]
                   for i in range(len(prompts))]
        return prompts, targets

    return fit_step(cfg, "confident", student, 0, warm, sft_fit(cfg, examples, cfg.seed + 1))


def clear(cfg: MACPOConfig) -> int:
    """Delete every cached step of ``cfg``'s experiment (MACPO, its baselines and their samples), so the next
    call recomputes them all; returns how many runs were removed. A notebook's ``force = True`` calls this."""
    import shutil

    from w2s_lib.core import paths

    key, removed = _step_cfg(cfg, "init").experiment, 0
    for config in paths.runs_dir().glob("macpo-step-*/config.json") if paths.runs_dir().exists() else []:
        if json.loads(config.read_text()).get("experiment") == key:
            shutil.rmtree(config.parent)
            removed += 1
    return removed
