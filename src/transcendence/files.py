"""Atomic outputs, zstd-compressed text and file hashes, the file idioms every stage shares.

Each stage writes into a temporary file beside its target and renames it into place only
when complete, so an interrupted run never leaves a file that a later stage (or Snakemake,
or DVC) could mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator, TextIO

import zstandard

# tempfile.mkstemp's random part: 8 characters of this alphabet (CPython's _RandomNameSequence).
_TMP_RANDOM = r"[a-z0-9_]{8}"


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows.

    ``os.umask`` can only be read by setting it, which for a moment changes the mask of
    every thread of the process; Linux publishes it in ``/proc/self/status`` instead.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Temporary files :func:`atomic_path` left beside ``target`` in runs that were killed.

    Only names of exactly the shape :func:`atomic_path` gives ``target``'s own temporaries
    (``.NAME.XXXXXXXX.tmp``) match, so another output's temporary, even one whose name
    starts with this one's (``x.csv`` and ``x.csv.partial``), is never taken for one.
    """
    target = Path(target)
    shape = re.compile(rf"\.{re.escape(target.name)}\.{_TMP_RANDOM}\.tmp")
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return []
    return sorted(target.parent / name for name in names if shape.fullmatch(name))


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, shared: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` on success.

    A run killed before the move leaves its temporary behind (no handler runs on SIGKILL),
    so the next run of the same output removes those first: one output is written by one
    job at a time (Snakemake's lock), so a temporary of this target that exists when its
    job starts again belongs to a dead run. A ``shared`` target is one that concurrent jobs
    may write at once (an entry of a content-addressed cache, the same bytes from each): its
    temporaries may be another job's, so they are left alone, and the last write wins. The
    file gets the mode a plain ``open`` would give it (0666 less the umask), not
    ``mkstemp``'s 0600, so teammates sharing the results or a DVC cache can read it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in [] if shared else stale_temporaries(target):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
            print(f"removed {stale}, the temporary file of an earlier run that did not finish",
                  file=sys.stderr)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
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
def atomic_binary(target: str | os.PathLike, *, shared: bool = False) -> Iterator[BinaryIO]:
    """Open a binary file for writing that appears at ``target`` only once closed cleanly.

    A target ending in ``.zst`` is zstd-compressed, like a Lichess monthly dump; ``shared``
    as in :func:`atomic_path`.
    """
    with atomic_path(target, shared=shared) as tmp:
        if str(target).endswith(".zst"):
            with open(tmp, "wb") as raw:
                cctx = zstandard.ZstdCompressor(level=3)
                with cctx.stream_writer(raw, closefd=False) as zw:
                    yield zw
        else:
            with open(tmp, "wb") as fh:
                yield fh


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike, *, shared: bool = False) -> Iterator[TextIO]:
    """The text form of :func:`atomic_binary` (UTF-8, ``\\n`` line endings)."""
    with atomic_binary(target, shared=shared) as raw:
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


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes: which checkpoint played, which dataset a training state learnt from."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
