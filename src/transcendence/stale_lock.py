"""Clear the lock a killed Snakemake leaves behind, and only that one.

Snakemake locks its working directory (``.snakemake/locks/``) while it runs and removes the
lock when it ends; a run killed hard (SIGKILL, a lost terminal, an out-of-memory kill) leaves
it, and every later run stops with "Directory cannot be locked" until someone runs
``snakemake --unlock``. Unlocking while another Snakemake really runs there would let two
runs write the same files, so this looks for one first: a live process whose command line
names Snakemake (its job scripts under ``.snakemake/scripts/`` included) and whose working
directory is this one. None: the lock is stale and the given unlock command runs. One: it
says which and stops. Where processes cannot be listed (no ``/proc``), it says what to run.

    python -m transcendence.stale_lock [--dir DIR] -- snakemake --unlock [ARGS]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

PROC = Path("/proc")


def lock_files(workdir: Path) -> list[Path]:
    """Snakemake's lock files in ``workdir`` (none when it is not locked)."""
    locks = workdir / ".snakemake" / "locks"
    return sorted(locks.iterdir()) if locks.is_dir() else []


def _ancestors() -> set[int]:
    """This process and its parents (make, the shell running the recipe): never a live run."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            stat = (PROC / str(pid) / "stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return pids


def snakemake_processes(workdir: Path) -> list[tuple[int, str]]:
    """Live processes that are Snakemake (or one of its jobs) working in ``workdir``."""
    found, skip, here = [], _ancestors(), workdir.resolve()
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, or another user's: not one of ours
            continue
        if cwd == here and any("snakemake" in Path(arg).name or ".snakemake/" in arg for arg in argv if arg):
            found.append((int(entry.name), " ".join(a for a in argv if a)[:120]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("."), help="Snakemake's working directory")
    parser.add_argument("unlock", nargs=argparse.REMAINDER, help="-- the command that unlocks it")
    args = parser.parse_args(argv)
    unlock = args.unlock[1:] if args.unlock[:1] == ["--"] else args.unlock
    if not unlock:
        parser.error("give the unlock command after --")
    workdir = args.dir.resolve()
    if not lock_files(workdir):
        return 0
    command = shlex.join(unlock)
    if not PROC.is_dir():
        print(f"{workdir} is locked by Snakemake (.snakemake/locks). If no Snakemake is running there "
              f"(a killed run leaves its lock), unlock it with:\n  {command}", file=sys.stderr)
        return 1
    alive = snakemake_processes(workdir)
    if alive:
        pid, cmd = alive[0]
        print(f"Snakemake is already running in {workdir} (pid {pid}: {cmd}); wait for it to end, "
              f"or stop it (kill {pid}) and run this again", file=sys.stderr)
        return 1
    print(f"{workdir} holds the lock of a Snakemake run that was killed (none is running there); "
          f"removing it: {command}", file=sys.stderr)
    return subprocess.run(unlock, cwd=workdir).returncode


if __name__ == "__main__":
    sys.exit(main())
