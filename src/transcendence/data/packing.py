"""Serialise filtered games into the paper's text and pack them into token blocks.

The paper's packing (docs/PROTOCOL.md): blocks of 1024 characters (the model sees 1023 and predicts the next
one); a game that does not fit in what is left of a block starts at the beginning of the
next block; longer games are truncated; 95/5 train/val split by game. The rest of a block
is padded with spaces (id 0), which the model learns to emit after a game, harmlessly,
since a move ends at the first space anyway. Blocks are stored as flat ``uint8`` token
files that training memory-maps.

A cap of the paper holds hundreds of millions of Lichess games, far more text than fits in
memory, so :func:`build_dataset` streams: an external shuffle in two passes over temporary
bucket files, and packers that append blocks to the token files as they go. Memory is
bounded by the configured bucket size, whatever the number of games. Pass 1 (reading and
serialising, about 10k games/s a core) is the cost, so it runs one process per dump.
"""

from __future__ import annotations

import io
import itertools
import math
import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import queue as queue_module
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Sequence, TextIO

import numpy as np

from ..files import atomic_path, write_json
from ..pgn.stream import iter_games
from ..pgn.text import movetext_to_text
from ..pgn.vocab import GAME_START, SPACE_ID, TOKEN_TABLE, VOCAB

#: Estimated characters of paper text per byte of a dump, used to choose the number of
#: shuffle buckets before the text exists. The text drops headers, comments, clocks and
#: results, so it is shorter than the PGN it comes from: 1.0 bounds a plain file. A ``.zst``
#: file holds more text than its size: 2.15 measured on this project's synthetic cap files
#: (no clocks, which compress well); Lichess months, whose clock comments compress badly,
#: hold less per byte. 2.5 errs towards more, smaller buckets. The estimate only sets the
#: number of buckets: a bucket that still comes out over the bound is split again in pass 2.
TEXT_PER_BYTE: dict[str, float] = {".zst": 2.5, "": 1.0}

_FLUSH_BYTES = 4 << 20       # pass 1 holds at most this much text before appending to buckets
_BATCH_BLOCKS = 1024         # blocks a packer holds before writing them (1 MB of 1024)
_PROGRESS_EVERY = 200_000    # games between progress lines in the log
_CANCEL_EVERY = 1_000        # games between a pass-1 worker's looks at the cancel flag

def iter_game_texts(dumps: Iterable[str | Path], counts: dict[str, int],
                    log: TextIO = sys.stderr, label: str = "pass 1 (serialise)") -> Iterator[bytes]:
    """Paper-format text (ASCII bytes) of every game in ``dumps``, in file order.

    Games that cannot be read are skipped and counted in ``counts["skipped_unreadable"]``;
    ``counts["games"]`` counts the texts yielded and ``counts["read"]`` the games read.
    Progress goes to ``log``, each line starting with ``label``.
    """
    for key in ("games", "skipped_unreadable", "read"):
        counts.setdefault(key, 0)
    read, started = 0, time.monotonic()
    for dump in dumps:
        for game in iter_games(dump):
            read += 1
            counts["read"] += 1
            if read % _PROGRESS_EVERY == 0:
                rate = read / (time.monotonic() - started)
                print(f"[dataset] {label}: {read} games read, {rate:.0f} games/s",
                      file=log, flush=True)
            try:
                text = movetext_to_text(game.movetext)
            except ValueError as exc:
                counts["skipped_unreadable"] += 1
                if counts["skipped_unreadable"] <= 5:
                    print(f"[dataset] skipping game at {dump}:{game.line}: {exc}", file=log)
                continue
            if not text.startswith(GAME_START):
                text = GAME_START + text
            if len(text) > 1:
                # The text is built from SAN tokens joined by single spaces, so it holds no
                # newline; the bucket files (one game a line) rely on it.
                if "\n" in text:
                    raise ValueError(f"{dump}:{game.line}: game text holds a newline: {text[:60]!r}")
                counts["games"] += 1
                yield text.encode("ascii")
    rate = read / max(time.monotonic() - started, 1e-9)
    print(f"[dataset] {label}: done, {read} games read, {counts['games']} kept, "
          f"{counts['skipped_unreadable']} unreadable, {rate:.0f} games/s", file=log, flush=True)


class BlockPacker:
    """Pack games into fixed-size token blocks appended to a binary file as they come.

    The rule: a game that does not fit in what is left of the current block starts the next
    one, a game longer than a block is truncated (and counted), and the rest of a block is
    padded with spaces (``SPACE_ID``). Blocks are written in batches of ``batch_blocks``, so
    memory stays flat whatever the number of games. Games are ASCII bytes (or str);
    characters become ids with one ``bytes.translate`` per batch, not per game.
    """

    def __init__(self, out: BinaryIO, block_size: int, batch_blocks: int = _BATCH_BLOCKS) -> None:
        if block_size < 1:
            raise ValueError(f"block size must be positive, got {block_size}")
        self.out, self.block_size, self.batch_blocks = out, block_size, batch_blocks
        self._block: list[bytes] = []   # games (or truncated games) of the current block
        self._used = 0
        self._batch: list[bytes] = []   # finished blocks, as characters, not yet written
        self.games = self.blocks = self.game_chars = self.truncated_games = 0

    def add(self, text: bytes | str) -> None:
        """Append one game to the blocks."""
        if isinstance(text, str):
            try:
                text = text.encode("ascii")
            except UnicodeEncodeError as exc:
                raise ValueError(f"character {text[exc.start]!r} at position {exc.start} is not "
                                 f"in the vocabulary {VOCAB!r}") from None
        n = len(text)
        self.games += 1
        self.game_chars += n
        if n > self.block_size:
            text, n = text[:self.block_size], self.block_size
            self.truncated_games += 1
        if self._used + n > self.block_size:
            self._end_block()
        self._block.append(text)
        self._used += n

    def close(self) -> dict[str, int]:
        """Write what is left (the last block, padded); return the split's statistics."""
        if self._used:
            self._end_block()
        self._flush()
        return {"games": self.games, "blocks": self.blocks, "tokens": self.blocks * self.block_size,
                "game_chars": self.game_chars, "truncated_games": self.truncated_games}

    def _end_block(self) -> None:
        self._batch.append(b"".join(self._block).ljust(self.block_size, VOCAB[SPACE_ID].encode()))
        self._block, self._used = [], 0
        self.blocks += 1
        if len(self._batch) >= self.batch_blocks:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        chars = b"".join(self._batch)
        ids = chars.translate(TOKEN_TABLE)
        bad = ids.find(b"\xff")
        if bad >= 0:
            block = self.blocks - len(self._batch) + bad // self.block_size
            raise ValueError(f"character {chr(chars[bad])!r} (block {block}, position "
                             f"{bad % self.block_size}) is not in the vocabulary {VOCAB!r}")
        self.out.write(ids)
        self._batch = []


def shuffle_buckets(dumps: Iterable[str | Path], bucket_bytes: float) -> int:
    """Number of shuffle buckets: the dumps' estimated text over the bucket size (at least 1).

    The text's size is only known once serialised, and pass 1 must know the number of
    buckets to scatter games into them, so it is estimated from the files' sizes
    (:data:`TEXT_PER_BYTE`). Counting exactly would take a third pass over the dumps, or a
    copy of all the text on disk; an estimate that comes out low costs only a re-split of
    the buckets that overflow (see :func:`shuffled`).
    """
    text = sum(Path(d).stat().st_size * TEXT_PER_BYTE[".zst" if str(d).endswith(".zst") else ""]
               for d in dumps)
    return max(1, math.ceil(text / bucket_bytes))


def scatter(texts: Iterable[bytes], buckets: Sequence[Path], rng: random.Random) -> int:
    """Append each text as one line to a bucket file drawn from ``rng``; return the count.

    With one bucket no random number is drawn. Texts are held back and appended in batches
    of about 4 MB, one file open at a time, so any number of buckets works (no limit on
    open files) and memory stays flat.
    """
    k = len(buckets)
    pending: list[list[bytes]] = [[] for _ in buckets]
    held = n = 0

    def flush() -> None:
        for path, lines in zip(buckets, pending):
            if lines:
                with open(path, "ab") as fh:
                    fh.write(b"\n".join(lines))
                    fh.write(b"\n")
                lines.clear()

    draw = rng.randrange
    for text in texts:
        pending[draw(k) if k > 1 else 0].append(text)
        held += len(text) + 1
        n += 1
        if held >= _FLUSH_BYTES:
            flush()
            held = 0
    flush()
    return n


def shuffled(buckets: Sequence[Path | Sequence[Path]], bucket_bytes: float, rng: random.Random,
             split_rng: random.Random) -> Iterator[bytes]:
    """The lines of the buckets, each bucket read whole and shuffled with ``rng``.

    A bucket is one file, or a list of files that are its parts (pass 1 writes one part per
    dump), read one after another as if concatenated; missing files are empty parts.
    Buckets are read in order and deleted once read. Scattering games into buckets
    uniformly at random and shuffling each bucket uniformly gives a uniformly random order
    of all games (Rao's external shuffle). A bucket over ``bucket_bytes`` (the size was
    under-estimated) is first scattered again into sub-buckets with ``split_rng``, so
    memory stays bounded; one that cannot be split (one game) is read whole.
    """
    for bucket in buckets:
        parts = [p for p in ([bucket] if isinstance(bucket, Path) else bucket) if p.exists()]
        if not parts:  # no game drawn this bucket
            continue
        size = sum(p.stat().st_size for p in parts)
        if size > bucket_bytes:
            first = parts[0]
            subs = [first.with_name(f"{first.name}.{i}") for i in range(max(2, math.ceil(size / bucket_bytes)))]
            scatter((line.rstrip(b"\n") for line in _lines(parts)), subs, split_rng)
            for part in parts:
                part.unlink()
            if not any(sub.exists() and sub.stat().st_size == size for sub in subs):
                yield from shuffled(subs, bucket_bytes, rng, split_rng)
                continue
            parts = [next(sub for sub in subs if sub.exists())]  # all in one: a single game
        # line by line: never a whole file and its lines at once
        texts = [line.rstrip(b"\n") for line in _lines(parts)]
        for part in parts:
            part.unlink()
        rng.shuffle(texts)
        yield from texts


def _lines(paths: Sequence[Path]) -> Iterator[bytes]:
    for path in paths:
        with open(path, "rb") as fh:
            yield from fh


def bucket_part(work: Path, bucket: int, dump: int) -> Path:
    """The file in ``work`` that holds bucket ``bucket``'s games from dump number ``dump``."""
    return work / f"bucket{bucket:05d}-dump{dump:05d}.txt"


def scatter_dump(dump: str | Path, index: int, n_dumps: int, work: Path, k: int, seed: int,
                 log: TextIO = sys.stderr) -> dict[str, int]:
    """Pass 1 for one dump: its games' texts into its own K bucket files; return its counts.

    The dump's games go to :func:`bucket_part` ``(work, b, index)`` for b < k, drawn from
    ``random.Random(f"{seed}/buckets/{index}")``: seeded by the config's seed and the
    dump's place in the input list only, so what a dump scatters does not depend on which
    process reads it, nor when. Counts as :func:`iter_game_texts`.
    """
    counts: dict[str, int] = {}
    label = f"pass 1 (serialise), dump {index + 1} of {n_dumps} ({dump})"
    texts = _unless_cancelled(iter_game_texts([dump], counts, log, label))
    scatter(texts, [bucket_part(work, b, index) for b in range(k)], random.Random(f"{seed}/buckets/{index}"))
    return counts


def scatter_dumps(dumps: Sequence[str | Path], work: Path, k: int, seed: int, workers: int,
                  log: TextIO = sys.stderr) -> dict[str, int]:
    """Pass 1 over all dumps (:func:`scatter_dump`), in ``workers`` processes; summed counts.

    With one worker (or one dump) the dumps are read one after another in this process.
    Otherwise each dump is a task of a process pool: workers send their log lines through
    a queue, which this process copies to ``log`` as they come. The first dump to fail
    (in input order among those that failed) raises its error here, unchanged (a
    :class:`~transcendence.pgn.stream.DumpError` names its file); the other workers are
    told to stop and are waited for, so no process still writes into ``work`` afterwards.
    """
    workers = max(1, min(workers, len(dumps)))
    tasks = [(dump, i, len(dumps), work, k, seed) for i, dump in enumerate(dumps)]
    if workers == 1:
        results = [scatter_dump(*task, log=log) for task in tasks]
    else:
        context = multiprocessing.get_context()
        lines, cancel = context.Queue(), context.Event()
        try:
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                     initargs=(lines, cancel)) as pool:
                futures: list[Future] = [pool.submit(_scatter_in_worker, *task) for task in tasks]
                try:
                    pending = set(futures)
                    while pending:
                        _copy_lines(lines, log)
                        _, pending = wait(pending, timeout=1.0, return_when=FIRST_EXCEPTION)
                        failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
                        if failed:
                            failed[0].result()  # raises the worker's exception
                except BaseException:
                    cancel.set()
                    for future in futures:
                        future.cancel()
                    raise
                finally:
                    # Wait for the running tasks (told to stop, on failure) and keep copying
                    # their lines meanwhile: a worker cannot exit while the queue's pipe is
                    # full. What is left when they end is a few lines; the pool's exit
                    # joins the workers, so none writes into `work` after this returns.
                    while not all(f.done() for f in futures):
                        _copy_lines(lines, log)
                        wait(futures, timeout=0.2)
                results = [f.result() for f in futures]
        finally:
            _copy_lines(lines, log)
    return {key: sum(r[key] for r in results) for key in ("games", "skipped_unreadable", "read")}


class _Cancelled(Exception):
    """Raised in a pass-1 worker told to stop because another dump failed."""


# Set in each pool worker by _start_worker; None in the process that called build_dataset.
_LINES: multiprocessing.queues.Queue | None = None
_CANCEL: multiprocessing.synchronize.Event | None = None


def _start_worker(lines: multiprocessing.queues.Queue, cancel: multiprocessing.synchronize.Event) -> None:
    global _LINES, _CANCEL
    _LINES, _CANCEL = lines, cancel


def _scatter_in_worker(*task) -> dict[str, int]:
    return scatter_dump(*task, log=_QueueLog(_LINES))


def _unless_cancelled(texts: Iterable[bytes]) -> Iterator[bytes]:
    for i, text in enumerate(texts):
        if _CANCEL is not None and i % _CANCEL_EVERY == 0 and _CANCEL.is_set():
            raise _Cancelled()
        yield text


class _QueueLog(io.TextIOBase):
    """A text stream that sends each complete line to a queue (a pass-1 worker's log)."""

    def __init__(self, lines: multiprocessing.queues.Queue) -> None:
        self.lines, self.partial = lines, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *complete, self.partial = (self.partial + text).split("\n")
        for line in complete:
            self.lines.put(line)
        return len(text)


def _copy_lines(lines: multiprocessing.queues.Queue, log: TextIO) -> None:
    while True:
        try:
            line = lines.get_nowait()
        except queue_module.Empty:
            return
        print(line, file=log, flush=True)


def build_dataset(dumps: Sequence[str | Path], train_out: str | Path, val_out: str | Path,
                  meta_out: str | Path, *, block_size: int, val_fraction: float, seed: int,
                  shuffle_bucket_mb: float, workers: int = 1,
                  log: TextIO = sys.stderr) -> dict[str, object]:
    """Serialise, shuffle (seeded), split by game and pack; write token files and metadata.

    Streams in two passes, so memory is bounded by ``shuffle_bucket_mb`` (megabytes of
    game text; Python holds about 1.2x that for Lichess-length games) and not by the
    number of games:

    1. every game's text goes, one per line, to one of K buckets in a temporary folder
       beside the outputs, with K the estimated text of all dumps over the bucket size
       (:func:`shuffle_buckets`). Each dump has its own K bucket files and its own
       generator, ``random.Random(f"{seed}/buckets/{i}")`` for the i-th dump of ``dumps``
       (counting from 0), so the dumps are read in parallel, ``workers`` processes at once
       (:func:`scatter_dumps`);
    2. bucket j is every dump's bucket-j file, concatenated in input order. Each bucket is
       read whole and shuffled (``random.Random(seed)``, one generator through all
       buckets), and the games stream into two :class:`BlockPacker`: the first
       ``max(1, round(n * val_fraction))`` to val, the rest to train.

    The games come out in a uniformly random order, so the first games are a uniformly
    random val split of exactly the old size whatever K. The result depends on the seed,
    the dumps and their order, never on ``workers``. With K = 1 nothing is drawn in pass 1,
    so the one bucket is every text in file order, and pass 2 is
    ``random.Random(seed).shuffle`` of it: the same bytes as the in-memory algorithm this
    replaced.
    """
    bucket_bytes = shuffle_bucket_mb * 1e6
    k = shuffle_buckets(dumps, bucket_bytes)
    train_out, val_out = Path(train_out), Path(val_out)
    train_out.parent.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers, len(dumps)))
    print(f"[dataset] {len(dumps)} dump(s) -> {k} shuffle bucket(s) of at most "
          f"{shuffle_bucket_mb:g} MB of text; pass 1 in {workers} process(es)", file=log, flush=True)
    work = Path(tempfile.mkdtemp(prefix=".dataset-shuffle-", dir=train_out.parent))
    try:
        started = time.monotonic()
        read = scatter_dumps(dumps, work, k, seed, workers, log)
        counts = {"games": read["games"], "skipped_unreadable": read["skipped_unreadable"]}
        print(f"[dataset] pass 1 (serialise): done, {read['read']} games read, {counts['games']} kept, "
              f"{counts['skipped_unreadable']} unreadable, "
              f"{read['read'] / max(time.monotonic() - started, 1e-9):.0f} games/s", file=log, flush=True)
        n = counts["games"]
        if n < 2:
            raise ValueError(f"only {n} usable games in {list(map(str, dumps))}: "
                             "too few to split into train and val (lower the cap or add games)")
        n_val = max(1, round(n * val_fraction))
        meta: dict[str, object] = {"vocab": VOCAB, "block_size": block_size, "seed": seed,
                                   "shuffle_buckets": k, **counts}
        started = time.monotonic()
        with atomic_path(train_out) as train_tmp, atomic_path(val_out) as val_tmp, \
                open(train_tmp, "wb") as train_fh, open(val_tmp, "wb") as val_fh:
            train, val = BlockPacker(train_fh, block_size), BlockPacker(val_fh, block_size)
            buckets = [[bucket_part(work, b, i) for i in range(len(dumps))] for b in range(k)]
            games = shuffled(buckets, bucket_bytes, random.Random(seed),
                             random.Random(f"{seed}/resplit"))
            done = 0
            for text in itertools.islice(games, n_val):
                val.add(text)
                done = _progress(done + 1, n, started, log)
            for text in games:
                train.add(text)
                done = _progress(done + 1, n, started, log)
            parts = {"train": train.close(), "val": val.close()}
        print(f"[dataset] pass 2 (shuffle, pack): done, {n} games, "
              f"{n / max(time.monotonic() - started, 1e-9):.0f} games/s", file=log, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, stats in parts.items():
        meta[name] = stats
        print(f"[dataset] {name}: {stats['games']} games -> {stats['blocks']} blocks of {block_size} "
              f"({stats['truncated_games']} truncated)", file=log, flush=True)
    write_json(meta_out, meta)
    return meta


def _progress(done: int, total: int, started: float, log: TextIO) -> int:
    if done % _PROGRESS_EVERY == 0:
        rate = done / (time.monotonic() - started)
        print(f"[dataset] pass 2 (shuffle, pack): {done} of {total} games, {rate:.0f} games/s",
              file=log, flush=True)
    return done


def load_blocks(path: str | Path, block_size: int) -> np.ndarray:
    """Memory-map a token file written by :func:`build_dataset` as ``(n, block_size)``."""
    flat = np.memmap(path, dtype=np.uint8, mode="r")
    if flat.size % block_size:
        raise ValueError(f"{path}: {flat.size} tokens is not a multiple of the block size {block_size}")
    return flat.reshape(-1, block_size)
