"""The ``w2s`` command.

    w2s list [datasets|models|presets|notebooks]
    w2s zoo build [--micro] [--world-seed N] [--force] [--rung NAME ...]
    w2s zoo build --chess [--micro] [--corpus NAME ...] [--data-seed N] [--force] [--rung NAME ...]
    w2s run NB [--preset P] [-p key=value ...] [-o OUT]
    w2s reproduce [--preset P] [--only 00,01] [--force] [--no-build] [--executor local|slurm …]
    w2s jobs plan NB [--preset P] [-p key=value ...]
    w2s jobs submit NB --executor local|slurm [--preset P] [-p key=value ...] [--partition …]
    w2s book
    w2s results
    w2s claims [--json] [--preset P]

A user mistake prints one line (``error: …``) and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from w2s_lib.core.config import PRESETS, parse_override
from w2s_lib.core.errors import W2SError

LISTABLE = ("datasets", "models", "presets", "notebooks")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage errors: one line, status 2
        raise W2SError(f"{message} (see `{self.prog} --help`)")


def _cmd_list(args) -> None:
    what = args.what
    if what in (None, "datasets"):
        from w2s_lib.data import list_datasets

        print("datasets:")
        for spec in list_datasets():
            where = "offline" if spec.offline else spec.hub_id
            print(f"  {spec.name:20s} {spec.task:15s} {where:32s} {spec.description}")
    if what in (None, "models"):
        from w2s_lib.models.zoo import list_models

        print("models:")
        for spec in list_models():
            where = "offline" if spec.offline else spec.hub_id
            print(f"  {spec.name:22s} {spec.kind:8s} {where:38s} {spec.description}")
    if what in (None, "presets"):
        print("presets: " + ", ".join(PRESETS) + "   (smoke is what tests run; tiny is the book's default)")
    if what in (None, "notebooks"):
        from w2s_lib.publish.book import NOTEBOOKS

        print("notebooks:")
        for nb in NOTEBOOKS:
            print(f"  {nb.key}  {nb.stem:28s} {nb.title}")


def _cmd_zoo(args) -> None:
    import os

    from w2s_lib.data.tinyworld.world import WORLD_SEED_ENV, current_world_seed
    from w2s_lib.models import tinygpt

    world = current_world_seed()  # the world the chapters of this shell read
    if args.world_seed is not None and os.environ.get(WORLD_SEED_ENV, "").strip() and args.world_seed != world:
        raise W2SError(f"--world-seed {args.world_seed} disagrees with {WORLD_SEED_ENV}={world}; give one of them")
    world = world if args.world_seed is None else args.world_seed
    if args.chess:
        _build_chess(args)
        return
    if args.corpus or args.data_seed is not None:
        raise W2SError("--corpus and --data-seed choose a chess ladder: add --chess")
    built = tinygpt.build_zoo(micro=args.micro, world_seed=world, force=args.force,
                              progress=not args.quiet, names=args.rung or None)
    for name, path in built.items():
        print(f"{name}: {path}")


def _build_chess(args) -> None:
    """`w2s zoo build --chess`: the chess ladders (every corpus unless --corpus) of one data seed."""
    from w2s_lib.models import chessgpt

    if args.world_seed is not None:
        raise W2SError("the chess ladders do not depend on the tiny world: give --data-seed, not --world-seed")
    if args.data_seed is not None and args.data_seed < 0:
        raise W2SError(f"--data-seed must be 0 or more, got {args.data_seed}")
    for corpus in args.corpus or list(chessgpt.CORPORA):
        built = chessgpt.build_ladder(args.data_seed or 0, micro=args.micro, names=args.rung or None,
                                      corpus=corpus, force=args.force)
        for name, path in built.items():
            print(f"{name} ({corpus}): {path}")


def parse_params(items: list[str]) -> dict:
    """``-p key=value`` items as a dict; a key given twice is an error (which one was meant?)."""
    params: dict = {}
    for item in items:
        key, value = parse_override(item)
        if key in params:
            raise W2SError(f"parameter {key} is given twice (-p {key}=…); give it once")
        params[key] = value
    return params


def parse_only(text: str | None) -> list[str] | None:
    """``--only 00,01`` as a list of chapter keys, each checked; an empty list (``--only ','``) is an error."""
    if text is None:
        return None
    from w2s_lib.publish.book import get_notebook

    keys = [s.strip() for s in text.split(",") if s.strip()]
    if not keys:
        raise W2SError(f"--only {text!r} names no chapter; give keys like --only 00,01 (see `w2s list notebooks`)")
    chosen = [get_notebook(k).key for k in keys]
    return list(dict.fromkeys(chosen))


def _cmd_run(args) -> None:
    from w2s_lib.publish.book import run

    params = parse_params(args.param)
    preset = args.preset or params.get("preset", "tiny")
    checked = json.loads(args.checked) if args.checked else None
    out = run(args.notebook, preset, params, output=args.output, progress=not args.quiet, checked=checked)
    print(f"executed: {out}")


def _cmd_reproduce(args) -> None:
    if args.executor:  # chapters and their runs as jobs (submitit): w2s_lib.publish.jobs
        return _submit_reproduce(args)
    from w2s_lib.publish.book import reproduce

    only = parse_only(args.only)
    reproduce(args.preset, only=only, force=args.force, build=not args.no_build, jobs=args.jobs)


def _job_options(args):
    from w2s_lib.publish.jobs import JobOptions

    return JobOptions(executor=args.executor, partition=args.partition, gpus_per_job=args.gpus_per_job,
                      cpus_per_job=args.cpus_per_job, mem_gb=args.mem_gb, timeout_min=args.timeout_min,
                      max_jobs=args.max_jobs, array_parallelism=args.array_parallelism)


def _submit_reproduce(args) -> None:
    from w2s_lib.publish.jobs import submit_reproduce

    submit_reproduce(args.preset, _job_options(args), only=parse_only(args.only), force=args.force, build=not args.no_build)


def _cmd_jobs(args) -> None:
    from w2s_lib.publish import jobs

    params = parse_params(args.param)
    if args.action == "plan":
        levels = jobs.stages(jobs.chapter_plan(args.notebook, args.preset, params))
        if not levels:
            print(f"{args.notebook}: no plan of independent runs (the chapter runs whole, as one job)")
        for k, stage in enumerate(levels, 1):
            print(f"stage {k} ({len(stage)} runs)")
            for t in stage:
                state = "finished" if t.done() else "to run"
                after = f"  after {', '.join(t.after)}" if t.after else ""
                print(f"  {t.run_id:28s} {state:9s} {t.label}{after}")
        return
    if not args.executor:
        raise W2SError("jobs submit needs --executor local or --executor slurm")
    jobs.submit_chapter_runs(args.notebook, args.preset, params, _job_options(args)).raise_for_failures()


def _add_executor_args(p, required: bool = False) -> None:
    from w2s_lib.publish.jobs import EXECUTORS

    g = p.add_argument_group("jobs (submitit)")
    g.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="submit as jobs: slurm (a cluster) or local (processes on this machine)"
                        + ("" if required else "; default: run here, one chapter after another"))
    g.add_argument("--partition", default=None, help="SLURM partition")
    g.add_argument("--gpus-per-job", type=int, default=0, help="GPUs per job (default 0: a CPU job; a local job sees only these GPUs; "
                        "N > 1: the job's runs train data-parallel through accelerate)")
    g.add_argument("--cpus-per-job", type=int, default=None)
    g.add_argument("--mem-gb", type=float, default=None)
    g.add_argument("--timeout-min", type=int, default=240, help="wall-clock limit per job (minutes)")
    g.add_argument("--max-jobs", type=int, default=None,
                   help="at most this many jobs per stage, each running its share of the runs "
                        "(default: one per run on SLURM, one per CPU core for local)")
    g.add_argument("--array-parallelism", type=int, default=None, help="SLURM: jobs of an array running at once")


def _cmd_book(args) -> None:
    from w2s_lib.publish.book import build_book

    build_book()


def _cmd_results(args) -> None:
    from w2s_lib.core.artifacts import results_table

    table = results_table()
    print("no finished runs yet" if table.empty else table.to_string(index=False))


def _cmd_claims(args) -> None:
    from w2s_lib.core.config import current_world_seed
    from w2s_lib.publish.claims import records, table

    if current_world_seed():
        print(f"generated world {current_world_seed()} (W2S_WORLD_SEED)", file=sys.stderr)
    if args.json:
        print(json.dumps(records(args.preset), indent=2, default=str))
    else:
        df = table(args.preset)
        print(df[["claim", "paper", "preset", "effect", "value", "ci95", "detectable", "seeds", "holds",
                  "control", "reason"]].to_string(index=False))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="w2s", description="weak-to-strong book: run chapters, build the zoo and the book")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="datasets, models, presets and notebooks")
    p.add_argument("what", nargs="?", choices=LISTABLE)
    p.set_defaults(fn=_cmd_list)

    p = sub.add_parser("zoo", help="the offline tiny GPT family (and, with --chess, the chess ladders)")
    p.add_argument("action", choices=("build",))
    p.add_argument("--micro", action="store_true", help="the seconds-sized zoo tests use")
    p.add_argument("--world-seed", type=int, default=None,
                   help="the world to build for (default: $W2S_WORLD_SEED, else 0 — the world the chapters read)")
    p.add_argument("--force", action="store_true", help="rebuild even if present")
    p.add_argument("--rung", action="append", default=[], metavar="NAME",
                   help="build only this rung (repeatable), e.g. --rung tinygpt-l")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--chess", action="store_true", help="build the chess GPT ladders (chapter 14) instead")
    p.add_argument("--corpus", action="append", default=[], metavar="NAME",
                   help="with --chess: only this pretraining corpus's ladder (repeatable), e.g. --corpus search")
    p.add_argument("--data-seed", type=int, default=None, help="with --chess: the puzzles' and corpus's seed (default 0)")
    p.set_defaults(fn=_cmd_zoo)

    p = sub.add_parser("run", help="execute one notebook with papermill")
    p.add_argument("notebook", help="key (00), stem (00_orientation) or path")
    p.add_argument("--preset", default=None, choices=PRESETS, help="scale (default tiny)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a notebook parameter or a config override (repeatable)")
    p.add_argument("-o", "--output", default=None, help="executed copy (default outputs/<preset>/<stem>.ipynb)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--checked", default=None, help=argparse.SUPPRESS)  # w2s reproduce: parameters it checked (JSON)
    p.set_defaults(fn=_cmd_run)

    p = sub.add_parser("reproduce", help="run every chapter, then build the book")
    p.add_argument("--preset", default="tiny", choices=PRESETS)
    p.add_argument("--only", default=None, help="comma-separated chapter keys, e.g. 00,01")
    p.add_argument("--force", action="store_true", help="re-run chapters that are up to date")
    p.add_argument("--no-build", action="store_true", help="skip the book build")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="chapters at once, each with cores/N threads (default: the machine's cores)")
    _add_executor_args(p)
    p.set_defaults(fn=_cmd_reproduce)

    p = sub.add_parser("jobs", help="one chapter's cached runs as job arrays (plan, or submit with submitit)")
    p.add_argument("action", choices=("plan", "submit"))
    p.add_argument("notebook", help="key (10), stem (10_naive_w2s) or path")
    p.add_argument("--preset", default="tiny", choices=PRESETS)
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a notebook parameter or a config override, as for `w2s run` (repeatable)")
    _add_executor_args(p, required=True)
    p.set_defaults(fn=_cmd_jobs)

    p = sub.add_parser("book", help="build the HTML book from the executed chapters")
    p.set_defaults(fn=_cmd_book)

    p = sub.add_parser("results", help="a table of every finished run")
    p.set_defaults(fn=_cmd_results)

    p = sub.add_parser("claims", help="the claims scorecard")
    p.add_argument("--json", action="store_true")
    p.add_argument("--preset", default=None, choices=PRESETS)
    p.set_defaults(fn=_cmd_claims)
    return parser


INTERRUPTED = "interrupted; finished steps are cached, run the same command again to resume"


def _say(line: str) -> None:
    """One line on stderr, whatever its characters (a non-UTF-8 argument is shown escaped)."""
    text = " ".join(str(line).split())
    stream = sys.stderr
    enc = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(enc, "backslashreplace").decode(enc, "replace") + "\n")
    stream.flush()


def _silence_after_interrupt() -> None:
    """After Ctrl-C: the kernel, nbclient and zmq threads may still print tracebacks while shutting down.
    Our one line is printed; everything after it on stderr is dropped."""
    import logging
    import os

    logging.disable(logging.CRITICAL)
    try:
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):  # no real stderr (e.g. captured in tests)
        pass


def main(argv: list[str] | None = None) -> int:
    import os
    import signal

    interrupted = False

    def _on_sigint(signum, frame):  # the first Ctrl-C: quiet the loggers at once, then unwind
        nonlocal interrupted
        if interrupted:  # a second Ctrl-C while unwinding: leave now, with the same one line
            _say(INTERRUPTED)
            os._exit(130)
        interrupted = True
        import logging

        logging.disable(logging.CRITICAL)
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread
        old = None
    try:
        args = build_parser().parse_args(argv)
        args.fn(args)
    except W2SError as exc:
        _say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _say(INTERRUPTED)
        _silence_after_interrupt()
        return 130
    except OSError as exc:  # the environment refused (disk full, permissions): one line naming the path
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        _say(f"error: {exc.strerror or type(exc).__name__}{where}; check that path and W2S_HOME")
        return 2
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    return 0


if __name__ == "__main__":
    sys.exit(main())
