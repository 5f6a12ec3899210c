"""Send a stage's progress and errors to its log file (Snakemake's ``log:``).

Snakemake deletes a job's log before running the job again, so the log of an attempt that
was killed (or failed) would be gone by the time anyone looks for it. While a job runs, its
log therefore has a second name, ``LOG.unfinished`` (a hard link: the same file, no copy),
removed only when the job succeeds. The next attempt finds it, copies the earlier attempt's
lines to the top of its own log under a separator, and starts afresh: the log of a job that
finally succeeded holds every attempt, oldest first.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import traceback
from pathlib import Path
from typing import Iterator, TextIO

UNFINISHED = ".unfinished"  # suffix of the second name of a running job's log


def unfinished_path(path: str | Path) -> Path:
    """Where the log of a running (or killed) attempt keeps its second name."""
    path = Path(path)
    return path.with_name(path.name + UNFINISHED)


def _stamp() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


@contextlib.contextmanager
def logged(path: str | Path | None) -> Iterator[TextIO]:
    """Yield a line-buffered log stream; a failure's traceback lands in it too.

    Without a path, the stream is stderr (stages run by hand print to the terminal).
    An earlier attempt's log that did not end in success is kept at the top of this one.
    """
    if path is None:
        yield sys.stderr
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    earlier = unfinished_path(path)
    previous = ""
    if earlier.exists():
        previous = earlier.read_text(encoding="utf-8", errors="replace")
        earlier.unlink()
    with open(path, "w", buffering=1, encoding="utf-8") as fh:
        if previous:
            fh.write(previous if previous.endswith("\n") else previous + "\n")
            fh.write(f"===== the attempt above did not finish (killed or failed); "
                     f"new attempt, pid {os.getpid()}, {_stamp()} =====\n")
        linked = True
        try:
            os.link(path, earlier)
        except OSError:  # a file system without hard links: the log is kept only if this attempt succeeds
            linked = False
        try:
            yield fh
        except BaseException:
            traceback.print_exc(file=fh)
            raise
        if linked:
            with contextlib.suppress(FileNotFoundError):
                earlier.unlink()


def format_duration(seconds: float) -> str:
    """A progress line's ETA, short enough to read at a glance: ``45s``, ``7m05s``, ``2h03m``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
