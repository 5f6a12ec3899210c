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
from typing import BinaryIO, Iterator, TextIO

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
def atomic_binary(target: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a binary file for writing that appears at ``target`` only once closed cleanly.

    A target ending in ``.zst`` is zstd-compressed, like a Lichess monthly dump.
    """
    with atomic_path(target) as tmp:
        if str(target).endswith(".zst"):
            with open(tmp, "wb") as raw:
                cctx = zstandard.ZstdCompressor(level=3)
                with cctx.stream_writer(raw, closefd=False) as zw:
                    yield zw
        else:
            with open(tmp, "wb") as fh:
                yield fh


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike) -> Iterator[TextIO]:
    """The text form of :func:`atomic_binary` (UTF-8, ``\\n`` line endings)."""
    with atomic_binary(target) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        try:
            yield text
        finally:
            text.detach()  # flushes; the binary stream is closed (a zstd frame ended) by atomic_binary


def write_json(target: str | os.PathLike, obj: object) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_text(target) as fh:
        json.dump(obj, fh, indent=2, sort_keys=False)
        fh.write("\n")


def read_json(path: str | os.PathLike) -> object:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class _ZstdFrames(io.RawIOBase):
    """Decompress a (multi-frame) zstd file as a stream, refusing a truncated end.

    zstandard's own stream reader returns a silent EOF when the last frame is cut short, so
    a half-downloaded dump would read as a smaller, valid one; this reader raises instead.
    """

    def __init__(self, raw: io.BufferedReader, chunk: int = 1 << 20) -> None:
        self._raw, self._chunk = raw, chunk
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._pending = b""
        self._offset = 0  # bytes of _pending already handed out
        self._in_frame = False
        self.consumed = 0  # compressed bytes read, for error messages

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._offset >= len(self._pending):
            self._pending, self._offset = b"", 0
            data = self._raw.read(self._chunk)
            if not data:
                if self._in_frame:
                    raise zstandard.ZstdError(f"stream ends inside a frame at byte {self.consumed} (truncated)")
                return 0
            self.consumed += len(data)
            while data:
                self._in_frame = True
                self._pending += self._dobj.decompress(data)
                if self._dobj.eof:  # frame complete; any rest starts the next frame
                    data = self._dobj.unused_data
                    self._dobj = self._dctx.decompressobj()
                    self._in_frame = False
                else:
                    data = b""
        # An offset, not a slice: slicing would copy the rest of the buffer on every read.
        n = min(len(buffer), len(self._pending) - self._offset)
        buffer[:n] = memoryview(self._pending)[self._offset:self._offset + n]
        self._offset += n
        return n


@contextlib.contextmanager
def open_binary(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Read a file as bytes, decompressing ``.zst`` as a stream (memory stays flat)."""
    path = Path(path)
    with open(path, "rb") as raw:
        if path.suffix == ".zst":
            yield io.BufferedReader(_ZstdFrames(raw), buffer_size=1 << 20)
        else:
            yield raw


@contextlib.contextmanager
def open_text(path: str | os.PathLike) -> Iterator[TextIO]:
    """Read a text file, decompressing ``.zst`` as a stream (memory stays flat)."""
    with open_binary(path) as raw:
        yield io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline=None)
