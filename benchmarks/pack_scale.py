"""Benchmark: the dataset stage's speed and peak memory with one shuffle bucket and with many.

At the paper's scale a cap holds hundreds of millions of games, so the dataset stage
(``transcendence.data.packing.build_dataset``) streams: pass 1 serialises every game to the
paper's text and scatters it into K bucket files, pass 2 shuffles one bucket at a time and
packs blocks as it goes. Its memory is bounded by ``dataset.shuffle_bucket_mb``, not by the
number of games. This writes a Lichess-format ``.pgn.zst`` dump of ``--games`` games (the
filter benchmark's generator), then runs the stage as separate processes, each timed, with
its peak resident memory read from the kernel (``VmHWM`` of the child's own address space;
not ``ru_maxrss``, which Linux carries across ``exec`` from the forking parent, so a child of
a parent that holds 170 MB reports at least 170 MB):

- K = 1 (a bucket size above the whole text: the embedded default's case, all text held);
- a small bucket size (``--bucket-mb``) giving K >= 8;
- the in-memory algorithm this replaced (from git commit ``--before``), when git has it.

It also times pass 1's two parts in this process on the first ``--serialise-games`` games:
reading the dump (``iter_games``) and serialising each game (``movetext_to_text``), with the
general lexer (``_movetext_sans``) as the same-run baseline of the fast path, and
``movetext_to_text`` against its version at ``--before``.

Pass 1 runs one process per dump (``build_dataset(workers=...)``, the rule's threads). With
``--workers N`` (N > 1) it also writes a second dump of ``--games`` games and builds the
dataset of both dumps with 1 and with N workers, one after the other, checking that both
write the same bytes; ``--only-workers`` runs that comparison alone.

    .venv/bin/python benchmarks/pack_scale.py [--games 300000] [--bucket-mb 8] [--workers 2] [--only-workers]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from filter_scale import write_dump  # noqa: E402  (filter_speed's generator, as .pgn.zst)

from transcendence.pgn import text as pgn_text  # noqa: E402
from transcendence.pgn.stream import iter_games  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUILD = ("import os, resource, sys; sys.path.insert(0, sys.argv[1]); from {module} import build_dataset; "
         "out = sys.argv[3]; log = open(out + '/log', 'w'); "
         "build_dataset(sys.argv[2].split(os.pathsep), out + '/train.bin', out + '/val.bin', out + '/meta.json', "
         "block_size=1024, val_fraction=0.05, seed=1{extra}, log=log); "
         "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=log); "
         "print('children maxrss', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=log)")


def run_stage(dumps: Path | list[Path], out: Path, module: str = "transcendence.data.packing", extra: str = "",
              path: Path = ROOT / "src") -> tuple[float, float, str]:
    """Run the dataset stage in a child process; (wall seconds, peak RSS MB, its log).

    The peak is the stage's own process; pass 1's workers, when there are any, are its
    children (their largest ``ru_maxrss`` is in the log: see :func:`worker_peak`).
    """
    out.mkdir(parents=True)
    code = BUILD.format(module=module, extra=extra)
    dumps = [dumps] if isinstance(dumps, Path) else dumps
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), os.pathsep.join(map(str, dumps)), str(out)])
    status = proc.wait()
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"dataset process failed with status {status}")
    log = (out / "log").read_text()
    peak_kb = re.search(r"VmHWM:\s*(\d+) kB", log)
    return wall, int(peak_kb.group(1)) / 1024 if peak_kb else float("nan"), log


def worker_peak(log: str) -> float:
    """The largest pass-1 worker's peak RSS in MB (0 without workers).

    ``ru_maxrss`` of forked children: it counts the pages shared with the stage's process
    that a worker touched, so it is an upper bound of what the worker adds.
    """
    found = re.search(r"children maxrss (\d+)", log)
    return int(found.group(1)) / 1024 if found else float("nan")


def compare_workers(dump: Path, games: int, workers: int, bucket_mb: float, work: Path) -> None:
    """Build two dumps' dataset with 1 and with ``workers`` pass-1 processes; print both."""
    second = work / "cap-2.pgn.zst"
    t = time.perf_counter()
    write_dump(second, games, 1)
    print(f"second dump: {games} games, {second.stat().st_size / 1e6:.0f} MB compressed "
          f"(written in {time.perf_counter() - t:.0f}s)", flush=True)
    walls, outs = {}, {}
    for n in (1, workers):
        out = work / f"workers{n}"
        wall, peak, log = run_stage([dump, second], out, extra=f", shuffle_bucket_mb={bucket_mb}, workers={n}")
        k = re.search(r"-> (\d+) shuffle bucket", log)
        walls[n], outs[n] = wall, out
        print(f"2 dumps, {n} worker(s)  K={k.group(1) if k else '-':>3}  {wall:6.1f}s  "
              f"{2 * games / wall:7.0f} games/s  pass 1 {rate(log, 'pass 1 (serialise)'):>6} games/s  "
              f"pass 2 {rate(log, 'pass 2 (shuffle, pack)'):>7} games/s  peak RSS {peak:4.0f} MB, "
              f"largest worker {worker_peak(log):4.0f} MB", flush=True)
    same = all((outs[1] / name).read_bytes() == (outs[workers] / name).read_bytes()
               for name in ("train.bin", "val.bin", "meta.json"))
    print(f"{workers} workers vs 1: {walls[1] / walls[workers]:.2f}x faster end to end; "
          f"train.bin, val.bin and meta.json identical: {same}", flush=True)


def rate(log: str, what: str) -> str:
    found = re.search(rf"{re.escape(what)}: done.* (\d+) games/s", log)
    return found.group(1) if found else "?"


# Where the flat modules a commit before the stage sub-packages imported live now.
MOVED = {"pgn_stream": "pgn.stream", "pgn_text": "pgn.text", "vocab": "pgn.vocab"}


def before_modules(commit: str, work: Path) -> Path | None:
    """A folder with ``packing_before`` and ``pgn_text_before``: the modules at ``commit``.

    None when git does not have the commit (an archive, a shallow clone).
    """
    folder = work / "before"
    folder.mkdir()
    for name in ("packing", "pgn_text"):
        try:
            source = subprocess.run(["git", "show", f"{commit}:src/transcendence/{name}.py"], cwd=ROOT,
                                    capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        (folder / f"{name}_before.py").write_text(
            re.sub(r"^from \.(\w+) import", lambda m: f"from transcendence.{MOVED.get(m[1], m[1])} import",
                   source, flags=re.M))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=300_000)
    parser.add_argument("--bucket-mb", type=float, default=8.0)
    parser.add_argument("--serialise-games", type=int, default=50_000)
    parser.add_argument("--before", default="67c78ce", help="git commit of the in-memory algorithm")
    parser.add_argument("--workers", type=int, default=2,
                        help="pass-1 processes to compare with 1 on two dumps (1: no comparison)")
    parser.add_argument("--only-workers", action="store_true",
                        help="run only the comparison of 1 and --workers workers")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pack-scale-"))
    try:
        dump = work / "cap.pgn.zst"
        t = time.perf_counter()
        write_dump(dump, args.games, 0)
        print(f"dump: {args.games} games, {dump.stat().st_size / 1e6:.0f} MB compressed "
              f"(written in {time.perf_counter() - t:.0f}s)", flush=True)
        if args.workers > 1:
            compare_workers(dump, args.games, args.workers, args.bucket_mb, work)
        if args.only_workers:
            return

        rows = [("K = 1 (bucket 100000 MB)", {"extra": ", shuffle_bucket_mb=100000"}),
                (f"bucket {args.bucket_mb:g} MB", {"extra": f", shuffle_bucket_mb={args.bucket_mb}"})]
        if (folder := before_modules(args.before, work)) is not None:
            rows.append((f"in memory (commit {args.before})", {"module": "packing_before", "path": folder}))
        else:
            print(f"git has no commit {args.before}: the in-memory row is skipped")
        outputs = []
        for i, (label, kwargs) in enumerate(rows):
            wall, peak, log = run_stage(dump, work / f"out{i}", **kwargs)
            k = re.search(r"-> (\d+) shuffle bucket", log)
            print(f"{label:32s} K={k.group(1) if k else '-':>3}  {wall:6.1f}s  {args.games / wall:7.0f} games/s  "
                  f"pass 1 {rate(log, 'pass 1 (serialise)'):>6} games/s  pass 2 {rate(log, 'pass 2 (shuffle, pack)'):>7} "
                  f"games/s  peak RSS {peak:6.0f} MB", flush=True)
            outputs.append(work / f"out{i}")
        same = [(o / "train.bin").read_bytes() == (outputs[0] / "train.bin").read_bytes() for o in outputs]
        print(f"train.bin identical to K = 1's: {same}")

        t = time.perf_counter()
        movetexts = []
        for game in iter_games(dump):
            movetexts.append(game.movetext)
            if len(movetexts) == args.serialise_games:
                break
        read = time.perf_counter() - t
        t = time.perf_counter()
        chars = sum(len(pgn_text.movetext_to_text(m)) for m in movetexts)
        fast = time.perf_counter() - t
        t = time.perf_counter()
        for m in movetexts:
            pgn_text.sans_to_text(pgn_text._movetext_sans(m))
        lexer = time.perf_counter() - t
        n = len(movetexts)
        print(f"pass 1 parts, first {n} games ({chars / n:.0f} characters of text a game): "
              f"iter_games {n / read:.0f} games/s; movetext_to_text {n / fast:.0f} games/s, "
              f"the general lexer {n / lexer:.0f} games/s ({lexer / fast:.1f}x slower)", flush=True)
        if folder is not None:
            sys.path.insert(0, str(folder))
            import pgn_text_before  # noqa: PLC0415  (written by before_modules)

            best = {"now": 0.0, "before": 0.0}  # best of 5, alternating: the machine is shared
            for _ in range(5):
                for name, convert in (("now", pgn_text.movetext_to_text),
                                      ("before", pgn_text_before.movetext_to_text)):
                    t = time.perf_counter()
                    for m in movetexts:
                        convert(m)
                    best[name] = max(best[name], n / (time.perf_counter() - t))
            print(f"movetext_to_text, best of 5: {best['now']:.0f} games/s now, {best['before']:.0f} at "
                  f"commit {args.before}: {best['now'] / best['before']:.2f}x", flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
