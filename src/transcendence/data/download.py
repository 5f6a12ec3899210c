"""Resumable, checksum-verified download of one Lichess monthly database dump.

Why this module exists: the monthly dumps on database.lichess.org are tens of
gigabytes, connections to them do drop, and a truncated or corrupted ``.pgn.zst``
would not fail at download time but hours later (or, worse, half-way through)
when the parsing stage decodes it. So a download here

* streams into ``<dest>.part`` and never writes ``dest`` directly, so no later
  stage (and no Snakemake/DVC output check) can mistake a partial file for a
  finished one;
* resumes an interrupted transfer with an HTTP ``Range`` request instead of
  starting again from zero, both within one call (``retries``) and across runs
  (the ``.part`` is kept);
* refuses any file whose SHA-256 does not equal the published one (from the
  dump's ``sha256sums.txt``) or a pinned one, and never accepts an unverified file;
* renames the verified ``.part`` onto ``dest`` with ``os.replace`` after an
  ``fsync``, which is atomic, so ``dest`` is either absent or complete and good.

Only the standard library is used so the download stage needs nothing beyond
Python itself (it runs before any heavy environment is set up).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .. import __version__
from ..logs import format_duration

__all__ = [
    "DownloadError",
    "dump_name",
    "parse_sha256sums",
    "fetch_sha256sums",
    "download_month",
]

#: Sent with every request so the Lichess operators can tell who is downloading.
USER_AGENT = f"transcendence-reproduction/{__version__} (python urllib)"

#: Statuses that say "try again later" rather than "this will never work".
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})

_MONTH_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_CONTENT_RANGE_RE = re.compile(r"bytes\s+([0-9]+)-([0-9]+)/([0-9]+|\*)")
_UNSATISFIED_RANGE_RE = re.compile(r"bytes\s+\*/([0-9]+)")


class DownloadError(RuntimeError):
    """A dump could not be downloaded or verified.

    A separate type (rather than the underlying ``URLError``/``OSError``) lets the
    workflow tell "the download failed" apart from bugs, and every message names the
    month and the URL because the error usually surfaces in a Snakemake log far away
    from the call that caused it.
    """


def dump_name(month: str) -> str:
    """File name of the standard rated dump of ``month`` (``YYYY-MM``).

    The month is validated here, once, because it ends up in URLs and file names:
    a typo such as ``2013-1`` would otherwise show up as a confusing 404.
    """
    if not isinstance(month, str) or not _MONTH_RE.fullmatch(month):
        raise ValueError(f"month {month!r} is not of the form YYYY-MM (e.g. '2013-01')")
    return f"lichess_db_standard_rated_{month}.pgn.zst"


def _join(base_url: str, name: str) -> str:
    return base_url.rstrip("/") + "/" + name


def _request(url: str, offset: int = 0) -> urllib.request.Request:
    # "identity" because a transparently re-compressed body would neither match the
    # published checksum nor line up with byte ranges.
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers)


def _close_quietly(exc: urllib.error.HTTPError) -> None:
    """Release the socket an ``HTTPError`` holds (its body is not needed)."""
    try:
        exc.close()
    except Exception:  # an HTTPError built without a body has nothing to close
        pass


def parse_sha256sums(text: str, source: str = "sha256sums.txt") -> dict[str, str]:
    """Map file name -> lower-case hex SHA-256 from ``sha256sum``-style text.

    Accepts ``<hex>  <name>`` (text mode), ``<hex> *<name>`` (binary mode), blank
    lines and ``#`` comments. Any other line is an error rather than skipped: a
    file that does not parse is most likely an HTML error page, and silently
    finding no checksum in it would hide that.
    """
    sums: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not _SHA256_RE.fullmatch(parts[0]):
            raise DownloadError(f"{source}: line {lineno} is not '<sha256>  <filename>': {raw!r}")
        digest, name = parts
        name = name.strip()
        if name.startswith("*"):
            name = name[1:]
        sums[name] = digest.lower()
    return sums


def fetch_sha256sums(base_url: str, timeout: float) -> dict[str, str]:
    """Download and parse ``{base_url}/sha256sums.txt`` (file name -> hex SHA-256).

    Lichess publishes one such file next to the dumps; it is the only independent
    evidence that a multi-gigabyte download is intact.
    """
    url = _join(base_url, "sha256sums.txt")
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        _close_quietly(exc)
        raise DownloadError(f"HTTP {exc.code} {exc.reason} for {url}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise DownloadError(f"could not fetch {url}: {exc}") from exc
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DownloadError(f"{url} is not UTF-8 text: {exc}") from exc
    return parse_sha256sums(text, source=url)


class _Interrupted(Exception):
    """A transfer failure worth retrying by resuming (internal)."""


@dataclass
class _PartState:
    """Bytes in the ``.part`` file and their running SHA-256.

    Kept across retries within one call so that a resume does not re-read the
    (possibly many-gigabyte) ``.part`` from disk each time.
    """

    size: int = 0
    hasher: "hashlib._Hash" = field(default_factory=hashlib.sha256)

    def add(self, chunk: bytes) -> None:
        self.hasher.update(chunk)
        self.size += len(chunk)


def _hash_file(path: Path, chunk_size: int) -> _PartState:
    state = _PartState()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            state.add(chunk)
    return state


class _Progress:
    """Throttled progress lines, because per-chunk lines would flood Snakemake logs."""

    def __init__(self, log: TextIO | None, month: str, interval: float = 1.0) -> None:
        self.log = log
        self.month = month
        self.interval = interval
        self.start = time.monotonic()
        self.last = self.start
        self.base = 0
        self.total: int | None = None

    def say(self, line: str) -> None:
        if self.log is not None:
            self.log.write(line + "\n")
            self.log.flush()

    def begin(self, done: int) -> None:
        self.start = self.last = time.monotonic()
        self.base = done

    def update(self, done: int, force: bool = False) -> None:
        if self.log is None:
            return
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = (done - self.base) / elapsed
        if self.total:
            pct = f" ({100.0 * done / self.total:.1f}%)"
            total = f"{self.total / 1e6:,.1f}"
            eta = format_duration((self.total - done) / rate) if rate > 0 else "?"
        else:
            pct, total, eta = "", "?", "?"
        self.say(
            f"{self.month}: {done / 1e6:,.1f} / {total} MB{pct}, "
            f"{rate / 1e6:.2f} MB/s, ETA {eta}"
        )


def _fail(month: str, url: str, message: str) -> DownloadError:
    return DownloadError(f"Lichess dump {month} ({url}): {message}")


def _transfer_once(
    month: str,
    url: str,
    part: Path,
    state: _PartState,
    timeout: float,
    chunk_size: int,
    progress: _Progress,
) -> int | None:
    """One HTTP request appending to ``part`` from ``state.size`` on.

    Returns the total size of the remote file when the server told it, else None.
    Raises ``_Interrupted`` for failures that resuming can fix and ``DownloadError``
    for ones it cannot.
    """
    offset = state.size
    try:
        resp = urllib.request.urlopen(_request(url, offset), timeout=timeout)
    except urllib.error.HTTPError as exc:
        try:
            if exc.code == 416 and offset:
                # The .part already has as many bytes as the range asks to skip:
                # either it is complete (verify it) or it cannot be a prefix.
                match = _UNSATISFIED_RANGE_RE.fullmatch((exc.headers.get("Content-Range") or "").strip())
                remote = int(match.group(1)) if match else None
                if remote == offset:
                    return remote
                raise _fail(
                    month, url,
                    f"server refused Range bytes={offset}- (HTTP 416, remote size {remote}); "
                    f"{part} ({offset} bytes) cannot be a prefix of the remote file; "
                    "delete it to restart from zero",
                ) from exc
            if exc.code in _TRANSIENT_STATUS:
                raise _Interrupted(f"HTTP {exc.code} {exc.reason}") from exc
            raise _fail(month, url, f"HTTP {exc.code} {exc.reason}") from exc
        finally:
            _close_quietly(exc)
    except urllib.error.URLError as exc:
        raise _Interrupted(f"connection failed: {exc.reason}") from exc
    except (http.client.HTTPException, OSError) as exc:  # e.g. RemoteDisconnected, timeout
        raise _Interrupted(f"connection failed: {type(exc).__name__}: {exc}") from exc

    with resp:
        status = resp.status
        length_header = resp.headers.get("Content-Length")
        body_length = int(length_header) if length_header and length_header.isdigit() else None
        total: int | None
        if offset:
            if status == 200:
                # Appending a full body to the .part would silently corrupt it.
                raise _fail(
                    month, url,
                    f"resuming {part} at byte {offset} needs HTTP Range requests, but the "
                    "server ignored the Range header (answered 200, not 206): ranges are "
                    f"unsupported there; delete {part} to restart the download from zero",
                )
            if status != 206:
                raise _fail(month, url, f"unexpected HTTP {status} to a Range request")
            content_range = (resp.headers.get("Content-Range") or "").strip()
            match = _CONTENT_RANGE_RE.fullmatch(content_range)
            if not match or int(match.group(1)) != offset:
                raise _fail(
                    month, url,
                    f"asked for bytes={offset}- but the server answered Content-Range "
                    f"{content_range!r}; refusing to append it to {part} "
                    "(delete it to restart from zero)",
                )
            first, last = int(match.group(1)), int(match.group(2))
            total = None if match.group(3) == "*" else int(match.group(3))
            body_length = last - first + 1
        else:
            if status != 200:
                raise _fail(month, url, f"unexpected HTTP {status}")
            total = body_length
        if total is not None:
            progress.total = total

        received = 0
        with open(part, "ab") as fh:
            while True:
                try:
                    chunk = resp.read(chunk_size)
                except (http.client.HTTPException, OSError) as exc:
                    # IncompleteRead, ConnectionResetError, TimeoutError, ...
                    raise _Interrupted(
                        f"connection lost after {received} bytes: {type(exc).__name__}: {exc}"
                    ) from exc
                if not chunk:
                    break
                fh.write(chunk)
                state.add(chunk)
                received += len(chunk)
                progress.update(state.size)
        if body_length is not None and received < body_length:
            # http.client returns b"" instead of raising when a body is short.
            raise _Interrupted(f"connection closed after {received} of {body_length} bytes")
        return total


def download_month(
    month: str,
    base_url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    timeout: float = 60.0,
    chunk_size: int = 1 << 20,
    log: TextIO | None = None,
    retries: int = 3,
    backoff: float = 1.0,
) -> Path:
    """Download the standard rated dump of ``month`` from ``base_url`` to ``dest``.

    If ``dest`` exists it is returned as it is, without network access: it was
    either written by this function (which only ever creates it verified) or put
    there on purpose, e.g. by ``dvc import-url``, and re-hashing tens of gigabytes
    on every workflow run would be wasteful.

    The expected SHA-256 is ``sha256`` when given (a pinned digest, so a mirror
    without ``sha256sums.txt`` still works), otherwise the entry for the dump in
    ``{base_url}/sha256sums.txt``. Without either a ``DownloadError`` is raised:
    an unverified file is never accepted.

    Bytes are streamed to ``dest.part`` and hashed on the way. An existing
    ``.part`` (from an interrupted earlier run) is hashed and then continued with
    a ``Range`` request; a dropped connection is resumed the same way, up to
    ``retries`` extra attempts with exponential ``backoff`` seconds between them,
    after which ``DownloadError`` is raised and the ``.part`` is kept so that the
    next run resumes. On a checksum mismatch the ``.part`` is deleted (resuming a
    corrupt prefix could never succeed). Only a verified file is fsynced and
    atomically renamed onto ``dest``.

    Progress lines (bytes, MB/s, ETA) go to ``log`` at most about once a second.
    """
    name = dump_name(month)
    if sha256 is not None and not _SHA256_RE.fullmatch(sha256.strip()):
        raise ValueError(f"sha256 {sha256!r} for month {month} is not 64 hexadecimal digits")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, not {retries}")
    dest = Path(dest)
    progress = _Progress(log, month)
    if dest.exists():
        progress.say(f"{month}: {dest} already exists; using it as it is")
        return dest

    url = _join(base_url, name)
    if sha256 is not None:
        expected = sha256.strip().lower()
    else:
        try:
            sums = fetch_sha256sums(base_url, timeout)
        except DownloadError as exc:
            raise _fail(
                month, url,
                f"no checksum to verify against ({exc}); pass sha256= to pin one",
            ) from exc
        if name not in sums:
            raise _fail(
                month, url,
                f"{_join(base_url, 'sha256sums.txt')} has no entry for {name}; "
                "pass sha256= to pin one",
            )
        expected = sums[name]

    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    state = _PartState()
    if part.exists():
        progress.say(f"{month}: hashing {part.stat().st_size:,} bytes already in {part} to resume")
        state = _hash_file(part, chunk_size)
    progress.say(f"{month}: downloading {url} -> {dest}" + (f" from byte {state.size:,}" if state.size else ""))
    progress.begin(state.size)

    attempt = 0
    while True:
        on_disk = part.stat().st_size if part.exists() else 0
        if on_disk != state.size:
            # A failed write left the file and the running hash out of step; re-sync.
            state = _hash_file(part, chunk_size) if on_disk else _PartState()
        before = state.size
        try:
            total = _transfer_once(month, url, part, state, timeout, chunk_size, progress)
            if total is None or state.size >= total:
                break
            if state.size > before:
                continue  # a server that caps range sizes: ask for the rest, no retry used
            raise _Interrupted(f"server sent {state.size} of {total} bytes")
        except _Interrupted as exc:
            if attempt >= retries:
                raise _fail(
                    month, url,
                    f"download interrupted ({exc}) and {retries} retries used up; "
                    f"kept {part} ({state.size:,} bytes) so that the next run resumes from there",
                ) from exc
            delay = min(backoff * 2**attempt, 60.0)
            attempt += 1
            progress.say(
                f"{month}: {exc}; resuming at byte {state.size:,} in {delay:.1f} s "
                f"(retry {attempt}/{retries})"
            )
            time.sleep(delay)

    progress.update(state.size, force=True)
    actual = state.hasher.hexdigest()
    if actual != expected:
        part.unlink(missing_ok=True)
        raise _fail(
            month, url,
            f"SHA-256 checksum mismatch: expected {expected}, got {actual} "
            f"({state.size:,} bytes); deleted {part}",
        )
    with open(part, "r+b") as fh:
        os.fsync(fh.fileno())
    os.replace(part, dest)
    _fsync_dir(dest.parent)
    progress.say(f"{month}: verified SHA-256 {actual}, saved {dest} ({state.size:,} bytes)")
    return dest


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (POSIX); best effort where directories cannot be opened."""
    flags = getattr(os, "O_DIRECTORY", None)
    if flags is None:
        return
    try:
        fd = os.open(directory, os.O_RDONLY | flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
