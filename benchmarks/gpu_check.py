"""The prepared GPU check (issue 19): the paper-scale claims measured in one run, each against
its baseline in the same run, with a JSON and a Markdown summary.

Run it through ``benchmarks/gpu_check.sh OUT_DIR`` (which installs the bundle's wheels when
python-chess or zstandard is missing); ``benchmarks/README.md`` says how to run it on a lent
GPU machine and how to read what it writes. Sections, in order (each one's result is written
as soon as it ends, so a run stopped at its time limit still leaves the sections it finished):

* ``setup``: the Stockfish binary (the bundle's Debian package, else one on PATH) and the
  real games (the Lichess-format sample) through the workflow's own filter and dataset stages
  (``filter_dump``, ``build_dataset``): the packed ``train.bin``/``val.bin`` the model reads;
* ``matmul``: the device's measured dense matrix rate (bf16 on a GPU), the ceiling for MFU
  beside the datasheet's;
* ``e2e``: the CUDA path of the workflow end to end: ``train_job.run`` (what the Snakemake
  rule calls) trains on the real games, is killed right after a checkpoint, runs again and
  resumes from it, then the checkpoint is loaded (``load_model``) and checked against the
  validation loss it recorded, and evaluated through ``run_shard`` on the device;
* ``train``: tokens/s, ms/step, MFU and peak memory of the project's training step
  (``transcendence.training.train.optimizer_step`` over the text family's ``TextStep``) against a plain nanoGPT-style loop on
  the same model, batch, optimiser, precision and compile setting, alternating rounds
  (``benchmarks/train_speed.py``'s two loops) over the real packed dataset;
* ``eval``: games/hour of ``run_shard`` (batched engine, one Stockfish per core) against the
  released harness's design (one game at a time, no key/value cache, one engine), in the
  paper's ``per_character`` protocol and in ``legal_moves`` mode, against Stockfish at the
  paper's Skill Level 1 and 0.1 s per move; the projected time of the paper's grid;
* ``board``: the board-reading model family (``model.family: board``), when its package has
  a training entry point and a policy; otherwise reported as not measured (TODO).

``--tiny`` runs the same sections on a CPU with a small model, a few steps and a few games
(what ``tests/test_gpu_check.py`` runs, so the check cannot rot while no GPU is lent).
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib.util
import io
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "benchmarks", ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import torch  # noqa: E402
import yaml  # noqa: E402

SCHEMA = 1
SAMPLE = Path("..") / "shared" / "data" / "lichess-games-sample" / "games_rated.pgn.zst"  # beside the repo
PAPER = ROOT / "config" / "paper.yaml"
DATASHEET_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 FLOP/s (vendor datasheets)


@dataclass(frozen=True)
class Profile:
    """Sizes of one run: ``gpu`` is the paper's model and recipe, ``tiny`` a CPU smoke run."""

    name: str
    device: str
    model: dict                   # GPTConfig keyword arguments
    cap: int                      # the rating cap the real games are filtered by
    bench_batch: int              # training benchmark: micro-batch, accumulation, compile
    bench_accum: int
    compile: bool
    bench_warmup: int             # untimed steps per loop (compilation, caches)
    bench_steps: int              # steps per timed round
    bench_rounds: int             # alternating rounds per loop
    e2e_steps: int                # end to end: steps, killed right after the checkpoint at e2e_kill
    e2e_kill: int
    e2e_batch: int
    e2e_lr: float
    e2e_warmup: int
    e2e_eval_interval: int
    e2e_eval_batches: int
    e2e_legal_prefixes: int
    eval_games: int               # games of the batched shard (all at once)
    naive_games: int              # at most this many baseline games per mode ...
    naive_seconds: float          # ... and none started after this many seconds
    opponent: dict                # evaluate.Player.from_config entry
    temperature: float
    max_fullmoves: int
    budget_s: float               # sections are shortened or skipped to end within it
    board_cap: int                # the board family: positions from the games of this cap
    board_batch: int
    board_steps: int
    board_games: int


def paper_model() -> dict:
    """config/paper.yaml's transformer (only GPTConfig's keys: the config may name a model family)."""
    from transcendence.model.gpt import GPTConfig

    known = {f.name for f in fields(GPTConfig)}
    return {k: v for k, v in yaml.safe_load(PAPER.read_text())["model"].items() if k in known}


GPU = Profile(
    name="gpu", device="cuda", model=paper_model(), cap=3000, bench_batch=125, bench_accum=4, compile=True,
    bench_warmup=2, bench_steps=8, bench_rounds=3, e2e_steps=300, e2e_kill=150, e2e_batch=125, e2e_lr=6e-4,
    e2e_warmup=30, e2e_eval_interval=100, e2e_eval_batches=5, e2e_legal_prefixes=64,
    eval_games=100, naive_games=8, naive_seconds=25.0,
    opponent={"name": "sf-level1", "skill_level": 1, "limit": {"time": 0.1}, "rating": 1552},
    temperature=0.1, max_fullmoves=89, budget_s=450.0, board_cap=1000, board_batch=1024, board_steps=200,
    board_games=48)

TINY = Profile(
    name="tiny", device="cpu", model=dict(n_layer=1, n_head=2, n_embd=32, block_size=127, dropout=0.0), cap=3000,
    bench_batch=4, bench_accum=2, compile=False, bench_warmup=1, bench_steps=2, bench_rounds=2, e2e_steps=8,
    e2e_kill=4, e2e_batch=4, e2e_lr=3e-3, e2e_warmup=2, e2e_eval_interval=4, e2e_eval_batches=2,
    e2e_legal_prefixes=4, eval_games=4, naive_games=2, naive_seconds=5.0,
    opponent={"name": "sf-depth1", "limit": {"depth": 1}, "rating": 0},
    temperature=1.0, max_fullmoves=8, budget_s=600.0, board_cap=1000, board_batch=32, board_steps=6,
    board_games=4)


class Clock:
    def __init__(self, budget_s: float) -> None:
        self.start, self.budget = time.monotonic(), budget_s

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.budget - self.elapsed()


@dataclass
class Context:
    """What the sections share."""

    profile: Profile
    device: torch.device
    out: Path
    work: Path
    bundle: Path
    threads: int
    seed: int
    clock: Clock
    log: io.TextIOBase
    engine: str = ""
    games: Path | None = None
    train_bin: Path | None = None
    val_bin: Path | None = None
    matmul_flops: float | None = None
    model_path: Path | None = None
    report: dict = field(default_factory=dict)

    def say(self, text: str) -> None:
        line = f"[gpu_check {self.clock.elapsed():6.1f}s] {text}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()


def nvidia_smi() -> str | None:
    """The GPU, driver and clocks as nvidia-smi reports them, when it is there."""
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_device_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# -- Stockfish from the bundle: Debian's package, unpacked with Python alone ---------------------------------

def deb_data(deb: Path) -> bytes:
    """The ``data.tar.*`` member of a Debian package (an ``ar`` archive), decompressed to a tar."""
    with open(deb, "rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb} is not a Debian package (no ar header)")
        while len(header := fh.read(60)) == 60:
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            data = fh.read(size)
            if size % 2:
                fh.read(1)
            if name.startswith("data.tar"):
                if name.endswith(".zst"):  # Ubuntu's packages; tarfile has no zstd before Python 3.14
                    import zstandard
                    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
                return data
    raise ValueError(f"{deb} holds no data.tar member")


def extract_deb(deb: Path, dest: Path, keep: Callable[[str], bool]) -> list[Path]:
    """Unpack the files of ``deb`` whose path ``keep`` accepts into ``dest``, flat (by base
    name); a symbolic link becomes a link to its target's base name when that is not a file."""
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tarfile.open(fileobj=io.BytesIO(deb_data(deb)), mode="r:*") as tar:
        members = [m for m in tar.getmembers() if keep(m.name)]
        for m in sorted(members, key=lambda m: not m.isfile()):  # files first, then links
            target = dest / Path(m.name).name
            if m.isfile():
                target.write_bytes(tar.extractfile(m).read())
                target.chmod(0o755)
            elif m.issym() and not target.exists():
                target.symlink_to(Path(m.linkname).name)
            else:
                continue
            written.append(target)
    return written


def probe_engine(path: str) -> str | None:
    """The engine's UCI name, or None when it does not start and answer."""
    try:
        proc = subprocess.run([path], input="uci\nquit\n", capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if "uciok" not in proc.stdout:
        return None
    names = [line[len("id name "):].strip() for line in proc.stdout.splitlines() if line.startswith("id name ")]
    return names[0] if names else "?"


GLIBC = {"ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1"}


def bundle_engine(bundle: Path, dest: Path, launch: str) -> tuple[str, str, str]:
    """Unpack the bundle's Stockfish and find a way to start it on this machine: as it is,
    then with the bundle's C++ runtime, then under the bundle's C library and loader.
    Returns (path, how, UCI name); ``launch`` forces one way (plain, cxx, glibc)."""
    debs = bundle / "debs"
    stockfish = sorted(debs.glob("stockfish_*.deb"))
    if not stockfish:
        raise FileNotFoundError(f"no stockfish_*.deb in {debs}")
    binary, = extract_deb(stockfish[-1], dest, lambda name: name.endswith("/games/stockfish"))

    def plain() -> Path:
        return binary

    def cxx() -> Path:
        for deb in sorted(debs.glob("libstdc++6_*.deb")) + sorted(debs.glob("libgcc-s1_*.deb")):
            extract_deb(deb, dest / "cxx", lambda n: Path(n).name.startswith(("libstdc++.so", "libgcc_s.so")))
        wrapper = dest / "stockfish-cxx"
        wrapper.write_text(f'#!/bin/sh\nLD_LIBRARY_PATH="{dest / "cxx"}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" '
                           f'exec "{binary}" "$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    def glibc() -> Path:
        cxx()
        for deb in sorted(debs.glob("libc6_*.deb")):
            extract_deb(deb, dest / "glibc", lambda n: Path(n).name in GLIBC and "x86_64" in n or
                        n.endswith("lib64/ld-linux-x86-64.so.2"))
        wrapper = dest / "stockfish-glibc"
        wrapper.write_text(f'#!/bin/sh\nexec "{dest / "glibc" / "ld-linux-x86-64.so.2"}" --library-path '
                           f'"{dest / "glibc"}:{dest / "cxx"}" "{binary}" "$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    tries = [("plain", plain), ("cxx", cxx), ("glibc", glibc)]
    if launch != "auto":
        tries = [t for t in tries if t[0] == launch]
    for how, make in tries:
        path = make()
        name = probe_engine(str(path))
        if name:
            return str(path), how, name
    raise RuntimeError(f"the bundle's Stockfish ({stockfish[-1].name}) does not start here, tried {[t[0] for t in tries]}")


def find_games(args_games: str | None, bundle: Path) -> Path:
    candidates = [Path(args_games)] if args_games else [bundle / "data" / SAMPLE.name, ROOT / SAMPLE]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"no Lichess-format games at {[str(c) for c in candidates]}; give --games, "
                            "or run `make gpu-bundle` (it copies the sample into the bundle)")


# -- sections ------------------------------------------------------------------------------------------------

def section_setup(ctx: Context, args) -> dict:
    from transcendence.data.filtering import filter_dump
    from transcendence.data.packing import build_dataset
    from transcendence.engine.uci import find_engine

    p = ctx.profile
    result: dict = {}
    if args.engine:
        ctx.engine, how = find_engine(args.engine), "given"
        name = probe_engine(ctx.engine)
    elif (ctx.bundle / "debs").is_dir():
        ctx.engine, how, name = bundle_engine(ctx.bundle, ctx.work / "stockfish", args.engine_launch)
    else:
        ctx.engine, how = find_engine("stockfish"), "system"
        name = probe_engine(ctx.engine)
    if not name:
        raise RuntimeError(f"engine {ctx.engine} does not answer the UCI handshake")
    result["engine"] = {"name": name, "how": how}
    ctx.say(f"engine {name} ({how})")

    ctx.games = find_games(args.games, ctx.bundle)
    data = ctx.work / "data"
    t = time.monotonic()
    caps = sorted({p.cap, p.board_cap})
    stats = filter_dump(ctx.games, {c: data / f"cap{c}.pgn.zst" for c in caps}, data / "filter_stats.json", log=ctx.log)
    filtered = time.monotonic() - t
    ctx.train_bin, ctx.val_bin = data / "train.bin", data / "val.bin"
    t = time.monotonic()
    meta = build_dataset([data / f"cap{p.cap}.pgn.zst"], ctx.train_bin, ctx.val_bin, data / "meta.json",
                         block_size=p.model["block_size"] + 1, val_fraction=0.05, seed=ctx.seed,
                         shuffle_bucket_mb=1024, workers=1, log=ctx.log)
    result["data"] = {
        "games_file": ctx.games.name, "games_read": stats["games_read"], "cap": p.cap,
        "games_kept": stats["kept_per_cap"][str(p.cap)], "filter_seconds": round(filtered, 2),
        "dataset_seconds": round(time.monotonic() - t, 2), "block_size": p.model["block_size"] + 1,
        "train_blocks": meta["train"]["blocks"], "val_blocks": meta["val"]["blocks"],
    }
    ctx.say(f"data: {result['data']}")
    return result


def section_matmul(ctx: Context) -> dict:
    """The measured dense matrix rate: bf16 8192^3 on a GPU, float32 512^3 on a CPU."""
    dev = ctx.device
    n, dtype = (8192, torch.bfloat16) if dev.type == "cuda" else (512, torch.float32)
    a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(dev)
    reps, t = 10, time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(dev)
    seconds = (time.perf_counter() - t) / reps
    ctx.matmul_flops = 2 * n ** 3 / seconds
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    datasheet = next((v for k, v in DATASHEET_BF16.items() if k in name), None) if dev.type == "cuda" else None
    del a, b
    free_device_memory(dev)
    return {"n": n, "dtype": str(dtype).replace("torch.", ""), "tflops": round(ctx.matmul_flops / 1e12, 2),
            "datasheet_tflops": datasheet / 1e12 if datasheet else None}


def section_train(ctx: Context) -> dict:
    from train_speed import NanoGPTLoop, ProjectLoop

    from transcendence.model.gpt import GPTConfig
    from transcendence.data.packing import load_blocks
    from transcendence.training.train import TrainConfig

    p, dev = ctx.profile, ctx.device
    model_cfg = GPTConfig(**p.model)
    paper_train = yaml.safe_load(PAPER.read_text())["train"]
    cfg = TrainConfig.from_config({**paper_train, "batch_size": p.bench_batch, "grad_accum": p.bench_accum,
                                   "compile": p.compile, "device": p.device}, seed=0)
    blocks = load_blocks(ctx.train_bin, model_cfg.block_size + 1)
    loops, warmup = {}, {}
    for name, make in (("project", lambda: ProjectLoop(model_cfg, cfg, blocks, dev)),
                       ("nanogpt", lambda: NanoGPTLoop(model_cfg, cfg, ctx.train_bin, dev, 10))):
        t = time.monotonic()
        loops[name] = make()
        loops[name].run(p.bench_warmup)
        sync(dev)
        warmup[name] = round(time.monotonic() - t, 1)
        ctx.say(f"train: {name} loop built and warmed up ({p.bench_warmup} steps, compile {cfg.compile}) "
                f"in {warmup[name]} s")
    tokens = p.bench_steps * cfg.batch_size * cfg.grad_accum * model_cfg.block_size
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    peaks = {name: 0 for name in loops}
    for r in range(p.bench_rounds):
        if r and ctx.clock.left() < 0.4 * ctx.clock.budget:  # what the evaluation section needs
            ctx.say(f"train: stopping after {r} round(s) to leave time for the other sections")
            break
        for name, loop in loops.items():
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            sync(dev)
            t = time.perf_counter()
            loop.run(p.bench_steps)
            sync(dev)
            seconds[name].append(time.perf_counter() - t)
            if dev.type == "cuda":
                peaks[name] = max(peaks[name], torch.cuda.max_memory_allocated(dev))
        ctx.say(f"train: round {r + 1}: " + ", ".join(f"{n} {tokens / s[-1]:,.0f} tokens/s" for n, s in seconds.items()))
    model = loops["project"].model
    params = model.num_params()
    flops_per_token = 6 * params + 12 * model_cfg.n_layer * model_cfg.n_embd * model_cfg.block_size
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    datasheet = next((v for k, v in DATASHEET_BF16.items() if k in name), None) if dev.type == "cuda" else None
    result: dict = {
        "parameters": params, "model": p.model, "batch_size": cfg.batch_size, "grad_accum": cfg.grad_accum,
        "tokens_per_step": cfg.batch_size * cfg.grad_accum * model_cfg.block_size, "compile": cfg.compile,
        "precision": "bf16 autocast" if dev.type == "cuda" else "float32",
        "optimizer": "AdamW fused" if dev.type == "cuda" else "AdamW", "data": "real packed train.bin (uint8 blocks)",
        "steps_per_round": p.bench_steps, "rounds": len(seconds["project"]), "flops_per_token": flops_per_token,
    }
    for loop_name, s in seconds.items():
        median = statistics.median(s)
        rate = tokens / median
        result[loop_name] = {
            "tokens_per_s": round(rate), "ms_per_step": round(1000 * median / p.bench_steps, 2),
            "rounds_tokens_per_s": [round(tokens / x) for x in s], "warmup_s": warmup[loop_name],
            "mfu": round(rate * flops_per_token / datasheet, 4) if datasheet else None,
            "mfu_of_measured_matmul": round(rate * flops_per_token / ctx.matmul_flops, 4) if ctx.matmul_flops else None,
            "peak_memory_gib": round(peaks[loop_name] / 2**30, 2) if dev.type == "cuda" else None,
        }
    result["ratio"] = round(result["project"]["tokens_per_s"] / result["nanogpt"]["tokens_per_s"], 3)
    del loops, model
    free_device_memory(dev)
    return result


# Leg 1 of the end-to-end run: the workflow's training entry point, killed (SIGKILL) right after
# it has written the checkpoint of step KILL, as a preempted or killed job would be.
LEG1 = r"""
import json, os, signal, sys
import transcendence.training.train as train
job, kill, log_path, threads = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
save = train.save_atomic
def save_then_die(path, obj):
    save(path, obj)
    if isinstance(obj, dict) and "optimizer" in obj and obj.get("step") == kill:
        os.kill(os.getpid(), signal.SIGKILL)
train.save_atomic = save_then_die
from transcendence.families.train_job import run
with open(log_path, "a") as log:
    run(job, processes=1, threads=threads, log=log)
"""


def section_e2e(ctx: Context) -> dict:
    from transcendence.data.packing import load_blocks
    from transcendence.families.text.training import evaluate_loss
    from transcendence.training.train import TrainConfig
    from transcendence.families import load_model
    from transcendence.families.train_job import run

    p, dev = ctx.profile, ctx.device
    work = ctx.work / "e2e"
    work.mkdir()
    train_cfg = {**yaml.safe_load(PAPER.read_text())["train"],
                 "max_steps": p.e2e_steps, "batch_size": p.e2e_batch, "grad_accum": 1, "learning_rate": p.e2e_lr,
                 "min_lr": p.e2e_lr / 10, "warmup_steps": p.e2e_warmup, "eval_interval": p.e2e_eval_interval,
                 "eval_batches": p.e2e_eval_batches, "legal_prefixes": p.e2e_legal_prefixes,
                 "checkpoint_interval": p.e2e_kill, "log_interval": max(1, p.e2e_steps // 10),
                 "device": str(dev), "compile": p.compile}

    def job(d: Path) -> dict:
        return {"train_bin": str(ctx.train_bin), "val_bin": str(ctx.val_bin), "model_out": str(d / "model.pt"),
                "metrics_out": str(d / "metrics.json"), "state_path": str(d / "train_state.pt"), "live_dir": None,
                "model": p.model, "train": train_cfg, "seed": ctx.seed}

    log_path = ctx.out / "e2e_train.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        x for x in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if x)}
    t = time.monotonic()
    # Its own process group, so that helpers it leaves behind (compile workers) go with it.
    proc = subprocess.Popen([sys.executable, "-c", LEG1, json.dumps(job(work)), str(p.e2e_kill), str(log_path),
                             str(ctx.threads)], env=env, cwd=ROOT, start_new_session=True)
    try:
        proc.wait(timeout=max(60.0, ctx.clock.left()))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    leg1 = proc
    leg1_s = time.monotonic() - t
    state = torch.load(work / "train_state.pt", map_location="cpu", weights_only=False)
    ctx.say(f"e2e: leg 1 ended with exit status {leg1.returncode} after {leg1_s:.1f} s, "
            f"checkpoint at step {state['step']}")
    if leg1.returncode != -signal.SIGKILL or state["step"] != p.e2e_kill:
        raise RuntimeError(f"leg 1 should have been killed right after its checkpoint of step {p.e2e_kill}: "
                           f"exit status {leg1.returncode}, checkpoint step {state['step']} (see e2e_train.log)")
    del state
    t = time.monotonic()
    with open(log_path, "a") as log:
        run(job(work), processes=1, threads=ctx.threads, log=log)
    leg2_s = time.monotonic() - t
    text = log_path.read_text()
    resumed = [line for line in text.splitlines() if "[train] resumed from" in line]
    resumed_step = int(resumed[-1].rsplit(" ", 1)[1]) if resumed else None
    metrics = json.loads((work / "metrics.json").read_text())
    timing = work / "timing.json"  # where training writes its timings (beside metrics.json), if it does
    metrics.update(json.loads(timing.read_text()) if timing.exists() else {})
    history = metrics["history"]

    # The evaluated checkpoint, loaded as the evaluation stage loads it, reproduces the
    # validation loss that training recorded for it (the same seeded validation batches).
    model = load_model(work / "model.pt", dev)
    cfg = TrainConfig.from_config(train_cfg, seed=ctx.seed)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else nullcontext()  # as build()
    val_blocks = load_blocks(ctx.val_bin, p.model["block_size"] + 1)
    reloaded = evaluate_loss(model, val_blocks, cfg, dev, autocast)
    recorded = metrics["final_val_loss"]
    result = {
        "train": {k: train_cfg[k] for k in ("max_steps", "batch_size", "grad_accum", "learning_rate", "warmup_steps",
                                            "compile", "legal_prefixes")},
        "killed_after_step": p.e2e_kill, "leg1_exit": leg1.returncode, "leg1_seconds": round(leg1_s, 1),
        "resumed_from_step": resumed_step, "leg2_seconds": round(leg2_s, 1), "steps": metrics["steps"],
        "tokens_per_s_leg2": metrics.get("tokens_per_s"), "parameters": metrics["parameters"],
        "device": metrics["device"], "first_val_loss": history[0]["val_loss"], "final_val_loss": recorded,
        "legal_move_share": [h.get("legal_move_share") for h in history],
        "history_steps": [h["step"] for h in history],
        "reloaded_val_loss": round(reloaded, 5), "loaded_on": str(next(model.parameters()).device),
    }
    problems = []
    if resumed_step != p.e2e_kill:
        problems.append(f"the second run did not resume from step {p.e2e_kill} (log: {resumed[-1:] or 'no resume'})")
    if metrics["steps"] != p.e2e_steps:
        problems.append(f"trained {metrics['steps']} steps, not {p.e2e_steps}")
    if not abs(reloaded - recorded) <= 0.02 * abs(recorded) + 1e-4:
        problems.append(f"the reloaded checkpoint's validation loss {reloaded:.4f} differs from the recorded {recorded}")
    del model
    free_device_memory(dev)
    ctx.model_path = work / "model.pt"
    if problems:
        result["status"], result["error"] = "failed", "; ".join(problems)
    ctx.say(f"e2e: resumed from step {resumed_step}, {metrics['steps']} steps, val loss {history[0]['val_loss']} -> "
            f"{recorded} (reloaded: {reloaded:.4f}), legal-move share {result['legal_move_share'][-1]}")
    return result


def grid_games() -> dict:
    paper = yaml.safe_load(PAPER.read_text())
    ev = paper["evaluate"]
    return {"caps": len(paper["caps"]), "temperatures": len(ev["temperatures"]), "opponents": len(ev["opponents"]),
            "games_per_shard": ev["games"],
            "games": len(paper["caps"]) * len(ev["temperatures"]) * len(ev["opponents"]) * ev["games"]}


def _game_stats(plies: list[int], terminations: list[str], illegal: list[int], seconds: float) -> dict:
    n = len(plies)
    counts: dict[str, int] = {}
    for t in terminations:
        counts[t] = counts.get(t, 0) + 1
    return {"games": n, "seconds": round(seconds, 4),  # tiny mode plays 4 games in ~0.3 s
            "games_per_hour": round(n / seconds * 3600, 1),
            "plies_per_game": round(sum(plies) / n, 1), "plies_per_s": round(sum(plies) / seconds, 1),
            "illegal_tries_per_game": round(sum(illegal) / n, 2), "terminations": dict(sorted(counts.items()))}


def section_eval(ctx: Context) -> dict:
    from eval_speed import naive_shard

    from transcendence.play.evaluate import run_shard
    from transcendence.players.player import Player
    from transcendence.model.gpt import GPT, GPTConfig
    from transcendence.pgn.text import format_pgn
    from transcendence.families import load_model
    from transcendence.model.checkpoint import save_model

    p, dev = ctx.profile, ctx.device
    work = ctx.work / "eval"
    work.mkdir()
    model_path, trained = ctx.model_path, True
    if model_path is None or not model_path.exists():  # the end-to-end section failed: measure an untrained model
        torch.manual_seed(ctx.seed)
        model_path, trained = work / "untrained.pt", False
        save_model(model_path, GPT(GPTConfig(**p.model)), {})
    opponent = Player.from_config(p.opponent)
    grid = grid_games()
    result: dict = {"model": "the e2e section's checkpoint" if trained else "untrained (the e2e section failed)",
                    "opponent": p.opponent, "temperature": p.temperature, "max_fullmoves": p.max_fullmoves,
                    "engine_processes": ctx.threads, "grid": grid}
    log = open(ctx.out / "eval.log", "a")
    for i, mode in enumerate(("per_character", "legal_moves")):
        # this mode's part of the time left, less what the board section will need
        board_reserve = 0.15 * ctx.clock.budget if not board_missing() else 0
        share = (ctx.clock.left() - board_reserve) / (2 - i)
        games, naive_seconds = p.eval_games, min(p.naive_seconds, share / 4)
        if share < 100:  # shorter shards (one is about a minute at the GPU profile's size)
            games = max(min(16, games), int(games * share / 100))
            ctx.say(f"eval {mode}: {ctx.clock.left():.0f} s left, {games} games instead of {p.eval_games}")
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        common = dict(cap=0, temperature=p.temperature, max_tries=5, max_fullmoves=p.max_fullmoves)
        t = time.perf_counter()
        summary = run_shard(model_path, work / f"{mode}.pgn", work / f"{mode}.csv", opponent=opponent, games=games,
                            seed=ctx.seed, mode=mode, engine_path=ctx.engine, threads=ctx.threads,
                            device=str(dev), batch_games=games, log=log, **common)
        batched_s = time.perf_counter() - t
        with open(work / f"{mode}.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        batched = _game_stats([int(r["plies"]) for r in rows], [r["termination"] for r in rows],
                              [int(r["illegal_tries"]) for r in rows], batched_s)
        batched.update(batch_games=summary["batch_games"], play_seconds=summary["seconds"],
                       engine_restarts=summary["engine_restarts"],
                       peak_memory_gib=round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
                       if dev.type == "cuda" else None)
        ctx.say(f"eval {mode}: batched {batched['games']} games in {batched_s:.1f} s, "
                f"{batched['games_per_hour']:,.0f} games/hour, {batched['plies_per_game']} plies/game")

        t = time.perf_counter()
        model = load_model(model_path, dev)
        naive_games = naive_shard(model, opponent, games=p.naive_games, seed=ctx.seed, engine=ctx.engine,
                                  device=dev, mode=mode, deadline=t + naive_seconds, **common)
        naive_s = time.perf_counter() - t
        del model
        naive = _game_stats([len(g.sans) for g in naive_games], [g.termination for g in naive_games],
                            [g.illegal for g in naive_games], naive_s)
        ctx.say(f"eval {mode}: one at a time, no cache: {naive['games']} games in {naive_s:.1f} s, "
                f"{naive['games_per_hour']:,.0f} games/hour, {naive['plies_per_game']} plies/game")
        reproducible = opponent.limit.kind != "time" and opponent.skill_level is None
        batched_texts = [line for line in (work / f"{mode}.pgn").read_text().splitlines()
                         if line and not line.startswith("[")]
        naive_texts = [format_pgn({}, g.sans, g.result).strip() for g in naive_games]
        result[mode] = {
            "batched": batched, "naive": naive,
            "ratio_games_per_hour": round(batched["games_per_hour"] / naive["games_per_hour"], 2),
            "ratio_plies_per_s": round(batched["plies_per_s"] / naive["plies_per_s"], 2),
            "grid_hours_batched": round(grid["games"] / batched["games_per_hour"], 4),
            "grid_hours_naive": round(grid["games"] / naive["games_per_hour"], 4),
            # Same seeds: with a depth or nodes limit and no Skill Level both play the same games.
            "same_games": batched_texts[:len(naive_texts)] == naive_texts if reproducible else None,
        }
        free_device_memory(dev)
    log.close()
    return result


# -- the board family (``model.family: board``) -------------------------------------------
# Kept apart from the text family's sections: its own data (positions), training entry (the same
# train_job.run, with family board) and policy (BoardBatchPolicy, legal moves only).

BOARD_MODULES = ("transcendence.data.board_positions", "transcendence.families.board.training", "transcendence.families.board.policy")


def board_missing() -> list[str]:
    """The board family's modules this checkout lacks."""
    missing = []
    for name in BOARD_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # a board module is missing
            found = False
        if not found:
            missing.append(name)
    return missing


def board_model() -> dict:
    """The board network of config/config.yaml when that is the board family, else the defaults."""
    from transcendence.model.board_network import BoardNetConfig

    model = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["model"]
    known = {f.name for f in fields(BoardNetConfig)}
    return {k: v for k, v in model.items() if k in known} if model.get("family") == "board" else {}


def section_board(ctx: Context) -> dict:
    """Training positions/s (train_job.run, family board) and games/hour of the board network
    playing many games at once (BoardBatchPolicy + EnginePool + play_games, what the evaluation
    engine runs) against one game at a time with one engine."""
    missing = board_missing()
    if missing:
        return {"status": "todo", "reason": f"not measured: {', '.join(missing)} not in the package yet "
                "(benchmarks/README.md, TODO)"}
    from transcendence.data.board_positions import build_positions
    from transcendence.families.board.policy import BoardBatchPolicy
    from transcendence.engine.pool import EnginePool
    from transcendence.play.evaluate import Game, play_games
    from transcendence.players.player import Player
    from transcendence.seeds import game_seed
    from transcendence.families import load_model
    from transcendence.families.train_job import run

    p, dev = ctx.profile, ctx.device
    work = ctx.work / "board"
    t = time.monotonic()
    meta = build_positions([ctx.work / "data" / f"cap{p.board_cap}.pgn.zst"], work / "train.pos", work / "val.pos",
                           work / "meta.json", val_fraction=0.05, seed=ctx.seed, log=ctx.log)
    data_s = time.monotonic() - t
    model = {"family": "board", **board_model()}
    train_cfg = {**yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["train"],
                 "max_steps": p.board_steps, "batch_size": p.board_batch, "grad_accum": 1, "warmup_steps": 10,
                 "eval_interval": p.board_steps, "eval_batches": 2, "checkpoint_interval": p.board_steps,
                 "log_interval": max(1, p.board_steps // 5), "device": str(dev), "compile": False}
    job = {"train_bin": str(work / "train.pos"), "val_bin": str(work / "val.pos"),
           "model_out": str(work / "model.pt"), "metrics_out": str(work / "metrics.json"),
           "state_path": str(work / "train_state.pt"), "live_dir": None, "model": model, "train": train_cfg,
           "seed": ctx.seed}
    t = time.monotonic()
    log_path = ctx.out / "board_train.log"
    with open(log_path, "w") as log:
        run(job, processes=1, threads=ctx.threads, log=log)
    train_s = time.monotonic() - t
    metrics = json.loads((work / "metrics.json").read_text())
    # The trainer's own rate over its logging windows (evaluation excluded), as its log prints it.
    windows = [float(m.group(1).replace(",", "")) for m in re.finditer(r"([\d,.]+) positions/s", log_path.read_text())]
    result: dict = {
        "model": model, "parameters": metrics["parameters"], "device": metrics["device"],
        "positions": {"cap": p.board_cap, "games": meta.get("games"), "train": meta["train_positions"],
                      "val": meta["val_positions"], "seconds": round(data_s, 4)},
        "train": {"steps": metrics["steps"], "batch_size": p.board_batch, "seconds": round(train_s, 4),
                  # the whole call: loading the positions, the steps, one evaluation, the checkpoint
                  "positions_per_s": round(metrics["steps"] * p.board_batch / train_s),
                  "positions_per_s_logged": round(statistics.median(windows)) if windows else None,
                  # what the trainer records of itself, where it does (timing.json beside metrics.json)
                  "trainer_timing": json.loads((work / "timing.json").read_text())
                  if (work / "timing.json").exists() else None,
                  "final_val_loss": metrics["final_val_loss"], "final_val_top1": metrics.get("final_val_top1")},
    }
    ctx.say(f"board: {meta['train_positions']:,} training positions in {data_s:.1f} s; {metrics['steps']} steps "
            f"in {train_s:.1f} s, {result['train']['positions_per_s']:,} positions/s")

    opponent = Player.from_config(p.opponent)
    net = load_model(work / "model.pt", dev)

    def play(slots: int, engines: int, games: int, deadline: float | None) -> tuple[list, float]:
        todo = [Game(g, model_white=g % 2 == 0, seed=game_seed(ctx.seed, "board", p.temperature, opponent.name, g))
                for g in range(games)]
        done: list = []
        t0 = time.perf_counter()
        with EnginePool(ctx.engine, opponent.engine_options(), workers=engines) as pool:
            if slots > 1:
                play_games(BoardBatchPolicy(net, slots=slots, temperature=p.temperature), pool, opponent, todo,
                           max_fullmoves=p.max_fullmoves, on_finish=done.append)
            else:  # one game after the other, none started after the deadline (the first always is)
                for game in todo:
                    if done and deadline is not None and time.perf_counter() >= deadline:
                        break
                    play_games(BoardBatchPolicy(net, slots=1, temperature=p.temperature), pool, opponent, [game],
                               max_fullmoves=p.max_fullmoves, on_finish=done.append)
        return done, time.perf_counter() - t0

    share = ctx.clock.left() / 2
    games = p.board_games if share >= 40 else max(min(16, p.board_games), int(p.board_games * share / 40))
    batched, batched_s = play(games, ctx.threads, games, None)
    naive_s_cap = min(p.naive_seconds, share / 4)
    naive, naive_s = play(1, 1, p.naive_games, time.perf_counter() + naive_s_cap)
    stats = {name: _game_stats([len(g.sans) for g in gs], [g.termination for g in gs], [g.illegal for g in gs], sec)
             for name, gs, sec in (("batched", batched, batched_s), ("naive", naive, naive_s))}
    grid = grid_games()
    result["eval"] = {
        **stats, "opponent": p.opponent, "temperature": p.temperature, "engine_processes": ctx.threads,
        "ratio_games_per_hour": round(stats["batched"]["games_per_hour"] / stats["naive"]["games_per_hour"], 2),
        "grid_hours_batched": round(grid["games"] / stats["batched"]["games_per_hour"], 4),
    }
    ctx.say(f"board: batched {stats['batched']['games_per_hour']:,.0f} games/hour, one at a time "
            f"{stats['naive']['games_per_hour']:,.0f}")
    del net
    free_device_memory(dev)
    return result


# -- reports -------------------------------------------------------------------------------------------------

def _fmt(value, spec: str = ",.0f") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and spec.endswith("%"):
        return format(value, ".1%")
    return format(value, spec)


def markdown(report: dict) -> str:
    m, s = report["machine"], report["sections"]
    lines = [f"# GPU check ({report['profile']} profile)", "",
             f"{m['device']}; torch {m['torch']} (CUDA {m['cuda']}); Python {m['python']}; {m['cpus']} CPU cores; "
             f"{report['wall_s']:.0f} s of a {report['budget_s']:.0f} s budget; "
             f"{'complete' if report['complete'] else 'INCOMPLETE'}.", "",
             "| section | status | seconds |", "|---|---|---|"]
    for name, sec in s.items():
        note = sec.get("reason") or sec.get("error", "")
        note = note.strip().splitlines()[-1] if note else ""
        lines.append(f"| {name} | {sec['status']}{': ' + note if note else ''} | {sec.get('seconds', '')} |")
    setup = s.get("setup", {})
    if setup.get("status") == "ok":
        d = setup["data"]
        lines += ["", f"Engine: {setup['engine']['name']} ({setup['engine']['how']}). Data: {d['games_read']:,} games "
                  f"of `{d['games_file']}` read, {d['games_kept']:,} kept at cap {d['cap']}, packed into "
                  f"{d['train_blocks']:,} train and {d['val_blocks']:,} val blocks of {d['block_size']} tokens "
                  f"(filter {d['filter_seconds']} s, dataset {d['dataset_seconds']} s)."]
    mm = s.get("matmul", {})
    if mm.get("status") == "ok":
        lines += ["", f"Measured matrix rate: {mm['tflops']} TFLOP/s ({mm['dtype']} {mm['n']}^3); datasheet "
                  f"{_fmt(mm['datasheet_tflops'], '.0f')} TFLOP/s."]
    tr = s.get("train", {})
    if tr.get("status") == "ok":
        lines += ["", "## Training", "",
                  f"{tr['parameters'] / 1e6:.2f}M parameters, micro-batch {tr['batch_size']} x grad_accum "
                  f"{tr['grad_accum']} ({tr['tokens_per_step']:,} tokens/step), {tr['precision']}, {tr['optimizer']}, "
                  f"compile {tr['compile']}, {tr['data']}; median of {tr['rounds']} alternating rounds of "
                  f"{tr['steps_per_round']} steps.", "",
                  "| loop | tokens/s | ms/step | MFU (datasheet) | MFU (measured matmul) | peak memory GiB | "
                  "warm-up s |", "|---|---|---|---|---|---|---|"]
        for loop, label in (("project", "project (`optimizer_step`)"), ("nanogpt", "nanoGPT-style loop")):
            r = tr[loop]
            lines.append(f"| {label} | {r['tokens_per_s']:,} | {r['ms_per_step']} | {_fmt(r['mfu'], '%')} | "
                         f"{_fmt(r['mfu_of_measured_matmul'], '%')} | {_fmt(r['peak_memory_gib'], '.2f')} | "
                         f"{r['warmup_s']} |")
        lines.append(f"| ratio | **{tr['ratio']}x** | | | | | |")
    e2e = s.get("e2e", {})
    if "steps" in e2e:
        lines += ["", "## The CUDA path end to end" if report["profile"] == "gpu" else "## The path end to end", "",
                  f"`train_job.run` on {e2e['device']}: killed after the checkpoint of step {e2e['killed_after_step']} "
                  f"(exit {e2e['leg1_exit']}), resumed from step {e2e['resumed_from_step']}, {e2e['steps']} steps "
                  f"({_fmt(e2e['tokens_per_s_leg2'])} tokens/s in the resumed run); validation loss "
                  f"{e2e['first_val_loss']} -> {e2e['final_val_loss']}, reloaded checkpoint {e2e['reloaded_val_loss']} "
                  f"on {e2e['loaded_on']}; legal-move share at steps {e2e['history_steps']}: {e2e['legal_move_share']}."]
    ev = s.get("eval", {})
    if "per_character" in ev:
        o, g = ev["opponent"], ev["grid"]
        lines += ["", "## Evaluation", "",
                  f"Model: {ev['model']}; opponent {o['name']} (Skill Level {o.get('skill_level')}, limit {o['limit']}), "
                  f"T={ev['temperature']}, batched engine with {ev['engine_processes']} Stockfish processes; baseline "
                  f"one game at a time, no cache, one engine. Paper grid: {g['games']:,} games.", "",
                  "| mode | player | games | games/hour | plies/game | illegal tries/game | grid hours | "
                  "terminations |", "|---|---|---|---|---|---|---|---|"]
        for mode in ("per_character", "legal_moves"):
            if mode not in ev:
                continue
            r = ev[mode]
            for player in ("batched", "naive"):
                x = r[player]
                lines.append(f"| {mode} | {player} | {x['games']} | {x['games_per_hour']:,.0f} | {x['plies_per_game']} | "
                             f"{x['illegal_tries_per_game']} | {r[f'grid_hours_{player}']} | {x['terminations']} |")
            lines.append(f"| {mode} | ratio | | **{r['ratio_games_per_hour']}x** | plies/s {r['ratio_plies_per_s']}x | | | "
                         f"same games: {r['same_games']} |")
    b = s.get("board", {})
    lines += ["", "## Board family", ""]
    if "eval" in b:
        tr, ev = b["train"], b["eval"]
        lines += [f"Board network {b['model']} ({b['parameters']:,} parameters) on {b['device']}: "
                  f"{b['positions']['train']:,} training positions from cap {b['positions']['cap']} "
                  f"({b['positions']['seconds']} s); `train_job.run` {tr['steps']} steps of {tr['batch_size']} in "
                  f"{tr['seconds']} s: {tr['positions_per_s']:,} positions/s over the whole call, "
                  f"**{_fmt(tr['positions_per_s_logged'])} positions/s** in the steps (the trainer's log, median "
                  f"window); validation loss "
                  f"{tr['final_val_loss']}, top-1 {tr['final_val_top1']}.", "",
                  "| player | games | games/hour | plies/game | grid hours | terminations |", "|---|---|---|---|---|---|"]
        for player in ("batched", "naive"):
            x = ev[player]
            lines.append(f"| {player} | {x['games']} | {x['games_per_hour']:,.0f} | {x['plies_per_game']} | "
                         f"{round(ev['grid_hours_batched'], 2) if player == 'batched' else ''} | {x['terminations']} |")
        lines.append(f"| ratio | | **{ev['ratio_games_per_hour']}x** | | | |")
    else:
        lines.append(f"{b.get('status', 'not run')}: {b.get('reason') or b.get('error', '').strip()[-300:]}")
    return "\n".join(lines) + "\n"


def write_reports(ctx: Context) -> None:
    ctx.report["wall_s"] = round(ctx.clock.elapsed(), 1)
    secs = ctx.report["sections"].values()
    ctx.report["complete"] = all(s["status"] in ("ok", "todo") for s in secs)
    (ctx.out / "gpu_check.json").write_text(json.dumps(ctx.report, indent=2) + "\n")
    (ctx.out / "gpu_check.md").write_text(markdown(ctx.report))


def run_section(ctx: Context, name: str, fn: Callable[[], dict], need_s: float = 0.0) -> None:
    if ctx.clock.left() < need_s:
        result = {"status": "skipped", "reason": f"{ctx.clock.left():.0f} s of the budget left, needs about {need_s:.0f}"}
    else:
        ctx.say(f"section {name}")
        t = time.monotonic()
        try:
            result = fn()
            result.setdefault("status", "ok")
        except Exception:
            result = {"status": "failed", "error": traceback.format_exc()[-3000:]}
            ctx.say(f"section {name} failed:\n{result['error']}")
        result["seconds"] = round(time.monotonic() - t, 1)
    ctx.report["sections"][name] = result
    write_reports(ctx)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json, gpu_check.md and logs")
    parser.add_argument("--tiny", action="store_true", help="the CPU smoke profile: small model, few steps and games")
    parser.add_argument("--device", help="override the profile's device (cuda, cpu)")
    parser.add_argument("--bundle", type=Path, default=ROOT / "gpu-bundle", help="what `make gpu-bundle` prepared")
    parser.add_argument("--games", help="Lichess-format .pgn.zst (default: the bundle's sample, else ../shared's)")
    parser.add_argument("--engine", help="a Stockfish to use instead of the bundle's")
    parser.add_argument("--engine-launch", choices=["auto", "plain", "cxx", "glibc"], default="auto",
                        help="how to start the bundle's Stockfish (auto: the first way that works)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="engine processes and CPU threads")
    parser.add_argument("--budget-s", type=float, help="wall-time budget (default: the profile's)")
    parser.add_argument("--compile", choices=["profile", "on", "off"], default="profile",
                        help="torch.compile in training (profile: on for gpu, off for tiny)")
    parser.add_argument("--sections", default="setup,matmul,e2e,train,eval,board", help="comma-separated subset (setup always runs)")
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args(argv)

    profile = TINY if args.tiny else GPU
    if args.device:
        profile = replace(profile, device=args.device)
    if args.budget_s:
        profile = replace(profile, budget_s=args.budget_s)
    if args.compile != "profile":
        profile = replace(profile, compile=args.compile == "on")
    device = torch.device(profile.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA device; on a CPU run with --tiny", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, min(args.threads, os.cpu_count() or 1)))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp, open(args.out / "gpu_check.log", "w") as log:
        ctx = Context(profile=profile, device=device, out=args.out, work=Path(tmp), bundle=args.bundle,
                      threads=args.threads, seed=args.seed, clock=Clock(profile.budget_s), log=log)
        ctx.report = {
            "schema": SCHEMA, "profile": profile.name, "budget_s": profile.budget_s,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
                        or "cpu", "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
                        "cpus": os.cpu_count(), "threads": args.threads,
                        "gpu_memory_gib": round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
                        if device.type == "cuda" else None, "nvidia_smi": nvidia_smi()},
            "profile_settings": {k: v for k, v in asdict(profile).items()},
            "sections": {},
        }
        wanted = ["setup", *args.sections.split(",")]  # every section needs setup's engine and data
        plan: list[tuple[str, Callable[[], dict], float]] = [
            # The end-to-end run first: its (cold) compilation fills the compile cache that the
            # training benchmark's same-shaped steps then hit, and evaluation plays its checkpoint.
            ("setup", lambda: section_setup(ctx, args), 0), ("matmul", lambda: section_matmul(ctx), 0),
            ("e2e", lambda: section_e2e(ctx), 0), ("train", lambda: section_train(ctx), 0.2 * profile.budget_s),
            ("eval", lambda: section_eval(ctx), 0.1 * profile.budget_s), ("board", lambda: section_board(ctx), 0)]
        for name, fn, need in plan:
            if name not in wanted:
                continue
            if name != "setup" and ctx.report["sections"].get("setup", {}).get("status") == "failed" and \
                    name in ("train", "e2e", "eval", "board"):
                ctx.report["sections"][name] = {"status": "skipped", "reason": "setup failed"}
                write_reports(ctx)
                continue
            run_section(ctx, name, fn, need)
        write_reports(ctx)
        ctx.say(f"done in {ctx.clock.elapsed():.0f} s: {args.out / 'gpu_check.md'}")
        print((args.out / "gpu_check.md").read_text())
        return 0 if ctx.report["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
