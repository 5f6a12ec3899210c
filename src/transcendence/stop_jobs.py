"""Make a stop sent to Snakemake reach its running jobs at once.

Snakemake 9 answers a stop sent to its own process by waiting: SIGTERM is a "graceful" exit
("Will exit after finishing currently running jobs"), and SIGINT cancels its job pool, which
also waits for the running jobs to end. A user's ``kill``, a container's stop or a
scheduler's signal to Snakemake alone therefore left a training job training on to its last
step, and a job with a hung engine running for minutes. (Ctrl-C in a terminal was prompt
only because the terminal sends SIGINT to the whole foreground process group, jobs included.)

:func:`forward_stops_to_jobs`, called from the Snakefile's ``onstart`` (which Snakemake runs
after setting its own handlers, before the first job), wraps Snakemake's handlers of SIGTERM
and SIGINT: each first sends SIGTERM to every process Snakemake started and to theirs (the
jobs: synthetic games and evaluation kill their engines and exit 143; training dies where it
stands, after its last checkpoint), then lets Snakemake's own handler run, so that it exits
as soon as they have, its lock removed and the stopped jobs' outputs deleted. A second stop
sends them SIGKILL.

A stop sent to ``make reproduce`` alone is another matter: make passes SIGTERM to its
recipe's shell, which dies without a word to Snakemake. ``make reproduce`` therefore starts
Snakemake through :func:`main`, which asks the kernel to send it SIGTERM when its parent (that
shell) dies (``PR_SET_PDEATHSIG``) and then becomes Snakemake (``exec``):

    python src/transcendence/stop_jobs.py -- snakemake [ARGS]

The package never imports Snakemake: this only reads ``/proc``, sets signal handlers and
execs the command it is given (run as a file, it imports nothing of the package).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import Callable

PROC = Path("/proc")


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, theirs, ...), read from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # ended while being read
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_descendants(sig: int) -> None:
    """Send ``sig`` to every process below this one."""
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def forward_stops_to_jobs() -> None:
    """Wrap this process's SIGTERM and SIGINT handlers: the jobs first (SIGTERM, then SIGKILL
    on a second stop), then the handler that was there (Snakemake's)."""
    stops = 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: object, previous: Callable | int | None = previous) -> None:
            nonlocal stops
            stops += 1
            stop_descendants(signal.SIGTERM if stops == 1 else signal.SIGKILL)
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:  # the default: end as the signal would have
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        signal.signal(sig, handler)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def main(argv: list[str] | None = None) -> None:
    """Become ``COMMAND`` (``-- COMMAND ARGS``), to be sent SIGTERM when this parent dies."""
    command = list(sys.argv[1:] if argv is None else argv)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        sys.exit("usage: python src/transcendence/stop_jobs.py -- COMMAND [ARGS]")
    parent = os.getppid()
    if sys.platform.startswith("linux"):  # elsewhere: the command runs without it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request: stop as it would have
            sys.exit(143)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
