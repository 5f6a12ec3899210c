"""The paper's toy theory experiment: a softmax learner trained on noisy experts' labels.

Inputs ``x ~ N(0, I_dims)``, ``classes`` classes, the truth ``argmax W* x``. Each of
``experts`` experts labels with ``argmax W_i x`` where ``W_i = W* + sigma * E_i``; every
training example is labelled by one expert drawn uniformly. A linear softmax model trained
with cross-entropy learns (roughly) the experts' *average* policy. Sampled at temperature 1
it can do no better than the experts' mean; at low temperature it plays the argmax of the
average, a majority vote, which beats the best expert when the experts' mistakes are
independent ("transcendence"). With ``shared`` noise every expert is the same noisy
``W* + sigma * E``: nothing to average out, and low temperature only recovers that one
expert. docs/PROTOCOL.md ("The claim", "Published numbers the configs use") describes the setting.

Design choices, for paired and smooth comparisons: one ``W*``, one training and one test set
and one expert assignment per seed for every sigma and both noise kinds; the noise is one
fixed draw ``E`` scaled by sigma, and the shared noise is the independent experts' first
``E_0``, so the shared experts equal independent expert 0. Accuracies at a temperature are
*expected* accuracies of sampling (the mean softmax probability of the true class), exact
rather than Monte Carlo. ``transcends`` is 1 when the learner beats the best expert by more
than two standard errors of an accuracy measured on the test set, so that a learner that
merely copies a single expert (shared noise) is not called transcendent by chance.

The cost is a few full-batch gradient steps on a 10,000 x 100 matrix per sigma: run it with
one BLAS thread (the workflow's script sets it), which on a busy 2-core machine is several
times faster than two.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..files import atomic_text

NOISE_KINDS = ("independent", "shared")
THEORY_COLUMNS = ["noise", "sigma", "temperature", "learner_accuracy", "best_expert", "mean_expert",
           "transcends"]


@dataclass(frozen=True)
class TheoryConfig:
    """The experiment's sizes and grids (config section ``analysis.theory``)."""

    dims: int = 100
    classes: int = 10
    experts: int = 5
    examples: int = 10_000
    test_examples: int = 10_000
    sigmas: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    temperatures: tuple[float, ...] = (0.001, 0.1, 0.5, 1.0)
    steps: int = 300
    learning_rate: float = 1.0

    @classmethod
    def from_config(cls, cfg: Mapping[str, object]) -> "TheoryConfig":
        values = dict(cfg)
        for key in ("sigmas", "temperatures"):
            values[key] = tuple(float(v) for v in values[key])  # type: ignore[union-attr]
        return cls(**values)  # type: ignore[arg-type]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, stable for tiny temperatures."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_accuracy(logits: np.ndarray, truth: np.ndarray, temperature: float) -> float:
    """Accuracy of sampling one class from ``softmax(logits / T)``, in expectation."""
    return float(softmax(logits, temperature)[np.arange(len(truth)), truth].mean())


def train_softmax(x: np.ndarray, labels: np.ndarray, classes: int, *, steps: int,
                  learning_rate: float) -> np.ndarray:
    """Weights ``W`` (classes x dims) of ``softmax(W x)`` fitted by full-batch gradient descent.

    Plain gradient descent on the mean cross-entropy: the problem is convex and ``x`` is
    isotropic, so a fixed step converges without tuning; no bias (the classes are symmetric).
    Starts at zero, so the result depends on the data only.
    """
    n, dims = x.shape
    w = np.zeros((classes, dims))
    onehot = np.zeros((n, classes))
    onehot[np.arange(n), labels] = 1.0
    for _ in range(steps):
        grad = (softmax(x @ w.T) - onehot).T @ x / n
        w -= learning_rate * grad
    return w


def run_theory(cfg: TheoryConfig, seed: int) -> list[dict[str, object]]:
    """One row per (noise kind, sigma, temperature): learner vs best and mean expert."""
    rng = np.random.default_rng(seed)
    truth_w = rng.standard_normal((cfg.classes, cfg.dims))
    base_noise = rng.standard_normal((cfg.experts, cfg.classes, cfg.dims))
    x_train = rng.standard_normal((cfg.examples, cfg.dims))
    x_test = rng.standard_normal((cfg.test_examples, cfg.dims))
    labeller = rng.integers(cfg.experts, size=cfg.examples)  # which expert labels each example
    truth_test = (x_test @ truth_w.T).argmax(axis=1)
    rows: list[dict[str, object]] = []
    for noise in NOISE_KINDS:
        for sigma in cfg.sigmas:
            shape = base_noise if noise == "independent" else np.broadcast_to(base_noise[:1], base_noise.shape)
            experts = truth_w[None] + sigma * shape
            expert_acc = [float(((x_test @ w.T).argmax(axis=1) == truth_test).mean()) for w in experts]
            # Expert i's label for the examples it was drawn to label.
            train_logits = np.einsum("nd,ekd->nek", x_train, experts)
            labels = train_logits[np.arange(cfg.examples), labeller].argmax(axis=1)
            w = train_softmax(x_train, labels, cfg.classes, steps=cfg.steps, learning_rate=cfg.learning_rate)
            test_logits = x_test @ w.T
            best, mean = max(expert_acc), float(np.mean(expert_acc))
            margin = 2 * math.sqrt(best * (1 - best) / cfg.test_examples)
            for t in cfg.temperatures:
                acc = expected_accuracy(test_logits, truth_test, t)
                rows.append({"noise": noise, "sigma": sigma, "temperature": t,
                             "learner_accuracy": round(acc, 4), "best_expert": round(best, 4),
                             "mean_expert": round(mean, 4), "transcends": int(acc > best + margin)})
    return rows


def write_rows(rows: Sequence[Mapping[str, object]], path: str | Path) -> None:
    """The table as CSV, atomically."""
    with atomic_text(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=THEORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def theory_figure(rows: Sequence[Mapping[str, object]], outputs: Sequence[str | Path]) -> None:
    """Top: accuracy against temperature, one line per sigma, the best expert dashed beside it.
    Bottom: accuracy against sigma at the lowest temperature and at T=1 (or the highest),
    beside the best expert and the experts' mean. Left independent noise, right shared."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import save_figure

    sigmas = sorted({float(r["sigma"]) for r in rows})
    temps = sorted({float(r["temperature"]) for r in rows})
    low = temps[0]
    high = 1.0 if 1.0 in temps else temps[-1]
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(sigmas)))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharey=True)
    for col, noise in enumerate(NOISE_KINDS):
        mine = [r for r in rows if r["noise"] == noise]
        ax = axes[0][col]
        for color, sigma in zip(colors, sigmas):
            pts = sorted((float(r["temperature"]), float(r["learner_accuracy"]))
                         for r in mine if float(r["sigma"]) == sigma)
            best = next(float(r["best_expert"]) for r in mine if float(r["sigma"]) == sigma)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=color, label=f"sigma {sigma:g}")
            ax.axhline(best, ls="--", color=color, lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("temperature")
        ax.set_title(f"{noise} noise: learner (lines), best expert (dashed)", fontsize=9)
        ax.grid(alpha=0.3)
        ax = axes[1][col]
        for label, key, temp, style in ((f"learner T={low:g}", "learner_accuracy", low, "o-"),
                                        (f"learner T={high:g}", "learner_accuracy", high, "s-"),
                                        ("best expert", "best_expert", low, "k--"),
                                        ("experts' mean", "mean_expert", low, "k:")):
            pts = sorted((float(r["sigma"]), float(r[key])) for r in mine if float(r["temperature"]) == temp)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
        ax.set_xlabel("expert noise sigma")
        ax.set_title(f"{noise} noise", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy against the truth")
    axes[1][0].set_ylabel("accuracy against the truth")
    axes[0][1].legend(fontsize=7, loc="lower left")
    axes[1][1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    save_figure(fig, outputs)


def theory(cfg: Mapping[str, object], seed: int, csv_out: str | Path,
           figures: Sequence[str | Path]) -> list[dict[str, object]]:
    """The whole experiment: run it, write the table and the figure; return the rows."""
    rows = run_theory(TheoryConfig.from_config(cfg), seed)
    write_rows(rows, csv_out)
    theory_figure(rows, figures)
    return rows
