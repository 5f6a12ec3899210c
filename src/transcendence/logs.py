"""Send a stage's progress and errors to its log file (Snakemake's ``log:``)."""

from __future__ import annotations

import contextlib
import sys
import traceback
from pathlib import Path
from typing import Iterator, TextIO


@contextlib.contextmanager
def logged(path: str | Path | None) -> Iterator[TextIO]:
    """Yield a line-buffered log stream; a failure's traceback lands in it too.

    Without a path, the stream is stderr (stages run by hand print to the terminal).
    """
    if path is None:
        yield sys.stderr
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1, encoding="utf-8") as fh:
        try:
            yield fh
        except BaseException:
            traceback.print_exc(file=fh)
            raise
