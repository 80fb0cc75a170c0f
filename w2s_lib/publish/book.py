"""Notebooks → papermill → the book.

papermill is the one thing that executes notebooks. ``run`` executes one notebook with a preset and
parameters; ``reproduce`` runs every chapter into ``book/chapters/`` (the copies the book renders,
resuming where a previous call stopped) and then builds the book with execution off. The cell that
papermill injects with the parameters is each page's provenance.
"""

from __future__ import annotations

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
from w2s_lib.core.config import PRESETS, Config
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
    Notebook("00", "00_orientation", "Orientation: weak-to-strong in one notebook", "w2s_lib.generalization.pipeline.W2SConfig"),
    Notebook("01", "01_tiny_world", "The tiny world"),
    Notebook("10", "10_naive_w2s", "Naive weak-to-strong finetuning and PGR across a ladder", "w2s_lib.generalization.pipeline.W2SConfig"),
    Notebook("11", "11_confidence_loss", "The auxiliary confidence loss vs naive finetuning", "w2s_lib.generalization.pipeline.W2SConfig"),
    Notebook("12", "12_bootstrapping", "Bootstrapping through intermediate models", "w2s_lib.generalization.pipeline.W2SConfig"),
    Notebook("13", "13_generative_finetuning", "Generative finetuning and reward modelling", "w2s_lib.generalization.pipeline.W2SConfig"),
    Notebook("14", "14_chess", "Chess puzzles: weak-to-strong on a generative task",
             "w2s_lib.generalization.chess.ChessW2SConfig"),
    Notebook("20", "20_w2s_search", "Weak-to-strong search: steering a large model with a small pair",
             "w2s_lib.search.experiment.SearchConfig"),
    Notebook("30", "30_macpo", "MACPO: weak teachers and strong students aligning each other",
             "w2s_lib.macpo.loop.MACPOConfig"),
    Notebook("40", "40_deception", "Weak-to-strong deception, measured", "w2s_lib.deception.reward.DeceptionConfig"),
    Notebook("99", "99_scorecard", "Claims scorecard", reads_claims=True),
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
        if resolve:
            preflight.check_config(cfgs[0], set(overrides))
    for key, dotted in EXTRA_OVERRIDES.items():
        if key in declared:
            extra_overrides = direct.get(key) or {}
            _config_class(dotted).for_preset(preset, extra_overrides)
            if resolve:
                preflight.check_config(_config_class(dotted).for_preset(preset, extra_overrides), set(extra_overrides))
    return {"preset": preset, **{k: preflight.to_papermill(v) for k, v in direct.items()}}


def _stamp(nb: Notebook, parameters: dict[str, Any]) -> str:
    """What an executed copy depends on: the source notebook and the parameters."""
    blob = nb.path.read_bytes() + json.dumps(parameters, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def run(nb_name: str, preset: str = "tiny", params: dict[str, Any] | None = None,
        output: Path | None = None, progress: bool = True) -> Path:
    """Execute one notebook with papermill; the executed copy appears atomically at ``output``."""
    import papermill

    nb = get_notebook(nb_name)
    parameters = split_parameters(nb, preset, dict(params or {}))
    output = check_output(Path(output) if output else paths.REPO_ROOT / "outputs" / preset / f"{nb.stem}.ipynb")
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
    output.with_suffix(".done.json").unlink(missing_ok=True)  # the old stamp must not vouch for the new copy
    os.replace(tmp, output)
    atomic_write_json(output.with_suffix(".done.json"), {"stamp": _stamp(nb, parameters), "parameters": parameters,
                                                          "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return output


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
                raise W2SError(f"-o {output}: {parent} is not writable; choose another path")
            break
    return output


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
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


def reproduce(preset: str = "tiny", only: list[str] | None = None, force: bool = False,
              build: bool = True, log=print) -> Path | None:
    """Run every chapter (or ``only`` some) at ``preset`` into ``book/chapters/``, then build the book.

    Chapters whose executed copy is current (same source, same parameters) are skipped, so an
    interrupted call resumes; the caches behind each chapter make re-running cheap as well.
    """
    if preset not in PRESETS:
        raise unknown("preset", preset, PRESETS)
    chosen = [get_notebook(name) for name in only] if only else list(NOTEBOOKS)
    for i, nb in enumerate(chosen, 1):
        head = f"[{i}/{len(chosen)}] {nb.stem} ({preset})"
        if not force and is_current(nb, preset):
            log(f"{head}: up to date, skipped")
            continue
        started = time.time()
        log(f"{head}: running…")
        run(nb.stem, preset, output=CHAPTER_DIR / f"{nb.stem}.ipynb", progress=False)
        log(f"{head}: done in {time.time() - started:.0f} s")
    return build_book(log=log) if build else None


def build_book(log=print) -> Path:
    """Build the HTML book from the executed chapters (execution off, warnings are errors)."""
    missing = [nb.stem for nb in NOTEBOOKS if not (CHAPTER_DIR / f"{nb.stem}.ipynb").is_file()]
    if missing:
        raise W2SError(f"executed chapters missing: {', '.join(missing)}; run `w2s reproduce` first")
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
