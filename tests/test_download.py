"""Tests of transcendence.data.download against a real HTTP server on 127.0.0.1.

No mocks: a ThreadingHTTPServer in a background thread serves seeded random bytes
and a sha256sums.txt, honours Range requests, and can be told per test to drop the
connection part-way (FIN, RST or stall), ignore Range, serve wrong bytes, answer
404/503 or send a wrong Content-Range. Every request it sees is recorded so the
tests can assert what the client actually sent.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import socket
import struct
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

try:
    import transcendence  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from transcendence.data.download import (  # noqa: E402
    DownloadError,
    download_month,
    dump_name,
    fetch_sha256sums,
    parse_sha256sums,
)

MONTH = "2013-01"
NAME = f"lichess_db_standard_rated_{MONTH}.pgn.zst"
DATA = random.Random(20130101).randbytes(300_000)
DIGEST = hashlib.sha256(DATA).hexdigest()
DROP_AT = 100_000
CHUNK = 16 * 1024


@dataclass
class ServerConfig:
    """What the test server does; tests change it before calling the client."""

    data: bytes = DATA
    sums: str | None = f"{'0' * 64}  lichess_db_standard_rated_2012-12.pgn.zst\n{DIGEST}  {NAME}\n"
    drop_after: int | None = None  # first dump request only: send this many body bytes, then fail
    drop_mode: str = "close"  # "close" (FIN), "reset" (RST) or "stall" (stop sending)
    ignore_range: bool = False  # answer 200 with the whole body to Range requests
    corrupt: bool = False  # serve different bytes than sha256sums.txt describes
    missing: bool = False  # 404 for the dump
    first_status: int | None = None  # status of the first dump request (e.g. 503)
    bad_content_range: bool = False  # 206 whose Content-Range starts at 0
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def dump_requests(self) -> list[str | None]:
        """Range headers (None when absent) of the requests for the dump, in order."""
        return [rng for path, rng in self.requests if path == "/" + NAME]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "LocalServer"

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def _status(self, code: int) -> None:
        self.server.cfg.statuses.append(code)
        self.send_response(code)

    def _error(self, code: int) -> None:
        self.server.cfg.statuses.append(code)
        self.send_error(code)

    def do_GET(self) -> None:
        cfg = self.server.cfg
        rng = self.headers.get("Range")
        with cfg.lock:
            first = self.path == "/" + NAME and not cfg.dump_requests()
            cfg.requests.append((self.path, rng))
        if self.path == "/sha256sums.txt" and cfg.sums is not None:
            body = cfg.sums.encode()
            self._status(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path != "/" + NAME or cfg.missing:
            self._error(404)
            return
        if first and cfg.first_status is not None:
            self._error(cfg.first_status)
            return

        data = bytearray(cfg.data)
        if cfg.corrupt:
            data[len(data) // 2] ^= 0xFF
        start = 0
        if rng is not None and not cfg.ignore_range:
            match = re.fullmatch(r"bytes=(\d+)-", rng)
            assert match, f"client sent an unexpected Range header {rng!r}"
            start = int(match.group(1))
            if start >= len(data):
                self._status(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._status(206)
            claimed = 0 if cfg.bad_content_range else start
            self.send_header("Content-Range", f"bytes {claimed}-{len(data) - 1}/{len(data)}")
        else:
            self._status(200)
        payload = bytes(data[start:])
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()

        if first and cfg.drop_after is not None:
            self.wfile.write(payload[: cfg.drop_after])
            self.wfile.flush()
            self.close_connection = True
            if cfg.drop_mode == "stall":
                cfg.stop.wait(5.0)  # longer than the client's timeout; ended at teardown
            elif cfg.drop_mode == "reset":
                cfg.stop.wait(0.1)  # let the client read what was sent, then RST
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            return  # "close": the server closes the socket after a short body
        self.wfile.write(payload)


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cfg: ServerConfig) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.cfg = cfg

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


@pytest.fixture
def server():
    srv = LocalServer(ServerConfig())
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.cfg.stop.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _get(srv: LocalServer, dest: Path, **kwargs) -> Path:
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("chunk_size", CHUNK)
    kwargs.setdefault("backoff", 0.0)
    return download_month(MONTH, srv.base_url, dest, **kwargs)


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _assert_names_month_and_url(exc: DownloadError, srv: LocalServer) -> None:
    text = str(exc)
    assert MONTH in text
    assert srv.base_url + NAME in text


# --------------------------------------------------------------------------- names


def test_dump_name() -> None:
    assert dump_name(MONTH) == NAME
    assert dump_name("2024-12") == "lichess_db_standard_rated_2024-12.pgn.zst"


@pytest.mark.parametrize("month", ["2013-1", "2013-13", "2013-00", "13-01", "2013-01.pgn", "2013_01", "", "２０１３-01"])
def test_bad_month_is_value_error(month: str, server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(month))):
        dump_name(month)
    with pytest.raises(ValueError, match=re.escape(repr(month))):
        download_month(month, server.base_url, tmp_path / "x.pgn.zst")
    assert server.cfg.requests == []


# ----------------------------------------------------------------------- checksums


def test_parse_sha256sums_tolerates_star_and_blank_lines() -> None:
    a, b = "a" * 64, "B" * 64
    text = f"\n{a}  one.pgn.zst\n\n{b} *two.pgn.zst\n  \n# comment\n"
    assert parse_sha256sums(text) == {"one.pgn.zst": a, "two.pgn.zst": b.lower()}


def test_parse_sha256sums_rejects_garbage() -> None:
    with pytest.raises(DownloadError, match="line 2"):
        parse_sha256sums(f"{'a' * 64}  one\n<html>Not found</html>\n")


def test_fetch_sha256sums(server: LocalServer) -> None:
    sums = fetch_sha256sums(server.base_url, timeout=5.0)
    assert sums[NAME] == DIGEST
    assert len(sums) == 2
    server.cfg.sums = None
    with pytest.raises(DownloadError, match="404") as info:
        fetch_sha256sums(server.base_url, timeout=5.0)
    assert server.base_url + "sha256sums.txt" in str(info.value)


# ------------------------------------------------------------------------ download


def test_clean_download(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / "raw" / NAME
    log = io.StringIO()
    assert _get(server, dest, log=log) == dest
    assert dest.read_bytes() == DATA
    assert not _part(dest).exists()
    assert list(dest.parent.iterdir()) == [dest]
    assert server.cfg.dump_requests() == [None]  # one request, no Range
    assert ("/sha256sums.txt", None) in server.cfg.requests
    lines = log.getvalue().splitlines()
    assert any("100.0%" in line and "MB/s" in line and "ETA" in line for line in lines)
    assert DIGEST in lines[-1]


@pytest.mark.parametrize(
    ("mode", "symptom"),
    [("close", "connection closed after"), ("reset", "ConnectionResetError"), ("stall", "TimeoutError")],
)
def test_interrupted_download_resumes(mode: str, symptom: str, server: LocalServer, tmp_path: Path) -> None:
    server.cfg.drop_after, server.cfg.drop_mode = DROP_AT, mode
    dest = tmp_path / NAME
    log = io.StringIO()
    _get(server, dest, timeout=0.5, log=log)
    assert symptom in log.getvalue()  # the failure this mode is meant to provoke happened
    assert dest.read_bytes() == DATA
    assert not _part(dest).exists()
    first, second = server.cfg.dump_requests()
    assert first is None
    match = re.fullmatch(r"bytes=(\d+)-", second or "")
    assert match, f"the retry did not resume with Range: {second!r}"
    assert 0 < int(match.group(1)) <= DROP_AT
    assert server.cfg.statuses[-1] == 206


def test_retries_exhausted_keeps_part_then_next_call_resumes(server: LocalServer, tmp_path: Path) -> None:
    server.cfg.drop_after = DROP_AT
    dest = tmp_path / NAME
    with pytest.raises(DownloadError) as info:
        _get(server, dest, retries=0)
    _assert_names_month_and_url(info.value, server)
    assert ".part" in str(info.value)
    assert not dest.exists()
    kept = _part(dest).read_bytes()
    assert 0 < len(kept) <= DROP_AT
    assert kept == DATA[: len(kept)]
    assert len(server.cfg.dump_requests()) == 1

    _get(server, dest, retries=0)  # the server no longer drops
    assert dest.read_bytes() == DATA
    assert not _part(dest).exists()
    assert server.cfg.dump_requests()[1] == f"bytes={len(kept)}-"


def test_retries_are_bounded(server: LocalServer, tmp_path: Path) -> None:
    server.cfg.first_status = 503
    dest = tmp_path / NAME
    _get(server, dest, retries=1)  # one 503, then success
    assert dest.read_bytes() == DATA
    assert server.cfg.statuses.count(503) == 1


@pytest.mark.parametrize("how", ["corrupt server", "wrong pin"])
def test_corrupt_content_is_refused(how: str, server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / NAME
    if how == "corrupt server":
        server.cfg.corrupt = True
        expected, kwargs = DIGEST, {}
    else:
        expected = hashlib.sha256(b"something else").hexdigest()
        kwargs = {"sha256": expected}
    with pytest.raises(DownloadError) as info:
        _get(server, dest, **kwargs)
    text = str(info.value)
    _assert_names_month_and_url(info.value, server)
    assert "checksum" in text.lower() and "SHA-256" in text
    assert expected in text
    served = bytearray(DATA)
    if how == "corrupt server":
        served[len(served) // 2] ^= 0xFF
    assert hashlib.sha256(served).hexdigest() in text
    assert not dest.exists()
    assert not _part(dest).exists()


def test_http_404(server: LocalServer, tmp_path: Path) -> None:
    server.cfg.missing = True
    dest = tmp_path / NAME
    with pytest.raises(DownloadError, match="404") as info:
        _get(server, dest, sha256=DIGEST)
    _assert_names_month_and_url(info.value, server)
    assert len(server.cfg.dump_requests()) == 1  # not retried
    assert not dest.exists() and not _part(dest).exists()


def test_server_without_range_support_is_a_clear_error(server: LocalServer, tmp_path: Path) -> None:
    server.cfg.ignore_range = True
    dest = tmp_path / NAME
    prefix = DATA[:50_000]
    _part(dest).write_bytes(prefix)
    with pytest.raises(DownloadError) as info:
        _get(server, dest)
    text = str(info.value)
    _assert_names_month_and_url(info.value, server)
    assert "Range" in text and "unsupported" in text
    assert "delete" in text and str(_part(dest)) in text
    assert server.cfg.dump_requests() == ["bytes=50000-"]
    assert _part(dest).read_bytes() == prefix  # nothing appended to the .part
    assert not dest.exists()


def test_wrong_content_range_is_refused(server: LocalServer, tmp_path: Path) -> None:
    server.cfg.bad_content_range = True
    dest = tmp_path / NAME
    prefix = DATA[:50_000]
    _part(dest).write_bytes(prefix)
    with pytest.raises(DownloadError, match="Content-Range") as info:
        _get(server, dest)
    _assert_names_month_and_url(info.value, server)
    assert _part(dest).read_bytes() == prefix
    assert not dest.exists()


def test_complete_part_is_verified_and_renamed(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / NAME
    _part(dest).write_bytes(DATA)  # e.g. a run killed between download and rename
    _get(server, dest)
    assert dest.read_bytes() == DATA
    assert not _part(dest).exists()
    assert server.cfg.dump_requests() == [f"bytes={len(DATA)}-"]
    assert server.cfg.statuses[-1] == 416


def test_pinned_sha256_needs_no_sha256sums(server: LocalServer, tmp_path: Path) -> None:
    server.cfg.sums = None
    dest = tmp_path / NAME
    _get(server, dest, sha256=DIGEST.upper())
    assert dest.read_bytes() == DATA
    assert all(path != "/sha256sums.txt" for path, _ in server.cfg.requests)


def test_no_checksum_means_no_download(server: LocalServer, tmp_path: Path) -> None:
    server.cfg.sums = None
    dest = tmp_path / NAME
    with pytest.raises(DownloadError, match="checksum") as info:
        _get(server, dest)
    _assert_names_month_and_url(info.value, server)
    assert server.cfg.dump_requests() == []
    assert not dest.exists() and not _part(dest).exists()


def test_month_missing_from_sha256sums(server: LocalServer, tmp_path: Path) -> None:
    server.cfg.sums = f"{DIGEST}  lichess_db_standard_rated_2012-12.pgn.zst\n"
    with pytest.raises(DownloadError, match="no entry") as info:
        _get(server, tmp_path / NAME)
    _assert_names_month_and_url(info.value, server)
    assert server.cfg.dump_requests() == []


def test_existing_dest_is_used_without_network(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / NAME
    dest.write_bytes(b"imported with dvc import-url")
    before = dest.stat()
    assert _get(server, dest) == dest
    assert dest.read_bytes() == b"imported with dvc import-url"
    assert dest.stat().st_mtime_ns == before.st_mtime_ns
    assert server.cfg.requests == []
