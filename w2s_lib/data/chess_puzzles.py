"""Chess puzzles with a checkable best move, and the games the chess GPTs are pretrained on.

Burns et al. (2024) ran weak-to-strong on chess puzzles: given a position, predict the best move. Here the
puzzles are generated with python-chess, deterministically from a seed:

- **Positions**: a random legal position with both kings and one to three other pieces per side
  (:func:`random_position`). Few pieces keep the prompts short and the geometry learnable by a tiny GPT.
- **The criterion** (:func:`move_scores`): every legal move is scored exhaustively by a two-ply material
  search — the value of what it captures (plus what a promotion adds), minus the most the opponent can
  capture in reply; a move that mates scores :data:`MATE`, a reply that mates us makes a move score
  ``-MATE``, and a stalemating move scores 0. A position is a **puzzle** when its best move is unique and
  clearly best: it wins at least :data:`MIN_GAIN` (a minor piece) or mates, and every other legal move
  scores at least :data:`MARGIN` less (:func:`best_move`). So every answer is verifiable by brute force.
  Generation searches only the moves that can decide the answer (:func:`decisive_scores`, bounded by
  :func:`score_ceiling`): the same puzzles, byte for byte, at about a third of the CPU.
- **Text** (:func:`prompt`): the pieces of each side in a fixed order, e.g.
  ``"white: Kg1 Rd1 Pa2 black: Kg8 Qd5 move white:"``, and the answer is the move in SAN with a leading
  space and a newline, e.g. ``" Rxd5\\n"``. The games of the pretraining corpus (:func:`game_corpus`) are
  written as the same lines, one per ply: the position, then the move a noisy one-ply greedy player chose
  (:func:`policy_move`: mates and grabs the biggest piece, defended or not, or plays at random).

The registered dataset ``chess_puzzles`` has the ``completion`` columns ``prompt``, ``reference`` (the
best move in SAN), ``id``, plus ``fen``, ``legal`` (every legal move in SAN, the candidates a model
chooses from), ``uci`` and ``kind`` (``mate`` or ``material``). ``chess_puzzles_uci`` holds the same puzzles
with every move in UCI (:func:`in_notation`; measured for the chess ladder and not adopted, see
``benchmarks/chess_notation.py``); :func:`to_notation` rewrites a corpus line, :func:`board_of` reads a prompt
back as its position, and :func:`move_class` names a move's kind (piece, capture or quiet) for error tables. Generation costs a few seconds per
thousand puzzles; each split is cached under ``$W2S_HOME/chess/data`` (written atomically).

**Traps** (``chess_traps``, the chapter's puzzles since round 6: ``benchmarks/chess_traps.py``, ``chess_traps_long.py``): a
one-ply grabber (:func:`grabber_moves`: mate, else the biggest capture) answers about 97 % of the plain puzzles;
a puzzle is a *trap* when the grabber misses its answer (:func:`is_trap`), about 1 % of them. With ``traps`` > 0
(:func:`generate_puzzles`, :func:`position_corpus`) that share of the slots (:func:`trap_slot`) holds a planted
trap (:func:`planted_trap`): a defended rook or queen put en prise on a random puzzle, kept when the unchanged
criterion's answer is elsewhere. 2000 puzzles with :data:`TRAP_SHARE` 0.4 cost about 16 s CPU (the plain ones
3 s); the files of ``traps`` 0 keep their names and bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from functools import lru_cache

import datasets

from w2s_lib.core import paths
from w2s_lib.core.config import is_smoke
from w2s_lib.core.errors import W2SError
from w2s_lib.data.registry import register

VERSION = "cp1"
MATE = 100
MIN_GAIN = 3  # the best move wins at least a minor piece (or mates)
MARGIN = 2  # ... and beats every other legal move by at least two pawns
VALUES = {1: 1, 2: 3, 3: 3, 4: 5, 5: 9, 6: 0}  # python-chess piece types: P N B R Q K
LETTERS = {1: "P", 2: "N", 3: "B", 4: "R", 5: "Q", 6: "K"}
# Puzzles per split: full (tiny and above) and micro (W2S_SMOKE=1: tests, nbval)
N_PUZZLES = {"train": 1600, "test": 400}
MICRO_PUZZLES = {"train": 240, "test": 80}
SPLITS = ("train", "test")
#: The share of *traps* in the registered trap-rich puzzles ``chess_traps`` (:func:`planted_trap`; round 5 of
#: the chess world, ``benchmarks/chess_traps.py``). The plain ``chess_puzzles`` have about 1 % (no planting).
TRAP_SHARE = 0.4
TRAPS_DATASET = "chess_traps"


def _chess():
    try:
        import chess
    except ImportError:  # pragma: no cover - a dependency of the package
        raise W2SError("the chess chapter needs python-chess: pip install chess") from None
    return chess


def _rng(*key: object) -> random.Random:
    return random.Random(int(hashlib.sha256(repr((VERSION,) + key).encode()).hexdigest()[:16], 16))


# ----------------------------------------------------------------------------- positions and criterion
def random_position(rng: random.Random, max_pieces: int = 3):
    """A random legal, not-yet-decided position: two kings and 1..``max_pieces`` other pieces a side."""
    chess = _chess()
    while True:
        board = chess.Board(None)
        counts = [rng.randint(1, max_pieces), rng.randint(1, max_pieces)]
        squares = rng.sample(range(64), 2 + sum(counts))
        board.set_piece_at(squares[0], chess.Piece(chess.KING, chess.WHITE))
        board.set_piece_at(squares[1], chess.Piece(chess.KING, chess.BLACK))
        k = 2
        for color, n in zip((chess.WHITE, chess.BLACK), counts):
            for _ in range(n):
                pt = rng.choice((chess.PAWN, chess.KNIGHT, chess.BISHOP, chess.ROOK, chess.QUEEN))
                if pt == chess.PAWN and chess.square_rank(squares[k]) in (0, 7):
                    pt = chess.KNIGHT
                board.set_piece_at(squares[k], chess.Piece(pt, color))
                k += 1
        board.turn = rng.random() < 0.5
        if board.is_valid() and not board.is_game_over():
            return board


def gain(board, move) -> int:
    """Material ``move`` wins at once: the captured piece, plus a promotion's upgrade."""
    g = 1 if board.is_en_passant(move) else VALUES[board.piece_type_at(move.to_square)] if board.is_capture(move) else 0
    if move.promotion:
        g += VALUES[move.promotion] - 1
    return g


def move_score(board, move) -> int:
    """One legal move's two-ply material score (see the module doc). ``board`` is left unchanged."""
    g = gain(board, move)
    board.push(move)
    try:
        if board.is_checkmate():
            return MATE
        replies = list(board.legal_moves)
        if not replies:  # stalemate: a draw, whatever was captured
            return 0
        worst = 0
        for r in replies:
            board.push(r)
            mated = board.is_checkmate()
            board.pop()
            worst = max(worst, MATE if mated else gain(board, r))
        return g - worst
    finally:
        board.pop()


def move_scores(board) -> dict:
    """Every legal move → its two-ply material score (see the module doc). ``board`` is left unchanged."""
    return {move: move_score(board, move) for move in list(board.legal_moves)}


def score_ceiling(board, move) -> int:
    """An upper bound of :func:`move_score`: a move scores :data:`MATE` only by mating, which needs a check,
    and otherwise at most what it wins at once (the best reply's capture is worth ≥ 0)."""
    return MATE if board.gives_check(move) else gain(board, move)


def decisive_scores(board) -> dict:
    """Every legal move → its :func:`move_score`, or an upper bound of it where the exact score cannot change
    :func:`best_move`'s answer: moves are scored in descending order of :func:`score_ceiling` and scoring
    stops once the rest can neither enter the top two nor close the top move's margin (or none can reach
    :data:`MIN_GAIN`). ``best_move(board, decisive_scores(board))`` is ``best_move(board, move_scores(board))``
    for every position (tested), at a fraction of the cost: most quiet moves are never searched."""
    moves = list(board.legal_moves)
    bounds = {m: score_ceiling(board, m) for m in moves}
    out = dict(bounds)
    exact: list[int] = []  # scored so far, descending
    for m in sorted(moves, key=lambda m: -bounds[m]):  # stable: ties keep the legal-move order
        b = bounds[m]
        e1 = exact[0] if exact else -MATE - 1
        e2 = exact[1] if len(exact) > 1 else -MATE - 1
        if b < MIN_GAIN and e1 < MIN_GAIN:  # no move left can reach MIN_GAIN
            break
        if b <= e2 or (b <= e1 - MARGIN and e1 - e2 >= MARGIN):  # the top two, or the top and its margin, are settled
            break
        out[m] = move_score(board, m)
        exact = sorted(exact + [out[m]], reverse=True)
    return out


def _may_be_puzzle(board) -> bool:
    """False when no move can reach MIN_GAIN: no move scores above what it wins at once unless it mates,
    and only a check can mate. Exact, and it skips the two-ply search for most random positions."""
    moves = list(board.legal_moves)
    return max((gain(board, m) for m in moves), default=0) >= MIN_GAIN or any(map(board.gives_check, moves))


def best_move(board, scores: dict | None = None):
    """The puzzle's answer if ``board`` is a puzzle (unique, clearly best move), else None. ``scores``:
    :func:`move_scores` of ``board``, or :func:`decisive_scores` (computed here when not given)."""
    if scores is None:
        if not _may_be_puzzle(board):
            return None
        scores = decisive_scores(board)
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    top, s = ranked[0]
    if s < MIN_GAIN:
        return None
    if len(ranked) > 1 and s - ranked[1][1] < MARGIN:
        return None
    return top


# ----------------------------------------------------------------------------- text
def pieces(board, color) -> str:
    """``"Kg1 Qd1 Pa2"``: king first, then queen, rooks, bishops, knights, pawns, each by square."""
    chess = _chess()
    out = []
    for pt in (chess.KING, chess.QUEEN, chess.ROOK, chess.BISHOP, chess.KNIGHT, chess.PAWN):
        out += [LETTERS[pt] + chess.square_name(sq) for sq in sorted(board.pieces(pt, color))]
    return " ".join(out)


def prompt(board) -> str:
    """The position as the models read it; the move follows after a space."""
    chess = _chess()
    side = "white" if board.turn == chess.WHITE else "black"
    return f"white: {pieces(board, chess.WHITE)} black: {pieces(board, chess.BLACK)} move {side}:"


def answer_text(san: str) -> str:
    """What follows the prompt: `` <SAN>`` and the line end (so no move is a prefix of another)."""
    return f" {san}\n"


NOTATIONS = ("san", "uci")
#: The registered dataset of each notation (the same puzzles; only the moves' text differs).
DATASETS = {"san": "chess_puzzles", "uci": "chess_puzzles_uci"}
_UCI = re.compile(r"^[a-h][1-8][a-h][1-8][qrbn]?$")


def move_text(board, move, notation: str = "san") -> str:
    """``move`` as text: SAN (``"Nxd5"``, the piece letter first) or UCI (``"c3d5"``: from-square, to-square,
    a promotion's piece letter last)."""
    if notation not in NOTATIONS:
        raise W2SError(f"unknown notation {notation!r}; choose one of: {', '.join(NOTATIONS)}")
    return move.uci() if notation == "uci" else board.san(move)


def parse_move(board, text: str):
    """The legal move of ``board`` written ``text`` in either notation (UCI when it looks like one)."""
    chess = _chess()
    try:
        move = chess.Move.from_uci(text) if _UCI.match(text) else board.parse_san(text)
    except ValueError as e:
        raise W2SError(f"{text!r} is not a legal move here ({e})") from None
    if move not in board.legal_moves:
        raise W2SError(f"{text!r} is not a legal move here")
    return move


def board_of(prompt_text: str):
    """The position a :func:`prompt` describes (no castling rights or en-passant square: the puzzles' positions
    have none) — the inverse of :func:`prompt`."""
    chess = _chess()
    m = re.fullmatch(r"white: (.*) black: (.*) move (white|black):", prompt_text)
    if m is None:
        raise W2SError(f"not a chess prompt: {prompt_text[:60]!r}")
    board = chess.Board(None)
    for color, spec in ((chess.WHITE, m.group(1)), (chess.BLACK, m.group(2))):
        for p in spec.split():
            sym = p[0] if color == chess.WHITE else p[0].lower()
            board.set_piece_at(chess.parse_square(p[1:]), chess.Piece.from_symbol(sym))
    board.turn = m.group(3) == "white"
    return board


def to_notation(line: str, notation: str) -> str:
    """A corpus line ``prompt + answer_text(move)`` (the move in SAN, as generated) with its move rewritten
    in ``notation``."""
    if notation == "san":
        return line
    head, _, move = line.rstrip("\n").rpartition(": ")
    board = board_of(head + ":")
    return head + ":" + answer_text(move_text(board, parse_move(board, move), notation))


#: Surface formats of a pretraining line (:func:`in_format`). ``puzzle``: the puzzles' own text (:func:`prompt`).
#: ``swap``: the same piece tokens, the side to move first, black's pieces before white's, a different cue
#: (``"white to play; black Kg8 Pa7; white Kg1 Qd1; best:"``). ``squares``: each piece written square first,
#: black's in lower case, in square order a1 … h8 (``"white to play; d1Q g1K a7p g8k; best:"``).
FORMATS = ("puzzle", "swap", "squares")


def in_format(line: str, fmt: str) -> str:
    """A corpus line ``prompt + answer_text(move)`` rewritten in surface format ``fmt`` (:data:`FORMATS`); the
    move and its text are unchanged and the line still ends ``": <move>\\n"`` (the move follows the last colon)."""
    if fmt not in FORMATS:
        raise W2SError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if fmt == "puzzle":
        return line
    head, _, move = line.rstrip("\n").rpartition(": ")
    m = re.fullmatch(r"white: (.*) black: (.*) move (white|black)", head)
    if m is None:
        raise W2SError(f"not a chess corpus line: {line[:60]!r}")
    white, black, side = m.groups()
    if fmt == "swap":
        body = f"black {black}; white {white}"
    else:
        board = board_of(head + ":")
        chess = _chess()
        body = " ".join(chess.square_name(sq) + board.piece_at(sq).symbol() for sq in sorted(board.piece_map()))
    return f"{side} to play; {body}; best:" + answer_text(move)


def move_class(fen: str, move: str) -> str:
    """What kind of move ``move`` (either notation) is in the position ``fen``: the moving piece's letter,
    then ``x`` for a capture or ``-`` for a quiet move (e.g. ``"K-"``: a king move that captures nothing)."""
    chess = _chess()
    board = chess.Board(fen)
    m = parse_move(board, move)
    return LETTERS[board.piece_type_at(m.from_square)] + ("x" if board.is_capture(m) else "-")


def in_notation(row: dict, notation: str) -> dict:
    """A puzzle row with ``reference`` and ``legal`` in ``notation`` (``san``: the SAN answer, kept)."""
    if notation == "san":
        return row
    chess = _chess()
    board = chess.Board(row["fen"])
    legal = sorted(move_text(board, m, notation) for m in board.legal_moves)
    return {**row, "reference": move_text(board, chess.Move.from_uci(row["uci"]), notation), "legal": legal,
            "san": row["reference"]}


def unicode_board(fen: str) -> str:
    """A text board (unicode pieces, rank 8 at the top) for showing a puzzle."""
    chess = _chess()
    return chess.Board(fen).unicode(borders=True, empty_square="·")


# ----------------------------------------------------------------------------- traps
def grabber_moves(board) -> list:
    """The one-ply grabber's choices in ``board``: every legal move of the highest :func:`greedy_score` (mate,
    else the biggest capture; all legal moves tie when nothing can be taken)."""
    scores = {m: greedy_score(board, m) for m in board.legal_moves}
    top = max(scores.values(), default=0)
    return [m for m, v in scores.items() if v == top]


def grabber_sans(fen: str) -> set[str]:
    """The one-ply grabber's choices (:func:`grabber_moves`) in the position ``fen``, in SAN: what a student
    that *grabs* would answer there."""
    board = _chess().Board(fen)
    return {board.san(m) for m in grabber_moves(board)}


def is_trap(board, move) -> bool:
    """Whether ``move`` (a puzzle's answer) is *not* among the grabber's choices: grabbing loses here — the
    criterion's two-ply score prefers another move to the biggest capture (which is defended, or lets a bigger
    piece or a mate be taken back)."""
    return move not in grabber_moves(board)


def _check_traps(traps: float) -> None:
    if not isinstance(traps, (int, float)) or not 0.0 <= traps <= 1.0:
        raise W2SError(f"traps is the share of trap puzzles, in [0, 1]; got {traps!r}")


def trap_slot(i: int, traps: float) -> bool:
    """Whether the ``i``-th puzzle (from 0) of a set with trap share ``traps`` is a planted trap: every slot
    where ``floor((i + 1) · traps)`` steps up, so any prefix holds ``traps`` of them to within one."""
    return int((i + 1) * traps) > int(i * traps)


BAITS = (4, 5)  # python-chess ROOK, QUEEN: baits worth more than the minor piece or rook an answer wins
PLANT_TRIES = 3  # baits tried on one position before drawing another


def may_hold_trap(board) -> bool:
    """False when no bait can be planted whatever the answer (:func:`bait_options`): grabbing a bait loses
    only for a taker worth at least a rook, so the side to move needs a rook or a queen. A cheap test before
    the criterion's search."""
    chess = _chess()
    return bool(board.pieces(chess.ROOK, board.turn) or board.pieces(chess.QUEEN, board.turn))


def bait_options(board, move, score: int) -> list[tuple[int, int]]:
    """Where a *bait* — a rook or queen of the side not to move — can go in the puzzle ``board`` (answer
    ``move``, two-ply ``score``) so that grabbing it loses: ``(square, piece type)`` pairs with an empty square
    the other side defends, attacked by at least one piece (not the king) of the side to move and by none
    cheap enough to win by taking it (every attacker is worth at least the bait minus ``score - MARGIN``), and
    the bait worth more than ``move`` wins (so the grabber prefers it)."""
    chess = _chess()
    us = board.turn
    won = gain(board, move)
    options = []
    for sq in chess.SQUARES:
        if board.piece_at(sq) is not None or not board.attackers(not us, sq):
            continue
        values = [VALUES[board.piece_type_at(a)] for a in board.attackers(us, sq)
                  if board.piece_type_at(a) != chess.KING]
        options += [(sq, bait) for bait in BAITS
                    if values and VALUES[bait] > won and min(values) >= VALUES[bait] - (score - MARGIN)]
    return options


def planted_trap(board, move, scores: dict, rng: random.Random):
    """A trap puzzle grown from the puzzle ``board`` (answer ``move``, its ``scores``): up to
    :data:`PLANT_TRIES` baits (:func:`bait_options`, drawn without replacement) are planted in turn and the
    first position that is still a legal puzzle whose answer the grabber misses (:func:`is_trap`) is kept — the
    bait can also block, attack or defend, so the criterion decides. Returns ``(board, move, scores)`` of the
    trap, or None (the caller draws another position). A mate is never a trap (the grabber mates too)."""
    chess = _chess()
    if scores[move] >= MATE:
        return None
    options = bait_options(board, move, scores[move])
    for sq, bait in rng.sample(options, min(PLANT_TRIES, len(options))):
        trap = board.copy()
        trap.set_piece_at(sq, chess.Piece(bait, not board.turn))
        if not trap.is_valid() or trap.is_game_over() or not _may_be_puzzle(trap):
            continue
        tscores = decisive_scores(trap)
        tmove = best_move(trap, tscores)
        if tmove is not None and is_trap(trap, tmove):
            return trap, tmove, tscores
    return None


# ----------------------------------------------------------------------------- puzzles
def _puzzle_row(board, move, score: int, idx: str) -> dict:
    return {"prompt": prompt(board), "reference": board.san(move), "id": idx, "fen": board.fen(),
            "legal": sorted(board.san(m) for m in board.legal_moves), "uci": move.uci(),
            "kind": "mate" if score >= MATE else "material"}


def generate_puzzles(n: int, seed: int, split: str, exclude: frozenset[str] = frozenset(),
                     traps: float = 0.0) -> list[dict]:
    """``n`` distinct puzzles for (``seed``, ``split``), none whose FEN is in ``exclude``. Deterministic.
    ``traps``: the share of puzzles that are planted traps (:func:`trap_slot`, :func:`planted_trap`); 0: the
    original puzzles, byte for byte."""
    if split not in SPLITS:
        raise W2SError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    _check_traps(traps)
    rng = _rng("puzzles", seed, split, *((traps,) if traps else ()))
    rows, seen = [], set(exclude)
    tries = 0
    while len(rows) < n:
        tries += 1
        if tries > 200 * max(n, 1):  # pragma: no cover - about one position in four is a puzzle
            raise W2SError(f"could not generate {n} puzzles; lower n")
        board = random_position(rng)
        fen = board.board_fen()
        trap = trap_slot(len(rows), traps)
        if fen in seen or (trap and not may_hold_trap(board)):
            continue
        if not _may_be_puzzle(board):
            continue
        scores = decisive_scores(board)
        move = best_move(board, scores)
        if move is None:
            continue
        if trap:
            planted = planted_trap(board, move, scores, rng)
            if planted is None or planted[0].board_fen() in seen:
                continue
            board, move, scores = planted
            fen = board.board_fen()
        seen.add(fen)
        rows.append(_puzzle_row(board, move, scores[move], f"chess-{seed}-{split}-{len(rows)}"))
    return rows


def _sizes(micro: bool) -> dict[str, int]:
    return MICRO_PUZZLES if micro else N_PUZZLES


def data_dir():
    return paths.home() / "chess" / "data"


@lru_cache(maxsize=16)
def puzzle_rows(seed: int, split: str, micro: bool, traps: float = 0.0) -> tuple[dict, ...]:
    """All puzzles of ``split`` (train and test never share a position), cached on disk. ``traps``: the share
    of planted traps (:func:`generate_puzzles`; 0: the original puzzles and file names)."""
    from w2s_lib.core.artifacts import atomic_write_text

    if split not in SPLITS:
        raise W2SError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    _check_traps(traps)
    kind = f"-traps{traps}" if traps else ""
    path = data_dir() / f"{VERSION}{kind}-seed{seed}{'-micro' if micro else ''}-{split}.json"
    try:
        return tuple(json.loads(path.read_text()))
    except (OSError, ValueError):
        pass
    exclude = frozenset()
    if split == "test":
        exclude = frozenset(r["fen"].split(" ")[0] for r in puzzle_rows(seed, "train", micro, traps))
    rows = generate_puzzles(_sizes(micro)[split], seed, split, exclude, traps)
    atomic_write_text(path, json.dumps(rows))
    return tuple(rows)


@register("chess_puzzles", "completion",
          "generated chess puzzles (python-chess): position → the unique best move (SAN), verified by a "
          "two-ply material/mate search over every legal move")
def load_chess_puzzles(split: str, seed: int) -> datasets.Dataset:
    return datasets.Dataset.from_list(list(puzzle_rows(seed, split, is_smoke())))


@register(TRAPS_DATASET, "completion",
          f"the chess_puzzles generator with {TRAP_SHARE:.0%} planted traps: puzzles whose answer the one-ply "
          "grabber misses (a defended rook or queen is en prise; the criterion's move wins elsewhere)")
def load_chess_traps(split: str, seed: int) -> datasets.Dataset:
    return datasets.Dataset.from_list(list(puzzle_rows(seed, split, is_smoke(), TRAP_SHARE)))


@register("chess_puzzles_uci", "completion",
          "the chess_puzzles puzzles with every move in UCI (from-square, to-square: no piece letter first); "
          "`san` keeps the SAN answer")
def load_chess_puzzles_uci(split: str, seed: int) -> datasets.Dataset:
    return datasets.Dataset.from_list([in_notation(r, "uci") for r in puzzle_rows(seed, split, is_smoke())])


# ----------------------------------------------------------------------------- pretraining games
def greedy_score(board, move) -> int:
    """The one-ply player's value of ``move``: MATE if it mates, else what it wins at once."""
    if board.gives_check(move):
        board.push(move)
        mate = board.is_checkmate()
        board.pop()
        if mate:
            return MATE
    return gain(board, move)


PLAYERS = ("greedy", "search")


def policy_move(board, rng: random.Random, p_best: float, player: str = "greedy", table: dict | None = None):
    """A noisy player: with probability ``p_best`` its best move (ties broken at random), else a uniformly
    random legal move. ``player="greedy"`` looks one ply ahead (mates, or grabs the biggest piece, defended
    or not — which the puzzles punish); ``"search"`` plays the puzzles' own two-ply criterion
    (:func:`move_scores`): it wins material only where the reply does not win it back, and never hangs a
    piece or allows a mate when it sees a better move. ``table``: :func:`move_scores` of ``board`` when the
    caller has it already (the same move as without it)."""
    if player not in PLAYERS:
        raise W2SError(f"unknown player {player!r}; choose one of: {', '.join(PLAYERS)}")
    moves = sorted(board.legal_moves, key=lambda m: m.uci())
    if rng.random() >= p_best:
        return rng.choice(moves)
    if player == "greedy":
        scores = [greedy_score(board, m) for m in moves]
    else:
        table = move_scores(board) if table is None else table
        scores = [table[m] for m in moves]
    top = max(scores)
    return rng.choice([m for m, s in zip(moves, scores) if s == top])


#: Systematic novices (:func:`novice_move`): a plausible, position-dependent rule that is never the puzzles' answer.
#: ``approach``: move the side's most valuable piece (the king last) to the square nearest the enemy king,
#: without capturing, promoting or mating.
NOVICES = ("approach",)


def novice_move(board, rule: str = "approach"):
    """The move of a systematic novice (:data:`NOVICES`), deterministic in the position, or None when it has
    no move. ``approach``: among the *quiet* moves (no capture, no promotion, no mate: :func:`greedy_score` 0)
    those of the most valuable piece (:data:`VALUES`; the king counts 0, so it moves only when nothing else
    can), and of those the one ending nearest the enemy king (Chebyshev, then Manhattan distance), ties by
    UCI. A quiet move wins nothing, so it is never a puzzle's answer (which wins ≥ :data:`MIN_GAIN` or mates):
    the novice disagrees with the criterion on every clear position, yet its move depends on the position."""
    if rule not in NOVICES:
        raise W2SError(f"unknown novice {rule!r}; choose one of: {', '.join(NOVICES)}")
    chess = _chess()
    king = board.king(not board.turn)
    quiet = [m for m in board.legal_moves if greedy_score(board, m) == 0]
    if not quiet or king is None:
        return None

    def key(m):
        to = m.to_square
        dist = (chess.square_distance(to, king), chess.square_manhattan_distance(to, king))
        return (-VALUES[board.piece_type_at(m.from_square)], *dist, m.uci())

    return min(quiet, key=key)


def game(rng: random.Random, p_best: float, max_plies: int, player: str = "greedy") -> str:
    """One game from a random position, one line per ply: ``prompt + answer_text(move)``."""
    board = random_position(rng)
    lines = []
    for _ in range(max_plies):
        if board.is_game_over():
            break
        move = policy_move(board, rng, p_best, player)
        lines.append(prompt(board) + answer_text(board.san(move)))
        board.push(move)
    return "".join(lines)


@lru_cache(maxsize=4)
def game_corpus(seed: int, n_games: int, p_best: float = 0.7, max_plies: int = 12,
                player: str = "greedy") -> tuple[str, ...]:
    """``n_games`` games (documents) for pretraining, deterministic in ``seed``. Their start positions
    come from a different random stream than the puzzles' (so the puzzles are not copied in). The
    two-ply ``"search"`` player's games cost a few ms a ply; they are cached on disk like the puzzles."""
    from w2s_lib.core.artifacts import atomic_write_text

    if n_games < 1:
        raise W2SError(f"n_games must be ≥ 1, got {n_games}")
    if player not in PLAYERS:
        raise W2SError(f"unknown player {player!r}; choose one of: {', '.join(PLAYERS)}")
    if player == "greedy":  # the original stream (its ladder's cache keys stay valid)
        return _greedy_games(seed, n_games, p_best, max_plies)
    path = data_dir() / f"{VERSION}-games-{player}-seed{seed}-{n_games}-{p_best}-{max_plies}.json"
    try:
        return tuple(json.loads(path.read_text()))
    except (OSError, ValueError):
        pass
    rng = _rng("games", seed, p_best, max_plies, player)
    games = [game(rng, p_best, max_plies, player) for _ in range(n_games)]
    atomic_write_text(path, json.dumps(games))
    return tuple(games)


@lru_cache(maxsize=4)
def position_corpus(seed: int, n: int, p_best: float = 0.8, micro: bool = False,
                    clear_only: bool = False, novice: str | None = None, q: float = 1.0,
                    traps: float = 0.0) -> tuple[str, ...]:
    """``n`` annotated positions for pretraining, one line each (``prompt + answer_text(move)``): random
    positions in which some move can win material or give check (the rest have nothing to learn), each with
    the move of the two-ply ``search`` player (:func:`policy_move`: its best with probability ``p_best``,
    else a random legal move). A position of the test puzzles is never included. Deterministic in ``seed``,
    cached on disk (a few ms a position).

    ``clear_only``: only positions with one clearly best move (the puzzles' criterion, :func:`best_move`) —
    the positions a strong player's games teach something in — and none of the train or test puzzles'
    positions (about 8 ms a position: ~ one random position in four qualifies).

    ``novice`` (:data:`NOVICES`; None: none): a mixed-player corpus — each position keeps the two-ply player's
    move with probability ``q``, else gets the systematic novice's (:func:`novice_move`; the player's when the
    novice has no move). The coin has its own random stream, so the positions (and the player's moves) are
    those of the corpus without a novice whatever ``q``; with ``q`` < 0.5 the corpus's commonest move in a
    position is the novice's and the expert's is a minority mode.

    ``traps`` (``clear_only`` only): the share of positions that are planted traps, as in the puzzles
    (:func:`generate_puzzles`); the puzzles held out are then those with the same share."""
    from w2s_lib.core.artifacts import atomic_write_text

    if n < 1:
        raise W2SError(f"n must be ≥ 1, got {n}")
    if novice is not None and novice not in NOVICES:
        raise W2SError(f"unknown novice {novice!r}; choose one of: {', '.join(NOVICES)}")
    if not 0.0 <= q <= 1.0:
        raise W2SError(f"q is a probability, got {q}")
    _check_traps(traps)
    if traps and not clear_only:
        raise W2SError("traps are puzzles: a trap-rich corpus needs clear_only=True")
    kind = "-clear" if clear_only else ""
    if traps:  # the corpora without traps keep their file names
        kind += f"-traps{traps}"
    if novice is not None:  # the corpus without a novice keeps its file name
        kind += f"-{novice}{q}"
    path = data_dir() / f"{VERSION}-positions{kind}-seed{seed}-{n}-{p_best}{'-micro' if micro else ''}.json"
    try:
        return tuple(json.loads(path.read_text()))
    except (OSError, ValueError):
        pass
    held_out = {r["fen"].split(" ")[0] for r in puzzle_rows(seed, "test", micro, traps)}
    if clear_only:
        held_out |= {r["fen"].split(" ")[0] for r in puzzle_rows(seed, "train", micro, traps)}
    rng = _rng("positions-clear" if clear_only else "positions", seed, p_best, *((traps,) if traps else ()))
    coin = _rng("novice", seed, novice, q)
    lines: list[str] = []
    while len(lines) < n:
        board = random_position(rng)
        trap = trap_slot(len(lines), traps)
        if board.board_fen() in held_out or (trap and not may_hold_trap(board)) or not _may_be_puzzle(board):
            continue
        # a clear position's decisive scores pick the same (unique) best move as the full table
        table = decisive_scores(board) if clear_only else None
        best = best_move(board, table) if clear_only else None
        if clear_only and best is None:
            continue
        if trap:
            planted = planted_trap(board, best, table, rng)
            if planted is None or planted[0].board_fen() in held_out:
                continue
            board, _, table = planted
        move = policy_move(board, rng, p_best, "search", table)
        if novice is not None and coin.random() >= q:
            move = novice_move(board, novice) or move
        lines.append(prompt(board) + answer_text(board.san(move)))
    atomic_write_text(path, json.dumps(lines))
    return tuple(lines)


def _greedy_games(seed: int, n_games: int, p_best: float, max_plies: int) -> tuple[str, ...]:
    rng = _rng("games", seed, p_best, max_plies)
    return tuple(game(rng, p_best, max_plies) for _ in range(n_games))
