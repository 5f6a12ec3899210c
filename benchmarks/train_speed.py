"""Benchmark: training tokens/s of the project's loop against a plain nanoGPT-style loop.

Both loops train the same model (``transcendence.model.gpt.GPT`` at the config's size) on the
same micro-batch, grad accumulation, optimiser (AdamW, fused on CUDA), precision (bf16
autocast on CUDA) and ``torch.compile`` setting, in the same process, alternating rounds,
so the ratio is fair on a noisy machine. What differs is the loop:

* project (``transcendence.training.train``): the rows of a step's micro-batches read from the
  memory-mapped uint8 blocks in one vectorised copy, sent to the GPU as uint8 (pinned,
  asynchronous) and widened there; the loss kept on the device, one host sync per step;
* baseline (nanoGPT's ``train.py``, which the paper's released code is): a fresh
  ``np.memmap`` per batch, a Python list of int64 row copies stacked on the host, x and y
  sent separately (pinned, asynchronous), the next batch fetched during the forward pass,
  the loss read back every ``--baseline-log-interval`` steps.

    .venv/bin/python benchmarks/train_speed.py --device cpu     # config/config.yaml's model
    .venv/bin/python benchmarks/train_speed.py --device cuda    # config/paper.yaml: 50M, 125 x 1023

On a shared CPU the wall-clock rate depends on the other load; the rate per CPU-second of
this process (``time.process_time``) is printed beside it and is the steadier of the two.
MFU (model FLOPs utilisation) uses nanoGPT's estimate, 6N + 12 L C T FLOPs per token, against
the GPU's dense bf16 peak (H100/H200 SXM: 989 TFLOP/s; others: give --peak-tflops).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import yaml

from transcendence.training.distributed import Ranks
from transcendence.model.gpt import GPTConfig
from transcendence.data.packing import load_blocks
from transcendence.families.text.training import TextStep, build
from transcendence.training.train import TrainConfig, lr_at, optimizer_step

ROOT = Path(__file__).resolve().parents[1]
PEAKS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 FLOP/s


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ProjectLoop:
    """``transcendence.training.train``'s hot path: ``optimizer_step`` over the text family's
    ``TextStep`` (its micro-batches of ``get_batch`` rows)."""

    def __init__(self, model_cfg: GPTConfig, cfg: TrainConfig, blocks: np.ndarray, device: torch.device) -> None:
        torch.manual_seed(0)
        self.family = TextStep(blocks, blocks, model_cfg, cfg, Ranks(0, 1, device))
        self.family.fwd = torch.compile(self.family.model) if cfg.compile else self.family.model
        self.model = self.family.model
        self.cfg, self.step = cfg, 0

    def run(self, steps: int) -> None:
        for _ in range(steps):
            optimizer_step(self.family, self.step, lr_at(self.step, self.cfg), self.cfg)
            self.step += 1


class NanoGPTLoop:
    """nanoGPT's ``train.py`` loop (get_batch, accumulation, clipping, GradScaler, logging)."""

    def __init__(self, model_cfg: GPTConfig, cfg: TrainConfig, path: Path, device: torch.device,
                 log_interval: int) -> None:
        torch.manual_seed(0)
        self.model, self.opt, _ = build(model_cfg, cfg, device)
        self.fwd = torch.compile(self.model) if cfg.compile else self.model
        self.ctx = (torch.amp.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda"
                    else nullcontext())
        self.scaler = torch.amp.GradScaler(device.type, enabled=False)  # nanoGPT: only for float16
        self.cfg, self.path, self.device, self.log_interval = cfg, path, device, log_interval
        self.block_size, self.iter = model_cfg.block_size, 0
        self.X, self.Y = self.get_batch()

    def get_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        data = np.memmap(self.path, dtype=np.uint8, mode="r")  # recreated every batch, as nanoGPT does
        ix = torch.randint(len(data) - self.block_size, (self.cfg.batch_size,))
        x = torch.stack([torch.from_numpy(data[i:i + self.block_size].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + self.block_size].astype(np.int64)) for i in ix])
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True), y.pin_memory().to(self.device, non_blocking=True)
        return x.to(self.device), y.to(self.device)

    def run(self, steps: int) -> None:
        cfg = self.cfg
        for _ in range(steps):
            for group in self.opt.param_groups:
                group["lr"] = lr_at(self.iter, cfg)
            for _ in range(cfg.grad_accum):
                with self.ctx:
                    _, loss, _ = self.fwd(self.X, self.Y)
                    loss = loss / cfg.grad_accum
                self.X, self.Y = self.get_batch()
                self.scaler.scale(loss).backward()
            if cfg.grad_clip != 0.0:
                self.scaler.unscale_(self.opt)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.scaler.step(self.opt)
            self.scaler.update()
            self.opt.zero_grad(set_to_none=True)
            if self.iter % self.log_interval == 0:
                loss.item()
            self.iter += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--config", type=Path, help="model and train settings (default: config/config.yaml "
                        "on cpu, config/paper.yaml on cuda)")
    parser.add_argument("--batch-size", type=int, help="micro-batch (default: the config's)")
    parser.add_argument("--grad-accum", type=int, help="micro-batches per step (default: the config's)")
    parser.add_argument("--compile", choices=["config", "on", "off"], default="config")
    parser.add_argument("--steps", type=int, help="optimiser steps per timed round (default: 20 cpu, 30 cuda)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation, caches)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per loop")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=4096, help="random token blocks in the benchmark file")
    parser.add_argument("--baseline-log-interval", type=int, default=10)
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak of the device, for MFU")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda, but torch sees no CUDA device")
    config_path = args.config or ROOT / "config" / ("paper.yaml" if device.type == "cuda" else "config.yaml")
    config = yaml.safe_load(config_path.read_text())
    if config["model"].get("family", "text") != "text":
        raise SystemExit(f"{config_path} trains the {config['model']['family']!r} model family; this benchmark "
                         "measures the text family: give --config config/paper.yaml (or config/smoke.yaml)")
    model_cfg = GPTConfig(**{k: v for k, v in config["model"].items() if k != "family"})
    train_cfg = dict(config["train"], device=args.device)
    if args.batch_size:
        train_cfg["batch_size"] = args.batch_size
    if args.grad_accum:
        train_cfg["grad_accum"] = args.grad_accum
    if args.compile != "config":
        train_cfg["compile"] = args.compile == "on"
    cfg = TrainConfig.from_config(train_cfg, seed=0)
    steps = args.steps or (30 if device.type == "cuda" else 20)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.bin"
        rng = np.random.default_rng(0)
        rng.integers(0, model_cfg.vocab_size, size=(args.blocks, model_cfg.block_size + 1), dtype=np.uint8).tofile(path)
        blocks = load_blocks(path, model_cfg.block_size + 1)
        loops = {"project": ProjectLoop(model_cfg, cfg, blocks, device),
                 "nanogpt": NanoGPTLoop(model_cfg, cfg, path, device, args.baseline_log_interval)}
        for loop in loops.values():
            loop.run(args.warmup)
            sync(device)
        tokens = steps * cfg.batch_size * cfg.grad_accum * model_cfg.block_size
        rates: dict[str, list[float]] = {name: [] for name in loops}
        cpu_rates: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(args.rounds):
            for name, loop in loops.items():
                sync(device)
                t0, c0 = time.perf_counter(), time.process_time()
                loop.run(steps)
                sync(device)
                rates[name].append(tokens / (time.perf_counter() - t0))
                cpu_rates[name].append(tokens / (time.process_time() - c0))

    model = loops["project"].model
    flops_per_token = 6 * model.num_params() + 12 * model_cfg.n_layer * model_cfg.n_embd * model_cfg.block_size
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = args.peak_tflops * 1e12 if args.peak_tflops else next((v for k, v in PEAKS.items() if k in name), None)
    result = {"device": name, "config": str(config_path.relative_to(ROOT) if config_path.is_relative_to(ROOT)
                                                else config_path),
              "parameters": model.num_params(), "batch_size": cfg.batch_size, "grad_accum": cfg.grad_accum,
              "block_size": model_cfg.block_size, "compile": cfg.compile, "threads": args.threads,
              "steps_per_round": steps, "rounds": args.rounds}
    print(f"{name}: {model.num_params() / 1e6:.2f}M parameters, micro-batch {cfg.batch_size} x "
          f"{model_cfg.block_size}, grad_accum {cfg.grad_accum}, compile {cfg.compile}, {args.rounds} rounds "
          f"of {steps} steps")
    print("| loop | tokens/s (median) | rounds | tokens per CPU-second (median) | MFU |\n|---|---|---|---|---|")
    for loop_name, r in rates.items():
        median, cpu_median = statistics.median(r), statistics.median(cpu_rates[loop_name])
        mfu = median * flops_per_token / peak if peak else None
        result[loop_name] = {"tokens_per_s": round(median), "rounds": [round(x) for x in r],
                             "tokens_per_cpu_s": round(cpu_median), "mfu": round(mfu, 4) if mfu is not None else None}
        print(f"| {loop_name} | {median:,.0f} | {', '.join(f'{x:,.0f}' for x in r)} | {cpu_median:,.0f} | "
              f"{'n/a' if mfu is None else f'{mfu:.1%}'} |")
    ratio = statistics.median(rates["project"]) / statistics.median(rates["nanogpt"])
    cpu_ratio = statistics.median(cpu_rates["project"]) / statistics.median(cpu_rates["nanogpt"])
    result["ratio"], result["cpu_ratio"] = round(ratio, 3), round(cpu_ratio, 3)
    if device.type == "cuda":
        result["max_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    print(f"project / nanoGPT-style: {ratio:.2f}x in tokens/s, {cpu_ratio:.2f}x per CPU-second")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
