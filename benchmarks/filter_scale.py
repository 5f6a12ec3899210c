"""Benchmark: the filter's peak memory on a large dump, and its scaling from one to two jobs.

Issue 3 asks for flat memory whatever the dump's size (under 500 MB on a dump ten times the
speed benchmark's 200,000 games) and for the measured scaling when months run as parallel
jobs. This writes a Lichess-format ``.pgn.zst`` dump of ``--games`` games (the speed
benchmark's generator), then runs the filter as separate processes, timing each and
reading its peak resident memory from the kernel (``ru_maxrss`` of the child):

- one filter over the big dump (peak memory);
- one filter over a smaller dump, then two at once over two such dumps (throughput with one
  and with two concurrent jobs, as Snakemake runs months on two cores).

    .venv/bin/python benchmarks/filter_scale.py [--games 2000000] [--scaling-games 300000] [--repeat 3]

``--games 0`` skips the large dump and measures the scaling alone.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).parent))
from filter_speed import lichess_game, random_movelists  # noqa: E402

# The child reports its own peak (VmHWM): ru_maxrss of a forked child also counts the pages
# it shared with the parent before exec, which would charge the generator's memory to it.
FILTER = ("import sys, io; from transcendence.data.filtering import filter_dump; "
          "filter_dump(sys.argv[1], {1000: sys.argv[2] + '.1000', 1500: sys.argv[2] + '.1500'}, "
          "sys.argv[2] + '.json', log=io.StringIO()); "
          "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")


def write_dump(path: Path, games: int, seed: int) -> None:
    rng = random.Random(seed)
    movelists = random_movelists(500, rng)
    with open(path, "wb") as raw, zstandard.ZstdCompressor(level=1).stream_writer(raw) as out:
        for i in range(games):
            out.write(lichess_game(rng, i, movelists[i % len(movelists)]).encode())


def run_filters(dumps: list[Path], work: Path) -> tuple[float, list[float]]:
    """Run one filter process per dump at once; (wall seconds, peak RSS MB of each)."""
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", FILTER, str(d), str(work / f"out{i}")],
                              stdout=subprocess.PIPE, text=True)
             for i, d in enumerate(dumps)]
    peaks = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"filter process failed with status {p.returncode}")
        peaks.append(int(out.strip()) / 1024)  # VmHWM is in kB
    return time.perf_counter() - start, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=2_000_000)
    parser.add_argument("--scaling-games", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of one job and of two jobs, alternating")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="filter-scale-"))
    try:
        if args.games:  # 0 skips the large dump (the scaling part alone)
            big = work / "big.pgn.zst"
            t = time.perf_counter()
            write_dump(big, args.games, 0)
            print(f"dump: {args.games} games, {big.stat().st_size / 1e6:.0f} MB compressed "
                  f"(written in {time.perf_counter() - t:.0f}s)", flush=True)
            wall, (peak,) = run_filters([big], work)
            print(f"one filter, {args.games} games: {wall:.1f}s, {args.games / wall:.0f} games/s, "
                  f"peak RSS {peak:.0f} MB", flush=True)

        small = [work / f"small{i}.pgn.zst" for i in range(2)]
        for i, path in enumerate(small):
            write_dump(path, args.scaling_games, i + 1)
        # Alternate one job and two jobs, keeping each one's best: on a shared machine the
        # best run is the one least disturbed by other work.
        one = two = float("inf")
        peaks: list[float] = []
        for _ in range(args.repeat):
            one = min(one, run_filters(small[:1], work)[0])
            wall, peaks = run_filters(small, work)
            two = min(two, wall)
        rate1, rate2 = args.scaling_games / one, 2 * args.scaling_games / two
        print(f"scaling, {args.scaling_games} games per dump: one job {rate1:.0f} games/s, "
              f"two jobs at once {rate2:.0f} games/s in all ({rate2 / rate1:.2f}x), "
              f"peak RSS {max(peaks):.0f} MB", flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
