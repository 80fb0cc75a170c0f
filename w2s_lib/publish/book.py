"""Notebooks → papermill → the book.

papermill is the one thing that executes notebooks. ``run`` executes one notebook with a preset and
parameters; ``reproduce`` runs every chapter into ``book/chapters/`` (the copies the book renders,
resuming where a previous call stopped) and then builds the book with execution off. The cell that
papermill injects with the parameters is each page's provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from w2s_lib.core import paths
from w2s_lib.core.artifacts import atomic_write_json, clean_debris
from w2s_lib.core.config import PRESETS, Config, is_smoke
from w2s_lib.core.errors import W2SError, unknown

NOTEBOOK_DIR = paths.REPO_ROOT / "notebooks"
CHAPTER_DIR = paths.REPO_ROOT / "book" / "chapters"
BUILD_DIR = paths.REPO_ROOT / "book" / "_build"


@dataclass(frozen=True)
class Notebook:
    key: str  # "00"
    stem: str  # "00_orientation"
    title: str
    config: str | None = None  # dotted path of the config class that validates `overrides`
    reads_claims: bool = False  # shows the claims other chapters registered: stale once any claim is newer
    needs_zoo: bool = False  # loads the tiny GPT zoo at the tiny preset: waits for `w2s zoo build`
    zoo_from_config: bool = False  # its default tiny config names every tiny GPT it loads: waits for those rungs only
    needs_chess: bool = False  # loads the chess ladders (chess.pretrained_ladders): waits for `w2s zoo build --chess`
    est_cpu_s: float = 60.0  # CPU seconds at tiny, last measured; orders a fresh clone's first reproduce

    @property
    def path(self) -> Path:
        return NOTEBOOK_DIR / f"{self.stem}.ipynb"

    def config_class(self) -> type[Config] | None:
        if self.config is None:
            return None
        module, _, name = self.config.rpartition(".")
        import importlib

        return getattr(importlib.import_module(module), name)


#: The chapters, in book order. The scorecard runs last: it reads the claims the others registered.
NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook("00", "00_orientation", "Orientation: weak-to-strong in one notebook",
             "w2s_lib.generalization.pipeline.W2SConfig", est_cpu_s=94),
    Notebook("01", "01_tiny_world", "The tiny world", needs_zoo=True, est_cpu_s=26),
    Notebook("10", "10_naive_w2s", "Naive weak-to-strong finetuning and PGR across a ladder",
             "w2s_lib.generalization.pipeline.W2SConfig", est_cpu_s=50),
    Notebook("11", "11_confidence_loss", "The auxiliary confidence loss vs naive finetuning",
             "w2s_lib.generalization.pipeline.W2SConfig", est_cpu_s=35),
    Notebook("12", "12_bootstrapping", "Bootstrapping through intermediate models",
             "w2s_lib.generalization.pipeline.W2SConfig", est_cpu_s=15),
    Notebook("13", "13_generative_finetuning", "Generative finetuning and reward modelling",
             "w2s_lib.generalization.pipeline.W2SConfig", needs_zoo=True, est_cpu_s=145),  # reward models: tiny GPTs
    Notebook("14", "14_chess", "Chess puzzles: weak-to-strong on a generative task",
             "w2s_lib.generalization.chess.ChessW2SConfig", needs_chess=True, est_cpu_s=185),
    Notebook("20", "20_w2s_search", "Weak-to-strong search: steering a large model with a small pair",
             "w2s_lib.search.experiment.SearchConfig", needs_zoo=True, est_cpu_s=390),  # stories: 384-387 s (2026-12-05, one-pass pair check)
    Notebook("30", "30_macpo", "MACPO: weak teachers and strong students aligning each other",
             "w2s_lib.macpo.loop.MACPOConfig", needs_zoo=True, zoo_from_config=True, est_cpu_s=1100),  # rounds 11-12 (two students): ≈ 1100 / 1090 s (2026-12-05)
    Notebook("40", "40_deception", "Weak-to-strong deception, measured", "w2s_lib.deception.reward.DeceptionConfig",
             needs_zoo=True, est_cpu_s=240),
    Notebook("99", "99_scorecard", "Claims scorecard", reads_claims=True, est_cpu_s=10),
)


def get_notebook(name: str) -> Notebook:
    """Find a chapter by key (``00``), stem (``00_orientation``), file name or path.

    A path must be the chapter's own file (``notebooks/NN_name.ipynb``): ``/elsewhere/01_tiny_world.ipynb``
    is an error, not a silent run of the repository's chapter.
    """
    if not isinstance(name, str) or not name.strip():
        raise W2SError(f"notebook name {name!r} is empty; give a key such as 00 (see `w2s list notebooks`)")
    stem = Path(name).name.removesuffix(".ipynb")
    for nb in NOTEBOOKS:
        if stem in (nb.key, nb.stem):
            if "/" in name or os.sep in name:
                given = Path(name).expanduser()
                if not given.is_file():
                    raise W2SError(f"notebook file {name} does not exist; give the chapter key ({nb.key}) instead")
                if given.resolve() != nb.path.resolve():
                    raise W2SError(f"{name} is not the book's chapter file ({nb.path}); `w2s run` runs the book's "
                                   f"chapters: give the key {nb.key}, or run another notebook with papermill")
            return nb
    raise unknown("notebook", name, [nb.stem for nb in NOTEBOOKS])


def notebook_parameters(nb: Notebook) -> dict[str, Any]:
    """The names and defaults of the notebook's ``parameters`` cell."""
    import papermill

    if not nb.path.is_file():
        raise W2SError(f"notebook file {nb.path} is missing; restore it with `git checkout -- {nb.path.name}`")
    found = papermill.inspect_notebook(str(nb.path))
    return {name: info["default"] for name, info in found.items()}


#: notebook parameters that hold a second override set, and the config class that checks it
EXTRA_OVERRIDES = {"pref_overrides": "w2s_lib.deception.preference.PrefDeceptionConfig"}


def _config_class(dotted: str) -> type[Config]:
    import importlib

    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def split_parameters(nb: Notebook, preset: str, params: dict[str, Any], resolve: bool = True) -> dict[str, Any]:
    """Validate ``params`` for ``nb`` before anything runs, and return what papermill should inject.

    Notebook parameters must have the kind of their default (``force`` is ``True`` or ``False``, ``seeds``
    a list of integers); other keys become config ``overrides``. The chapter's config is built from them
    and every dataset and model it names is resolved (registry, hub, zoo), so a mistake is one line before
    a kernel starts. Tuples are passed as lists (papermill would write them as text).
    ``resolve=False`` skips what depends on the machine (W2S_HOME, hub, zoo): the parameters are the same.
    """
    from w2s_lib.publish import preflight

    preflight.check_preset(preset)
    params = dict(params)
    if "preset" in params:  # `-p preset=X`: the same as --preset X, but it must agree with it
        if params["preset"] not in PRESETS:
            raise unknown("preset", params["preset"], PRESETS)
        if params["preset"] != preset:
            raise W2SError(f"two presets given ({preset!r} and -p preset={params['preset']!r}); use --preset only")
        del params["preset"]
    if resolve:
        preflight.check_home()
        preflight.check_env()
    declared = notebook_parameters(nb)
    defaults = {k: preflight._default(v) for k, v in declared.items()}
    where = nb.stem
    direct, extra = {}, {}
    for key, value in params.items():
        if key in declared:
            direct[key] = preflight.check_value(key, value, defaults[key], where)
        else:
            extra[key] = value
    if "seed" in extra and "seeds" in declared:
        raise W2SError(f"notebook {nb.stem} runs several seeds; write -p seeds=[{extra['seed']!r}] instead of "
                       f"-p seed={extra['seed']!r}")
    if extra:
        if "overrides" not in declared or nb.config is None:
            raise unknown(f"parameter of notebook {nb.stem}:", next(iter(extra)), declared)
        direct["overrides"] = {**dict(direct.get("overrides") or {}), **extra}
    if "seeds" in direct:
        direct["seeds"] = preflight.check_seeds(direct["seeds"], where)
    overrides = direct.get("overrides") or {}
    if "seed" in overrides and "seeds" in declared:
        raise W2SError(f"notebook {nb.stem} runs several seeds and ignores an override of seed; "
                       f"write -p seeds=[{overrides['seed']!r}]")
    if "preset" in overrides:
        raise W2SError(f"the preset is not an override; use --preset {overrides['preset']}")
    cls = nb.config_class()
    if cls is not None:  # build the chapter's config now: a bad value fails here, before anything runs
        seed = {"seed": direct["seed"]} if "seed" in direct else {}
        cfgs = [cls.for_preset(preset, overrides, **seed)]
        if "seeds" in direct:
            cfgs += [cfgs[0].replace(seed=s) for s in direct["seeds"]]
        tasks = direct.get("tasks", defaults.get("tasks"))
        if isinstance(tasks, list) and "task" in cfgs[0].to_dict():
            cfgs += [cfgs[0].replace(task=t) for t in tasks]
            for key in ("ablation_task",):
                if key in direct:
                    cfgs.append(cfgs[0].replace(task=direct[key]))
        checks = [(cfgs[0], set(overrides))]
    else:
        checks = []
    for key, dotted in EXTRA_OVERRIDES.items():
        if key in declared:
            extra_overrides = direct.get(key) or {}
            checks.append((_config_class(dotted).for_preset(preset, extra_overrides), set(extra_overrides)))
    if resolve:
        for cfg, _ in checks:  # every name of every config first, then zoo, hub and sizes
            preflight.check_names(cfg)
        for cfg, overridden in checks:
            preflight.check_config(cfg, overridden)
    return {"preset": preset, **{k: preflight.to_papermill(v) for k, v in direct.items()}}


def _stamp(nb: Notebook, parameters: dict[str, Any]) -> str:
    """What an executed copy depends on: the source notebook and the parameters."""
    blob = nb.path.read_bytes() + json.dumps(parameters, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _skip_uri_grammar() -> None:
    """Keep jsonschema from compiling the optional IRI grammar of ``rfc3987_syntax`` in this process.

    papermill reads notebooks with nbformat, which imports jsonschema, which imports ``rfc3987_syntax``
    whenever it is installed (Jupyter's event schemas pull it in) and builds its Lark parser at import:
    ≈ 1.3 s CPU at every ``w2s run``, a chapter's process. Notebook validation never checks an IRI format;
    with the module marked absent jsonschema leaves that one format checker out, as it does where the
    package is not installed. Nothing happens once jsonschema is imported."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None: `import` raises ImportError, which jsonschema expects


def run(nb_name: str, preset: str = "tiny", params: dict[str, Any] | None = None,
        output: Path | None = None, progress: bool = True, checked: dict[str, Any] | None = None) -> Path:
    """Execute one notebook with papermill; the executed copy appears atomically at ``output``.

    ``checked``: the parameters :func:`split_parameters` already returned for ``nb_name`` and ``preset`` in
    the calling process (``w2s reproduce`` checks each chapter before it starts the chapter's process), used
    as they are instead of ``params``: checking builds the chapter's configs, which imports torch and
    datasets — 2–3 s CPU that this process would spend only to check again."""
    _skip_uri_grammar()
    import papermill

    nb = get_notebook(nb_name)
    if checked is None:
        parameters = split_parameters(nb, preset, dict(params or {}))
    elif params or checked.get("preset") != preset:
        raise W2SError("run(checked=…) takes the parameters split_parameters returned for this preset, not params")
    else:
        parameters = dict(checked)
    # absolute: papermill runs the kernel from the notebooks folder, where a relative -o path would not exist
    output = check_output(Path(output).absolute() if output else paths.REPO_ROOT / "outputs" / preset / f"{nb.stem}.ipynb")
    paths.ensure_dir(output.parent, "-o path")
    clean_debris(output.parent)  # temporary copies of runs that were killed
    tmp = output.with_name(f".tmp-{os.getpid()}-{output.name}")
    kernel_log = output.with_name(f".tmp-{os.getpid()}-{output.stem}.kernel.log")
    try:
        papermill.execute_notebook(
            str(nb.path), str(tmp), parameters=parameters, cwd=str(NOTEBOOK_DIR),
            kernel_name="python3", progress_bar=progress, report_mode=False,
            kernel_manager_class=_kernel_manager_logging_to(kernel_log),
        )
    except papermill.PapermillExecutionError as exc:
        if exc.ename == "KeyboardInterrupt":  # Ctrl-C reached the kernel too: an interruption, not a failure
            Path(tmp).unlink(missing_ok=True)
            raise KeyboardInterrupt from None
        failed = output.with_name(f"{output.stem}.failed.ipynb")
        os.replace(tmp, failed)
        raise W2SError(f"notebook {nb.stem} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                       f"(executed copy with the error: {failed})") from None
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        if type(exc).__name__ == "DeadKernelError":  # the kernel process died (out of memory, a crash)
            raise W2SError(f"the kernel running {nb.stem} died ({_last_line(kernel_log) or 'no message'}); "
                           f"if it ran out of memory, use a smaller preset or batch_size") from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        kernel_log.unlink(missing_ok=True)
    twice = duplicate_targets(tmp)
    if twice:  # the book build would reject the page: say so now, not after every other chapter has run
        failed = output.with_name(f"{output.stem}.failed.ipynb")
        os.replace(tmp, failed)
        raise W2SError(f"notebook {nb.stem} names {', '.join(twice)} twice; the book build rejects a duplicate "
                       f"target — glue each name once, show one output per captioned figure cell (executed copy: "
                       f"{failed})")
    cost = _computed_cost(output.with_suffix(".done.json"))  # a replay of the cache must not erase what it cost
    output.with_suffix(".done.json").unlink(missing_ok=True)  # the old stamp must not vouch for the new copy
    os.replace(tmp, output)
    output.with_name(f"{output.stem}.failed.ipynb").unlink(missing_ok=True)  # an earlier failure is history now
    atomic_write_json(output.with_suffix(".done.json"), {"stamp": _stamp(nb, parameters), "parameters": parameters,
                                                          "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **cost})
    return output


def duplicate_targets(path: Path) -> list[str]:
    """What an executed notebook names twice, which MyST-NB refuses to build: glue keys recorded more than once,
    and figure labels (a cell's ``mystnb.figure.name``) on more than one output — MyST-NB labels every displayed
    output of a captioned cell, so a figure cell that also displays a table names the label twice."""
    glued: dict[str, int] = {}
    labels: dict[str, int] = {}
    for cell in json.loads(Path(path).read_text(encoding="utf-8")).get("cells", []):
        label = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                glued[name] = glued.get(name, 0) + 1
            elif label is not None and out.get("output_type") in ("display_data", "execute_result"):
                labels[label] = labels.get(label, 0) + 1
    return ([f"glue key {n!r}" for n, k in sorted(glued.items()) if k > 1]
            + [f"figure label {n!r} ({k} outputs in its cell)" for n, k in sorted(labels.items()) if k > 1])


def check_output(output: Path) -> Path:
    """``output`` as the executed copy's path, or one line: it must be a ``.ipynb`` file path (not a folder),
    never one of the book's source notebooks, in a folder that can be written."""
    output = Path(output).expanduser()
    if output.is_dir() or str(output).endswith(("/", os.sep)):
        raise W2SError(f"-o {output} is a directory; give a file path such as {output / 'out.ipynb'}")
    if output.suffix != ".ipynb":
        raise W2SError(f"-o {output} must end in .ipynb (the executed notebook), e.g. {output.with_suffix('.ipynb')}")
    sources = {nb.path.resolve() for nb in NOTEBOOKS} | {p.resolve() for p in NOTEBOOK_DIR.glob("*.ipynb")}
    if output.resolve() in sources or output.resolve().parent == NOTEBOOK_DIR.resolve():
        raise W2SError(f"-o {output} would overwrite a source notebook in {NOTEBOOK_DIR}; write the executed copy "
                       f"elsewhere (default outputs/<preset>/)")
    if output.exists() and not os.access(output, os.W_OK):
        raise W2SError(f"-o {output} is not writable; choose another path")
    for parent in output.parents:
        if parent.exists():
            if not parent.is_dir():
                raise W2SError(f"-o {output}: {parent} is a file, not a folder; choose another path")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise W2SError(f"-o {output}: cannot create it, {parent} is not writable; choose another path")
            break
    return output


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines()
                 if ln.strip() and "running over TCP without encryption" not in ln]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def _kernel_manager_logging_to(log: Path):
    """A kernel manager whose kernel writes its own stderr (ZMQ warnings, shutdown tracebacks after Ctrl-C) to
    ``log`` instead of the terminal; cell outputs still arrive through the notebook as usual."""
    from jupyter_client.manager import AsyncKernelManager

    class _LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            with open(log, "ab") as fh:  # the kernel keeps its own copy of the descriptor
                kw["stderr"] = fh
                return await super()._async_launch_kernel(kernel_cmd, **kw)

    return _LoggedKernelManager


def is_current(nb: Notebook, preset: str, params: dict[str, Any] | None = None) -> bool:
    out = CHAPTER_DIR / f"{nb.stem}.ipynb"
    stamp_file = out.with_suffix(".done.json")
    if not (out.is_file() and stamp_file.is_file()):
        return False
    parameters = split_parameters(nb, preset, dict(params or {}), resolve=False)
    try:
        recorded = json.loads(stamp_file.read_text(encoding="utf-8")).get("stamp")
    except (OSError, ValueError, AttributeError):
        return False  # an unreadable stamp (a killed write, a hand edit): run the chapter again
    if recorded != _stamp(nb, parameters):
        return False
    if nb.reads_claims:
        claims = list(paths.claims_dir().glob("*.json"))
        return all(c.stat().st_mtime <= stamp_file.stat().st_mtime for c in claims)
    return True


#: Chapters that read or write the same cached runs run one after another in one worker (the cache is safe
#: under concurrency, but two workers computing the same run would waste a core); groups run side by side.
#: Chapter 40's MACPO section runs its own experiment (the base student, the held-out test), whose steps are
#: filed under another key than chapter 30's (tests/test_publish.py), so 30 and 40 run side by side.
SHARED_RUNS: tuple[tuple[str, ...], ...] = (("00", "10", "11", "12", "13"),)


def _groups(chosen: list[Notebook]) -> list[list[Notebook]]:
    out, placed = [], set()
    for group in SHARED_RUNS:
        members = [nb for nb in chosen if nb.key in group]
        if members:
            out.append(members)
            placed |= {nb.key for nb in members}
    out += [[nb] for nb in chosen if nb.key not in placed and not nb.reads_claims]
    return out


def machine() -> dict[str, Any]:
    """What a runtime figure was measured on: cores, CPU model, torch version, platform."""
    import platform

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        torch_version = version("torch")
    except Exception:  # noqa: BLE001 — best effort, only a label
        torch_version = "unknown"
    return {"cores": os.cpu_count() or 1, "cpu": cpu, "torch": torch_version, "python": platform.python_version(),
            "platform": platform.platform(terse=True)}


def _run_measured(cmd: list[str], log_path: Path, threads: int, what: str) -> dict[str, Any]:
    """Run ``cmd`` (a ``w2s`` subcommand) in a child process with ``threads`` torch/BLAS threads; measure it.

    Returns the runtime record: wall and CPU seconds (the child and everything it waits for, e.g. a
    notebook kernel), peak RSS. The child's output goes to ``log_path``; a failure names the log.
    """
    from w2s_lib.core.artifacts import RUN_COUNTS_ENV

    log_path.parent.mkdir(parents=True, exist_ok=True)
    counts = log_path.with_suffix(".runs")
    counts.unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), RUN_COUNTS_ENV: str(counts)}
    started = time.time()
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "w2s_lib.cli", *cmd], env=env, stdout=log_file,
                                stderr=subprocess.STDOUT, cwd=paths.REPO_ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - started
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log_path.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise W2SError(f"{what} failed: {tail[0]} (full log: {log_path})")
    kinds = counts.read_text().split() if counts.is_file() else []
    counts.unlink(missing_ok=True)
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "threads": threads,
            "runs_computed": kinds.count("computed"), "runs_loaded": kinds.count("loaded")}


def _run_child(nb: Notebook, preset: str, threads: int) -> dict[str, Any]:
    """Execute one chapter in a child process (see :func:`_run_measured`). Its parameters are checked here,
    where the chapter's modules are already imported, and handed to the child checked (:func:`run`)."""
    out = CHAPTER_DIR / f"{nb.stem}.ipynb"
    checked = json.dumps(split_parameters(nb, preset, {}))
    return _run_measured(["run", nb.stem, "--preset", preset, "-o", str(out), "--quiet", "--checked", checked],
                         out.with_suffix(".log"), threads, f"chapter {nb.stem}")


def _build_rung(name: str) -> dict[str, Any]:
    """Pretrain one rung in a child process of one thread (as `w2s zoo build`): a tiny GPT of the current world
    (``tinygpt-l``) or a chess rung (``chessgpt-l/search/0``: rung, corpus, data seed; see :func:`_chess_todo`)."""
    from w2s_lib.data.tinyworld import current_world_seed

    if "/" in name:
        rung, corpus, seed = name.split("/")
        cmd = ["zoo", "build", "--chess", "--rung", rung, "--corpus", corpus, "--data-seed", seed, "--quiet"]
    else:
        cmd = ["zoo", "build", "--rung", name, "--world-seed", str(current_world_seed()), "--quiet"]
    return _run_measured(cmd, CHAPTER_DIR / "zoo" / f"{name.replace('/', '-')}.log", 1, f"zoo build of {name}")


def record_runtime(nb: Notebook, preset: str, runtime: dict[str, Any]) -> None:
    """Add the measured runtime to the chapter's ``.done.json`` (what the status page and runtime lines read)."""
    stamp_file = CHAPTER_DIR / f"{nb.stem}.done.json"
    data = json.loads(stamp_file.read_text()) if stamp_file.is_file() else {}
    scale = "smoke" if is_smoke() else preset  # W2S_SMOKE=1 runs `tiny` at smoke scale
    data["runtime"] = {**runtime, "preset": scale, "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    if not is_replay(data["runtime"]) or data.get("computed", {}).get("preset") != scale:
        data["computed"] = data["runtime"]  # what the chapter costs: kept when a later run only re-read its cache
    atomic_write_json(stamp_file, data)


def _computed_cost(stamp_file: Path) -> dict[str, Any]:
    try:
        computed = json.loads(stamp_file.read_text()).get("computed")
    except (OSError, ValueError):
        return {}
    return {"computed": computed} if computed else {}


def is_replay(runtime: dict[str, Any]) -> bool:
    """A chapter execution that computed none of its cached runs and loaded some (a resumed reproduce); work a
    chapter does outside :func:`~w2s_lib.core.artifacts.load_or_run` (e.g. cheap head fits) still ran."""
    return runtime.get("runs_computed", 1) == 0 and runtime.get("runs_loaded", 0) > 0


def runtimes() -> dict[str, dict[str, Any]]:
    """stem -> each executed chapter's cost: its last execution that computed its runs; when the latest one
    only re-read them from the cache, that one is attached as ``replayed`` (shown beside, never instead)."""
    out = {}
    for nb in NOTEBOOKS:
        stamp_file = CHAPTER_DIR / f"{nb.stem}.done.json"
        try:
            data = json.loads(stamp_file.read_text())
        except (OSError, ValueError):
            continue
        rt, computed = data.get("runtime"), data.get("computed")
        if rt and computed and computed != rt:
            out[nb.stem] = {**computed, "replayed": rt}
        elif rt:
            out[nb.stem] = rt
    return out


RUN_RECORD = CHAPTER_DIR / "reproduce.json"  # every `w2s reproduce` (newest last): wall vs CPU, zoo rungs, jobs
RUN_HISTORY = 10  # runs kept: a resumed run that found everything cached must not hide the full run before it


def reproduce(preset: str = "tiny", only: list[str] | None = None, force: bool = False,
              build: bool = True, jobs: int | None = None, log=print) -> Path | None:
    """Run every chapter (or ``only`` some) at ``preset`` into ``book/chapters/``, then build the book.

    ``jobs`` workers run at once (default: the machine's cores), each chapter in its own process with
    ``cores // jobs`` torch threads, so both cores of a 2-core laptop work. At the tiny preset the missing
    rungs of the tiny GPT zoo are pretrained as tasks of the same schedule (one thread each), and only the
    chapters that load the zoo wait for them: the others run meanwhile. Chapters that share cached runs
    (:data:`SHARED_RUNS`) run in one worker, costliest first (last recorded CPU time, else the chapter's
    estimate), and the claims scorecard runs last. Chapters whose executed copy is current (same source,
    same parameters) are skipped, so an interrupted call resumes; the caches behind each chapter make
    re-running cheap as well. Each chapter's and rung's wall time, CPU time and peak memory are recorded
    (:func:`record_runtime`, :data:`RUN_RECORD`).
    """
    from w2s_lib.publish.schedule import Task, run_tasks

    if preset not in PRESETS:
        raise unknown("preset", preset, PRESETS)
    cores = os.cpu_count() or 1
    jobs = cores if jobs is None else jobs
    if not isinstance(jobs, int) or jobs < 1:
        raise W2SError(f"-j must be a positive number of chapters at once, got {jobs!r}")
    threads = max(1, cores // jobs)
    chosen = [get_notebook(name) for name in only] if only else list(NOTEBOOKS)
    todo = [nb for nb in chosen if force or not is_current(nb, preset)]
    for nb in chosen:
        if nb not in todo:
            log(f"{nb.stem} ({preset}): up to date, skipped")
    started, cpu0 = time.time(), os.times()
    records: dict[str, dict[str, Any]] = {}

    rungs = _zoo_todo(preset, [nb for nb in todo if nb.needs_zoo], log)
    chess_rungs = _chess_todo(preset, [nb for nb in todo if nb.needs_chess], log)
    def pretrain(name: str) -> None:
        log(f"zoo: pretraining {name}…")
        records[f"zoo:{name}"] = rt = _build_rung(name)
        log(f"zoo: {name} done, {rt['wall_s']:.0f} s wall, {rt['cpu_s']:.0f} s CPU")

    waits = _ladder_order(list(chess_rungs))
    tasks = [Task(f"zoo:{name}", (lambda name=name: pretrain(name)), cost=cost, needs=waits.get(name, frozenset()))
             for name, cost in {**rungs, **chess_rungs}.items()]
    last = runtimes()

    def cost(nb: Notebook) -> float:
        return last.get(nb.stem, {}).get("cpu_s", nb.est_cpu_s)

    def work(group: list[Notebook]) -> None:
        for nb in group:
            log(f"{nb.stem}: running…")
            rt = _run_child(nb, preset, threads)
            record_runtime(nb, preset, rt)
            records[nb.stem] = rt
            log(f"{nb.stem}: done, {rt['wall_s']:.0f} s wall, {rt['cpu_s']:.0f} s CPU, {rt['peak_rss_mb']:.0f} MB")

    chess_names = frozenset(f"zoo:{name}" for name in chess_rungs)
    for group in _groups([nb for nb in todo if not nb.reads_claims]):
        tasks.append(Task("+".join(nb.key for nb in group), (lambda group=group: work(group)),
                          cost=sum(cost(nb) for nb in group),
                          needs=frozenset().union(*(zoo_waits(nb, rungs) for nb in group))
                          | (chess_names if any(nb.needs_chess for nb in group) else frozenset())))
    n_rungs = len(rungs) + len(chess_rungs)
    log(f"running {len(todo)} chapter(s) at {preset}"
        + (f" and {n_rungs} zoo rung(s)" if n_rungs else "") + f": {jobs} at once, {threads} thread(s) each")
    outcome = run_tasks(tasks, jobs)
    failures = [str(exc) for exc in outcome.values() if exc is not None]
    if failures:
        raise W2SError("; ".join(failures))
    for nb in chosen:  # the scorecard last: it reads what the others decided (stale once a chapter re-decided)
        if nb.reads_claims and (nb in todo or not is_current(nb, preset)):
            log(f"{nb.stem}: running…")
            records[nb.stem] = rt = _run_child(nb, preset, cores)
            record_runtime(nb, preset, rt)
    cpu1 = os.times()
    own_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    run = {"preset": "smoke" if is_smoke() else preset, "jobs": jobs, "threads": threads,
           "wall_s": round(time.time() - started, 1),
           "cpu_s": round(own_cpu + sum(r["cpu_s"] for r in records.values()), 1),
           "tasks": records, "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine()}
    if records:  # a run that found every chapter current adds nothing to the history
        atomic_write_json(RUN_RECORD, {"runs": (_run_history() + [run])[-RUN_HISTORY:]})
    write_status_page()
    if build and only:  # a subset run builds the book only when every chapter has an executed copy
        missing = _unexecuted()
        if missing:
            log(f"book not built: chapters not executed yet ({', '.join(missing)}); "
                "`w2s reproduce` runs them and builds it")
            return None
    return build_book(log=log) if build else None


def _unexecuted() -> list[str]:
    return [nb.stem for nb in NOTEBOOKS if not (CHAPTER_DIR / f"{nb.stem}.ipynb").is_file()]


def _zoo_todo(preset: str, zoo_chapters: list[Notebook], log) -> dict[str, float]:
    """Rungs of the tiny GPT zoo the chosen chapters need and that are not built yet: name -> estimated CPU seconds.

    Only the tiny preset reads the zoo (smoke scale builds its micro zoo on demand, in seconds); the world's
    tokenizer is trained here, once, before any rung's process needs it.
    """
    if preset != "tiny" or is_smoke() or not zoo_chapters:
        return {}
    from w2s_lib.data.tinyworld import current_world_seed
    from w2s_lib.models import tinygpt

    need = tinygpt.prepare_zoo(current_world_seed())
    if need:
        log(f"zoo: {len(need)} rung(s) to pretrain for {', '.join(nb.key for nb in zoo_chapters)}")
    return need


def tiny_gpts(cfg) -> set[str]:
    """Every zoo GPT name (``tinygpt-*``) a config's fields name at its preset, nested configs included."""
    found: set[str] = set()

    def walk(value) -> None:
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value.startswith("tinygpt-"):
            found.add(value)

    walk(cfg)
    return found


def zoo_waits(nb: Notebook, rungs) -> frozenset[str]:
    """The zoo tasks (``"zoo:<rung>"``) of ``rungs`` chapter ``nb`` waits for in `w2s reproduce`: none unless it
    loads the zoo; those its default tiny config names when ``zoo_from_config``; else every one."""
    if not nb.needs_zoo:
        return frozenset()
    if nb.zoo_from_config:
        reads = tiny_gpts(nb.config_class().for_preset("tiny", {}))
        rungs = [name for name in rungs if name in reads]
    return frozenset(f"zoo:{name}" for name in rungs)


def _chess_todo(preset: str, chess_chapters: list[Notebook], log) -> dict[str, float]:
    """Rungs of the chess ladders the chosen chapters read (:func:`~w2s_lib.generalization.chess.pretrained_ladders`
    of their default config) that are not built yet: ``"rung/corpus/data seed"`` -> estimated CPU seconds, each
    ladder's rungs weak → strong (they run in that order: the first one makes the ladder's corpus and tokenizer).
    Like the tiny GPT zoo, only the tiny preset pretrains them as tasks (smoke builds its micro ladders on demand,
    in seconds)."""
    if preset != "tiny" or is_smoke() or not chess_chapters:
        return {}
    from w2s_lib.generalization.chess import pretrained_ladders
    from w2s_lib.models import chessgpt

    need: dict[str, float] = {}
    for nb in chess_chapters:
        for corpus, seed in pretrained_ladders(nb.config_class().for_preset(preset, {})):
            need.update({f"{name}/{corpus}/{seed}": s for name, s in chessgpt.missing_rungs(seed, False, corpus).items()})
    if need:
        log(f"zoo: {len(need)} chess rung(s) to pretrain for {', '.join(nb.key for nb in chess_chapters)}")
    return need


def _ladder_order(names: list[str]) -> dict[str, frozenset[str]]:
    """Rung task -> the task it waits for: the previous rung of the same chess ladder (``rung/corpus/seed``)."""
    last: dict[str, str] = {}
    needs: dict[str, frozenset[str]] = {}
    for name in names:
        ladder = name.split("/", 1)[1]  # corpus/seed
        needs[name] = frozenset({f"zoo:{last[ladder]}"}) if ladder in last else frozenset()
        last[ladder] = name
    return needs


STATUS_PAGE = CHAPTER_DIR / "runtime.md"


def write_status_page() -> Path:
    """The book's execution-statistics page, generated from the recorded runtimes (never typed)."""
    recorded = runtimes()
    rows = []
    for nb in NOTEBOOKS:
        rt = recorded.get(nb.stem)
        if rt is None:
            rows.append(f"| {nb.title} | — | — | — | — | not run by `w2s reproduce` yet |")
            continue
        m = rt.get("machine", {})
        rows.append(f"| [{nb.title}]({nb.stem}) | {rt['preset']} | {rt['wall_s']:.0f} | {rt['cpu_s']:.0f} | "
                    f"{rt['peak_rss_mb']:.0f} | {rt['date']}, {m.get('cores', '?')} cores ({m.get('cpu', '?')}), "
                    f"{rt.get('threads', '?')} thread(s), torch {m.get('torch', '?')}{_replay_note(rt)} |")
    total_wall = sum(r["wall_s"] for r in recorded.values())
    total_cpu = sum(r["cpu_s"] for r in recorded.values())
    text = "\n".join([
        "# Execution statistics",
        "",
        "Measured by `w2s reproduce` when it last executed each chapter and computed its cached runs (a later",
        "execution that loaded them all instead, as a resumed run does, is noted beside it): wall-clock and CPU seconds",
        "(the chapter's process and its kernel), peak resident memory, and the machine. Generated from the runtime",
        "records in",
        "`book/chapters/*.done.json` and `book/chapters/reproduce.json`; nothing on this page is typed by hand.",
        "",
        "| chapter | preset | wall (s) | CPU (s) | peak RSS (MB) | when, where |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Sum over chapters: {total_wall:.0f} s wall (chapters ran side by side, so the run took less), "
        f"{total_cpu:.0f} s CPU.",
        "",
        *_last_run_lines(),
    ])
    STATUS_PAGE.parent.mkdir(parents=True, exist_ok=True)
    STATUS_PAGE.write_text(text)
    return STATUS_PAGE


def _run_history() -> list[dict[str, Any]]:
    try:
        return list(json.loads(RUN_RECORD.read_text()).get("runs", []))
    except (OSError, ValueError, AttributeError):
        return []  # none yet, or an unreadable record: start a new history


def _last_run_lines() -> list[str]:
    """The recent `w2s reproduce` runs as a whole: wall vs CPU (how well the cores were used), what each ran,
    and the zoo rungs the latest full run pretrained."""
    runs = _run_history()
    if not runs:
        return []
    m = runs[-1].get("machine", {})
    lines = ["## Recent `w2s reproduce` runs", "",
             f"Newest last; {m.get('cores', '?')} cores ({m.get('cpu', '?')}). A run resumes: it executes only the "
             "chapters whose copy is stale, and a chapter whose runs are cached costs little. The book build and the "
             "set-up are not included.", "",
             "| when | preset | workers × threads | chapters / zoo rungs run | wall (s) | CPU (s) | wall / CPU |",
             "|---|---|---|---|---|---|---|"]
    for run in runs:
        tasks = run.get("tasks", {})
        n_zoo = sum(k.startswith("zoo:") for k in tasks)
        lines.append(f"| {run['date']} | {run['preset']} | {run['jobs']} × {run['threads']} | {len(tasks) - n_zoo} / "
                     f"{n_zoo} | {run['wall_s']:.0f} | {run['cpu_s']:.0f} | "
                     f"{run['wall_s'] / max(run['cpu_s'], 1e-9):.2f} |")
    lines.append("")
    full = next((r for r in reversed(runs) if any(k.startswith("zoo:") for k in r.get("tasks", {}))), None)
    if full:
        lines += [f"Zoo rungs (tiny GPTs; chess rungs as rung/corpus/data seed) pretrained in the run of "
                  f"{full['date']} (one thread each, beside the chapters that do not need them):", "", "| rung | wall (s) | CPU (s) | peak RSS (MB) |", "|---|---|---|---|",
                  *(f"| {k.split(':', 1)[1]} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['peak_rss_mb']:.0f} |"
                    for k, r in full["tasks"].items() if k.startswith("zoo:")), ""]
    return lines


#: Cells the rendered page leaves out or folds, by what they are (the notebooks stay runnable as they are).
INSTALL_CELL_MARK = "# On Colab: install"
PLUMBING_CALLS = ("claims.decide(", "glue(")


def _replay_note(rt: dict[str, Any]) -> str:
    replay = rt.get("replayed")
    return (f"; re-executed on {replay['date']} with all {replay['runs_loaded']} cached runs loaded: "
            f"{replay['wall_s']:.0f} s wall, {replay['cpu_s']:.0f} s CPU" if replay else "")


def _runtime_line(rt: dict[str, Any] | None) -> str:
    if not rt:
        return "*Runtime: not measured yet (run `w2s reproduce`).*"
    m = rt.get("machine", {})
    return (f"*Runtime, measured by `w2s reproduce` on {rt['date']} at the {rt['preset']} preset: "
            f"{rt['wall_s']:.0f} s wall, {rt['cpu_s']:.0f} s CPU, peak {rt['peak_rss_mb']:.0f} MB, on "
            f"{m.get('cores', '?')} cores with {rt.get('threads', '?')} thread(s) ({m.get('cpu', '?')})"
            f"{_replay_note(rt)}.*")


def decorate_for_book(path: Path, rt: dict[str, Any] | None) -> None:
    """Prepare an executed chapter for the page: remove the Colab install cell, fold papermill's
    injected-parameters cell and the plumbing cells (claim decisions, glue), and put the measured runtime
    line under the title. Idempotent: the runtime cell is replaced on every build."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.metadata.get("w2s") != "runtime"]
    for cell in cells:
        tags = set(cell.metadata.get("tags", []))
        src = cell.source
        if cell.cell_type == "code":
            if src.lstrip().startswith(INSTALL_CELL_MARK):
                tags.add("remove-cell")
            elif "injected-parameters" in tags or "parameters" in tags:
                tags.add("hide-cell")
            elif any(call in src for call in PLUMBING_CALLS) and not any(
                    o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
                    for o in cell.get("outputs", [])):
                tags.add("hide-input")
        if tags:
            cell.metadata["tags"] = sorted(tags)
    line = nbformat.v4.new_markdown_cell(_runtime_line(rt))
    line.metadata["w2s"] = "runtime"
    first_md = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), -1)
    cells.insert(first_md + 1, line)
    nb.cells = cells
    nbformat.write(nb, path)


def build_book(log=print) -> Path:
    """Build the HTML book from the executed chapters (execution off, warnings are errors)."""
    missing = _unexecuted()
    if missing:
        raise W2SError(f"executed chapters missing: {', '.join(missing)}; run `w2s reproduce` first")
    recorded = runtimes()
    for nb in NOTEBOOKS:
        decorate_for_book(CHAPTER_DIR / f"{nb.stem}.ipynb", recorded.get(nb.stem))
    write_status_page()
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(paths.REPO_ROOT),
           "--path-output", str(paths.REPO_ROOT / "book"), "-W", "-n", "--keep-going"]
    log("building the book: jupyter-book " + " ".join(cmd[1:]))
    done = subprocess.run(cmd, cwd=paths.REPO_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        log("\n".join((done.stdout + done.stderr).strip().splitlines()[-40:]))
        raise W2SError(f"jupyter-book build failed (exit {done.returncode}); its last lines are printed above")
    index = BUILD_DIR / "html" / "index.html"
    log(f"book built: {index}")
    return index
