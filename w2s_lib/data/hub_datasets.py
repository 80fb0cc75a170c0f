"""Real datasets from the Hugging Face hub, formatted into the registry's standard columns.

Every loader here is two parts:

1. a **pure row formatter** ``format_<name>(row, rng) -> dict`` that turns one raw hub row (in the hub's own
   schema) into the standard columns of its task, testable on a hand-written dict;
2. the **load path**: :func:`w2s_lib.core.hub.resolve` picks a local stand-in directory
   (``$W2S_LOCAL_HUB/datasets/<org>__<name>``) or the hub id, and then the *same*
   ``datasets.load_dataset(resolved, split=..., data_dir=...)`` call reads either one. Offline without a
   stand-in, loading fails at once with a one-line :class:`~w2s_lib.core.errors.W2SError` that names the
   tiny-world alternative.

Classification formatting follows the official openai/weak-to-strong ``datasets.py`` (sciq, boolq,
amazon_polarity, cosmos_qa, anthropic_hh). Randomness (which distractor, whether a row shows the true or
a wrong answer) comes from a per-row ``random.Random`` seeded by (dataset, split, seed, hub row index), so a
row's formatting does not depend on which other rows were loaded. The official code instead threads one
``Random(seed)`` through the rows in order, so individual labels differ from theirs while the
distribution (p = 0.5) is the same.

``id`` is ``"<name>/<split>/<hub row index>"`` (the index in the hub split before any filtering), or the
dataset's own id where it has one (cosmos_qa).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import datasets

from w2s_lib.core import hub
from w2s_lib.core.errors import W2SError
from w2s_lib.data.registry import COLUMNS, register

Row = dict[str, Any]
Formatter = Callable[[Row, random.Random], "Row | None"]

# ----------------------------------------------------------------------------------------------------
# the shared load path
# ----------------------------------------------------------------------------------------------------


#: the tiny-world stand-in (same task, generated offline) named when a real dataset cannot be fetched
TINY_ALTERNATIVES: dict[str, str] = {
    "sciq": "tiny_facts",
    "boolq": "tiny_facts",
    "cosmos_qa": "tiny_facts",
    "anthropic_hh": "tiny_facts",
    "amazon_polarity": "tiny_sentiment",
    "imdb": "tiny_reviews",
    "hh_helpful": "tiny_helpful",
    "hh_harmless": "tiny_harmless",
    "pku_saferlhf": "tiny_safety",
    "tldr": "tiny_summaries",
    "alpaca_eval": "tiny_instructions",
}


def tiny_alternative(name: str) -> str:
    """The offline option named in the error when the hub cannot be reached (for dataset ``name``)."""
    tiny = TINY_ALTERNATIVES.get(name)
    if tiny is None:
        return "preset='tiny' (the offline tiny-world datasets)"
    return f"preset='tiny' (offline dataset {tiny!r})"


def row_rng(name: str, split: str, seed: int, row: int) -> random.Random:
    """The random stream for one hub row: deterministic in (dataset, split, seed, row index)."""
    return random.Random(f"{name}:{split}:{seed}:{row}")


def load_raw(
    hub_id: str,
    split: str,
    *,
    alternative: str,
    split_names: dict[str, str] | None = None,
    data_dir: str | None = None,
    config: str | None = None,
    data_file: str | None = None,
) -> datasets.Dataset:
    """One hub split, raw, through :func:`hub.resolve` and one ``load_dataset`` call for hub and stand-in.

    ``split_names`` maps our split ("train"/"test") to the hub's (e.g. ``{"test": "validation"}`` where
    the hub test split has no labels). ``alternative`` is the offline option the error names.
    ``data_dir`` selects a subset folder (hh-rlhf ``helpful-base``); a stand-in directory mirrors it as
    ``<dir>/<data_dir>/<split>.jsonl``. ``data_file`` reads one named file of the repository as the split
    (for repositories whose loading script current ``datasets`` no longer runs, e.g. AlpacaEval).
    """
    resolved = hub.resolve("datasets", hub_id, alternative)
    kwargs: dict[str, Any] = {"split": (split_names or {}).get(split, split)}
    if data_dir is not None:
        kwargs["data_dir"] = data_dir
    if data_file is not None:
        kwargs["data_files"] = {kwargs["split"]: data_file}
    args = (resolved,) if config is None else (resolved, config)
    if resolved == hub_id:
        return datasets.load_dataset(*args, **kwargs)
    try:  # a local stand-in: a missing file is the user's to fix, so say which one
        return datasets.load_dataset(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - any unreadable stand-in is the user's to fix
        where = f"{resolved}/{data_dir}" if data_dir else resolved
        raise W2SError(
            f"local stand-in for {hub_id!r} has no usable {kwargs['split']!r} split in {where} "
            f"(expected {data_file or kwargs['split'] + '.jsonl'} in the real schema): {type(err).__name__}: {err}"
        ) from err


def apply_formatter(
    raw: datasets.Dataset,
    formatter: Formatter,
    *,
    name: str,
    task: str,
    split: str,
    seed: int,
    extra: tuple[str, ...] = (),
    may_drop: bool = False,
) -> datasets.Dataset:
    """Format every raw row; rows the formatter returns ``None`` for are dropped (``may_drop``).

    Returns the task's standard columns followed by ``extra`` columns, in that order.
    """
    ds = raw.add_column("_row", list(range(len(raw))))

    def fmt(ex: Row) -> Row | None:
        return formatter(ex, row_rng(name, split, seed, ex["_row"]))

    if may_drop:
        ds = ds.filter(lambda ex: fmt(ex) is not None)

    def to_columns(ex: Row) -> Row:
        out = dict(fmt(ex))  # type: ignore[arg-type]
        out.setdefault("id", f"{name}/{split}/{ex['_row']}")
        return out

    ds = ds.map(to_columns, remove_columns=ds.column_names)
    return ds.select_columns([*COLUMNS[task], *extra])


def _hub_loader(
    name: str,
    task: str,
    hub_id: str,
    formatter: Formatter,
    description: str,
    *,
    split_names: dict[str, str] | None = None,
    data_dir: str | None = None,
    extra: tuple[str, ...] = (),
    may_drop: bool = False,
    data_file: str | None = None,
    only_split: str | None = None,
) -> None:
    """Register ``name``: load ``hub_id`` (``data_dir`` or ``data_file``) and format it with ``formatter``.

    ``only_split``: the dataset is an evaluation set with this one split; asking for another is an error.
    """

    @register(name, task, description, hub_id=hub_id)
    def loader(split: str, seed: int) -> datasets.Dataset:
        if only_split is not None and split != only_split:
            raise W2SError(f"{name} has only a {only_split!r} split (it is an evaluation set); "
                           f"ask for split={only_split!r}")
        raw = load_raw(
            hub_id, split, alternative=tiny_alternative(name), split_names=split_names, data_dir=data_dir,
            data_file=data_file,
        )
        return apply_formatter(
            raw, formatter, name=name, task=task, split=split, seed=seed, extra=extra, may_drop=may_drop
        )

    loader.__name__ = f"load_{name}"
    loader.__doc__ = f"{description} (formatter: :func:`{formatter.__name__}`)."


def _classification(text: str, label: int) -> Row:
    label = int(label)
    return {"text": text, "label": label, "soft_label": float(label)}


# ----------------------------------------------------------------------------------------------------
# classification (Burns et al. / openai weak-to-strong formatting)
# ----------------------------------------------------------------------------------------------------


def format_sciq(ex: Row, rng: random.Random) -> Row:
    """allenai/sciq → ``"Q: {question} A: {answer}"``.

    As the official code: label 1 (p = 0.5) shows ``correct_answer``, label 0 one of ``distractor1-3``
    chosen uniformly; the ``support`` paragraph is not used.
    """
    label = int(rng.random() < 0.5)
    if label:
        answer = ex["correct_answer"]
    else:
        answer = rng.choice([ex["distractor1"], ex["distractor2"], ex["distractor3"]])
    return _classification(f"Q: {ex['question']} A: {answer}", label)


def format_boolq(ex: Row, rng: random.Random | None = None) -> Row:
    """google/boolq → ``"Passage: {passage}\\nQuestion: {question}"``, label = the boolean ``answer``."""
    return _classification(f"Passage: {ex['passage']}\nQuestion: {ex['question']}", int(bool(ex["answer"])))


def format_amazon_polarity(ex: Row, rng: random.Random | None = None) -> Row:
    """amazon_polarity → ``"{title} {content}"``, label = polarity (1 positive, 0 negative)."""
    return _classification(f"{ex['title']} {ex['content']}", int(ex["label"]))


COSMOS_NONE = "None of the above choices"


def format_cosmos_qa(ex: Row, rng: random.Random) -> Row:
    """allenai/cosmos_qa → ``"Context: {context}\\nQuestion: {question}\\nAnswer: {answer}"``.

    As the official code: label 1 (p = 0.5) shows the true answer ``answer{label}``, label 0 a uniformly
    chosen other answer; when the true answer is "None of the above choices ." the row is always a
    label-0 row (showing some other, wrong, answer). Keeps the dataset's own ``id``.
    """
    true_answer = ex[f"answer{int(ex['label'])}"]
    label = 0 if COSMOS_NONE in true_answer else int(rng.random() < 0.5)
    if label:
        answer = true_answer
    else:
        answer = rng.choice([ex[f"answer{i}"] for i in range(4) if ex[f"answer{i}"] != true_answer])
    out = _classification(f"Context: {ex['context']}\nQuestion: {ex['question']}\nAnswer: {answer}", label)
    if ex.get("id"):
        out["id"] = str(ex["id"])
    return out


def format_anthropic_hh(ex: Row, rng: random.Random) -> Row:
    """Anthropic/hh-rlhf (all subsets) → one transcript per pair, as the official code.

    With p = 0.5 the row shows the ``chosen`` transcript (label 1), else the ``rejected`` one (label 0);
    the text is the raw transcript ("\\n\\nHuman: ...\\n\\nAssistant: ..."). Every model sits at chance on
    this task in the official plots.
    """
    label = int(rng.random() < 0.5)
    return _classification(ex["chosen"] if label else ex["rejected"], label)


_hub_loader(
    "sciq", "classification", "allenai/sciq", format_sciq,
    "SciQ science questions: correct answer (1) vs a random distractor (0), Burns et al. formatting",
)
_hub_loader(
    "boolq", "classification", "google/boolq", format_boolq,
    "BoolQ passage + yes/no question → answer; test = the hub validation split",
    split_names={"test": "validation"},
)
_hub_loader(
    "amazon_polarity", "classification", "fancyzhx/amazon_polarity", format_amazon_polarity,
    "Amazon review polarity: title + content → positive (1) / negative (0)",
)
_hub_loader(
    "cosmos_qa", "classification", "allenai/cosmos_qa", format_cosmos_qa,
    "CosmosQA commonsense reading: true answer (1) vs a random wrong answer (0); test = hub validation",
    split_names={"test": "validation"},
)
_hub_loader(
    "anthropic_hh", "classification", "Anthropic/hh-rlhf", format_anthropic_hh,
    "HH-RLHF transcripts as classification: chosen (1) vs rejected (0), one per pair (at chance for all models)",
)

# ----------------------------------------------------------------------------------------------------
# prompts: IMDB review openings (weak-to-strong search, controlled sentiment)
# ----------------------------------------------------------------------------------------------------

#: words kept from the start of each review. The DPO / trl IMDB setups sample 2–8 *tokens*; the exact
#: prompts of Zhou et al. (their ``ZHZisZZ/imdb_preference`` set) are unverified, so we fix 8 words.
IMDB_PREFIX_WORDS = 8

_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def format_imdb_prompt(ex: Row, rng: random.Random | None = None, n_words: int = IMDB_PREFIX_WORDS) -> Row | None:
    """stanfordnlp/imdb → ``prompt`` = the first ``n_words`` words of the review.

    ``<br />`` tags become spaces and runs of whitespace collapse to one space; a review shorter than
    ``n_words`` is kept whole; an empty review is dropped. The review's sentiment ``label`` (1 positive)
    is kept as an extra column.
    """
    words = _HTML_BREAK.sub(" ", ex["text"]).split()
    if not words:
        return None
    return {"prompt": " ".join(words[:n_words]), "label": int(ex["label"])}


_hub_loader(
    "imdb", "prompts", "stanfordnlp/imdb", format_imdb_prompt,
    f"IMDB review openings (first {IMDB_PREFIX_WORDS} words) as prompts for controlled-sentiment generation",
    extra=("label",), may_drop=True,
)

# ----------------------------------------------------------------------------------------------------
# preference pairs: HH-RLHF helpful / harmless (single turn), PKU-SafeRLHF
# ----------------------------------------------------------------------------------------------------

_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):")


def split_transcript(text: str) -> list[tuple[str, str]]:
    """``"\\n\\nHuman: a\\n\\nAssistant: b"`` → ``[("Human", "a"), ("Assistant", "b")]`` (stripped).

    Text before the first role marker, if any, is ignored.
    """
    parts = _TURN.split(text)
    return [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]


def single_turn(text: str) -> tuple[str, str] | None:
    """(human turn, assistant reply) when ``text`` is exactly one Human turn then one Assistant turn."""
    turns = split_transcript(text)
    if [role for role, _ in turns] != ["Human", "Assistant"]:
        return None
    return turns[0][1], turns[1][1]


ASSISTANT = "\n\nAssistant:"


def split_prompt(chosen: str, rejected: str) -> tuple[str, str, str] | None:
    """An hh-rlhf pair in its own transcript format → ``(prompt, chosen reply, rejected reply)``.

    As the official scripts (and TRL's HH preprocessing): the prompt is the chosen transcript up to and
    including its last ``"\n\nAssistant:"``; each reply is the rest of its transcript (``" {reply}"``, with
    the leading space). So ``prompt + chosen`` *is* the raw chosen transcript (the reward model's text)
    and the prompt ends in ``"\n\nAssistant:"`` (the DPO prompt / response split). The rejected reply is
    kept as it is: with extra turns, or empty. ``None`` when the rejected transcript does not start with
    that prompt (another conversation).
    """
    cut = chosen.rfind(ASSISTANT)
    if cut < 0:
        return None
    prompt = chosen[: cut + len(ASSISTANT)]
    if not rejected.startswith(prompt):
        return None
    return prompt, chosen[len(prompt):], rejected[len(prompt):]


def format_hh_single_turn(ex: Row, rng: random.Random | None = None) -> Row | None:
    """hh-rlhf pair → ``prompt`` ``"\n\nHuman: {request}\n\nAssistant:"``, ``chosen`` / ``rejected``
    ``" {reply}"`` (:func:`split_prompt`), for dialogues whose **chosen** transcript is one Human turn and
    one Assistant turn (the paper's single-turn subset).

    Rows are kept as the official data keeps them: a rejected reply with extra turns, an empty reply or
    two identical replies stay in; only a pair whose chosen transcript has several turns, or whose
    rejected transcript is another conversation, is dropped (``None``).
    """
    if single_turn(ex["chosen"]) is None:
        return None
    parts = split_prompt(ex["chosen"], ex["rejected"])
    if parts is None:
        return None
    prompt, chosen, rejected = parts
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


_hub_loader(
    "hh_helpful", "preference", "Anthropic/hh-rlhf", format_hh_single_turn,
    "HH-RLHF helpful-base, single-turn dialogues in transcript format: prompt '\\n\\nHuman: …\\n\\nAssistant:' "
    "→ more / less helpful ' reply' (prompt + reply = the raw transcript)",
    data_dir="helpful-base", may_drop=True,
)
_hub_loader(
    "hh_harmless", "preference", "Anthropic/hh-rlhf", format_hh_single_turn,
    "HH-RLHF harmless-base, single-turn dialogues in transcript format: prompt '\\n\\nHuman: …\\n\\nAssistant:' "
    "→ more / less harmless ' reply' (prompt + reply = the raw transcript)",
    data_dir="harmless-base", may_drop=True,
)


def format_pku_saferlhf(ex: Row, rng: random.Random | None = None) -> Row:
    """PKU-Alignment/PKU-SafeRLHF → chosen = the safer response (``safer_response_id``).

    Extra columns: ``is_chosen_safe``, ``is_rejected_safe`` (from ``is_response_{0,1}_safe``) and
    ``chosen_is_better`` (whether the safer response is also the more helpful one, ``better_response_id``).
    """
    safer = int(ex["safer_response_id"])
    other = 1 - safer
    return {
        "prompt": ex["prompt"],
        "chosen": ex[f"response_{safer}"],
        "rejected": ex[f"response_{other}"],
        "is_chosen_safe": bool(ex[f"is_response_{safer}_safe"]),
        "is_rejected_safe": bool(ex[f"is_response_{other}_safe"]),
        "chosen_is_better": int(ex["better_response_id"]) == safer,
    }


_hub_loader(
    "pku_saferlhf", "preference", "PKU-Alignment/PKU-SafeRLHF", format_pku_saferlhf,
    "PKU-SafeRLHF: prompt → safer (chosen) vs less safe response, with per-response safety labels",
    extra=("is_chosen_safe", "is_rejected_safe", "chosen_is_better"),
)

# ----------------------------------------------------------------------------------------------------
# summarization: Reddit TL;DR
# ----------------------------------------------------------------------------------------------------


def format_tldr(ex: Row, rng: random.Random | None = None) -> Row:
    """CarperAI/openai_summarize_tldr → ``prompt`` as is ("SUBREDDIT: ...\\nPOST: ...\\nTL;DR:"),
    ``reference`` = the human summary ``label`` with surrounding whitespace stripped."""
    return {"prompt": ex["prompt"], "reference": ex["label"].strip()}


_hub_loader(
    "tldr", "summarization", "CarperAI/openai_summarize_tldr", format_tldr,
    "Reddit TL;DR posts → human reference summaries (OpenAI filtered set, CarperAI copy)",
)

# ----------------------------------------------------------------------------------------------------
# instruction following: AlpacaEval (weak-to-strong search, paper preset)
# ----------------------------------------------------------------------------------------------------


def format_alpaca_eval(ex: Row, rng: random.Random | None = None) -> Row:
    """tatsu-lab/alpaca_eval → ``prompt`` = the ``instruction`` as is; the reference ``output`` (the
    baseline model's answer, named by ``generator``) and the source ``dataset`` are kept as extra columns."""
    return {"prompt": ex["instruction"], "reference": ex["output"], "generator": ex["generator"],
            "source": ex["dataset"]}


_hub_loader(
    "alpaca_eval", "prompts", "tatsu-lab/alpaca_eval", format_alpaca_eval,
    "AlpacaEval: 805 instructions (test split only) with the baseline model's reference answers",
    extra=("reference", "generator", "source"), data_file="alpaca_eval.json", only_split="test",
    split_names={"test": "eval"},
)
