"""Atomic outputs and zstd-compressed text, the two file idioms every stage shares.

Each stage writes into a temporary file beside its target and renames it into place only
when complete, so an interrupted run never leaves a file that a later stage (or Snakemake,
or DVC) could mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator, TextIO

import zstandard


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike) -> Iterator[TextIO]:
    """Open a text file for writing that appears at ``target`` only once closed cleanly.

    A target ending in ``.zst`` is zstd-compressed, like a Lichess monthly dump.
    """
    with atomic_path(target) as tmp:
        if str(target).endswith(".zst"):
            with open(tmp, "wb") as raw:
                cctx = zstandard.ZstdCompressor(level=3)
                with cctx.stream_writer(raw, closefd=False) as zw:
                    with io.TextIOWrapper(zw, encoding="utf-8", newline="\n") as text:
                        yield text
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as text:
                yield text


def write_json(target: str | os.PathLike, obj: object) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_text(target) as fh:
        json.dump(obj, fh, indent=2, sort_keys=False)
        fh.write("\n")


def read_json(path: str | os.PathLike) -> object:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@contextlib.contextmanager
def open_text(path: str | os.PathLike) -> Iterator[TextIO]:
    """Read a text file, decompressing ``.zst`` as a stream (memory stays flat)."""
    path = Path(path)
    if path.suffix == ".zst":
        with open(path, "rb") as raw:
            dctx = zstandard.ZstdDecompressor()
            with dctx.stream_reader(raw, read_across_frames=True) as zr:
                with io.TextIOWrapper(zr, encoding="utf-8", errors="strict", newline=None) as text:
                    yield text
    else:
        with open(path, encoding="utf-8", newline=None) as text:
            yield text
