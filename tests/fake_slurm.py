#!/usr/bin/env python3
"""A stand-in for SLURM's ``sbatch``, ``srun``, ``sacct`` and ``scancel`` on one machine, for tests: enough of
their behaviour for submitit's SlurmExecutor (job arrays, ``%A_%a`` log names, states from ``sacct``).

``install(bin_dir, state_dir)`` writes the four commands into ``bin_dir``; put it first on ``PATH``.
``sbatch`` starts every task of an array at once as a detached process; ``sacct`` reports RUNNING,
then COMPLETED or FAILED from the exit status. ``sbatch`` records each script it was given in
``state_dir/scripts/`` so that a test can read the ``#SBATCH`` lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

COMMANDS = ("sbatch", "srun", "sacct", "scancel")


def install(bin_dir: Path, state_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\nFAKE_SLURM_STATE={state_dir} exec {sys.executable} {Path(__file__).resolve()} "
                        f"{name} \"$@\"\n")
        path.chmod(0o755)


def _sub(pattern: str, job: str, array: str, task: str) -> str:
    return pattern.replace("%A", job).replace("%a", array).replace("%j", f"{job}_{array}").replace("%t", task)


def sbatch(script: str, state: Path) -> None:
    text = Path(script).read_text()
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", text, re.M))
    counter = state / "counter"
    job = str(int(counter.read_text()) + 1 if counter.exists() else 1000)
    counter.write_text(job)
    (state / "scripts").mkdir(exist_ok=True)
    (state / "scripts" / f"{job}.sh").write_text(text)
    m = re.match(r"0-(\d+)", flags.get("array", ""))
    indices = range(int(m.group(1)) + 1) if m else [0]
    for i in indices:
        env = {**os.environ, "SLURM_JOB_ID": f"{job}{i:03d}", "SLURM_ARRAY_JOB_ID": job, "SLURM_ARRAY_TASK_ID": str(i),
               "SLURM_NTASKS": "1", "SLURM_JOB_NUM_NODES": "1", "SLURM_NODEID": "0", "SLURM_PROCID": "0",
               "SLURM_LOCALID": "0", "SLURM_JOB_NODELIST": "localhost", "SLURMD_NODENAME": "localhost"}
        if not m:
            env.pop("SLURM_ARRAY_JOB_ID"), env.pop("SLURM_ARRAY_TASK_ID")
            env["SLURM_JOB_ID"] = job
        key = f"{job}_{i}" if m else job
        (state / key).write_text("RUNNING")
        out = _sub(flags["output"], job, str(i), "0") if m else flags["output"].replace("%j", job).replace("%t", "0")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        status = state / key
        subprocess.Popen(["sh", "-c", f'bash "$0" >> "$1" 2>&1; if [ $? -eq 0 ]; then echo COMPLETED > "$2"; '
                                      f'else echo FAILED > "$2"; fi', script, out, str(status)],
                         env=env, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)  # sbatch's caller reads its output to the end
    print(f"Submitted batch job {job}")


def srun(args: list[str]) -> None:
    out = None
    while args and args[0].startswith("--"):
        flag = args.pop(0)
        if flag in ("--output", "--error"):
            value = args.pop(0)
            if flag == "--output":
                out = value
    env = os.environ
    job, array = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    if out:
        out = _sub(out, job, array, "0") if job else out.replace("%j", env["SLURM_JOB_ID"]).replace("%t", "0")
        fh = open(out, "a")
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
    os.execvp(args[0], args)


def sacct(args: list[str], state: Path) -> None:
    ids = [args[i + 1] for i, a in enumerate(args) if a == "-j"]
    print("JobID|State|NodeList")
    for jid in ids:
        for f in sorted(state.glob(f"{jid}*")):
            if f.name == jid or f.name.startswith(f"{jid}_"):
                print(f"{f.name}|{f.read_text().strip()}|localhost")


if __name__ == "__main__":
    cmd, rest = sys.argv[1], sys.argv[2:]
    state_dir = Path(os.environ["FAKE_SLURM_STATE"])
    if cmd == "sbatch":
        sbatch(rest[-1], state_dir)
    elif cmd == "srun":
        srun(rest)
    elif cmd == "sacct":
        sacct(rest, state_dir)
