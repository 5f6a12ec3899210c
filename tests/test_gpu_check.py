"""The prepared GPU check (benchmarks/gpu_check.sh) in its CPU profile, so it cannot rot while no
GPU is lent: it runs every section end to end and writes a JSON and a Markdown summary whose
fields and values are checked here. The Stockfish it plays comes out of a Debian-format package
in a throw-away bundle, as on the GPU machine."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
import yaml
import zstandard

from transcendence.engine.uci import find_engine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "lichess-games-sample" / "games_rated.pgn.zst"
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402


def ar_archive(members: dict[str, bytes]) -> bytes:
    """A Debian package's container: the ``ar`` format with 60-byte member headers."""
    out = b"!<arch>\n"
    for name, data in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data
        if len(data) % 2:
            out += b"\n"
    return out


def tar_of(entries: list[tuple[str, bytes | str]], mode: str) -> bytes:
    """A tar with files (bytes) and symbolic links (str: the link's target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o755
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def fake_deb(path: Path, entries: list[tuple[str, bytes | str]], compression: str = "xz") -> Path:
    if compression == "zst":
        data = zstandard.ZstdCompressor().compress(tar_of(entries, "w"))
    else:
        data = tar_of(entries, f"w:{compression}")
    path.write_bytes(ar_archive({"debian-binary": b"2.0\n", "control.tar.xz": tar_of([], "w:xz"),
                                 f"data.tar.{compression}": data}))
    return path


@pytest.mark.parametrize("compression", ["xz", "zst"])
def test_extract_deb_unpacks_the_files_asked_for_flat_with_their_links(tmp_path, compression):
    deb = fake_deb(tmp_path / "lib.deb", [
        ("./usr/lib/x86_64-linux-gnu/libfoo.so.6.0.1", b"ELF-ish"),
        ("./usr/lib/x86_64-linux-gnu/libfoo.so.6", "libfoo.so.6.0.1"),
        ("./lib64/libfoo.so.6.0.1", "/usr/lib/x86_64-linux-gnu/libfoo.so.6.0.1"),  # a link to a file unpacked
        ("./usr/share/doc/readme", b"not asked for")], compression)
    out = tmp_path / "out"
    written = gpu_check.extract_deb(deb, out, lambda name: "libfoo" in name)
    assert sorted(p.name for p in written) == ["libfoo.so.6", "libfoo.so.6.0.1"]
    assert (out / "libfoo.so.6.0.1").read_bytes() == b"ELF-ish" and not (out / "libfoo.so.6.0.1").is_symlink()
    assert (out / "libfoo.so.6").resolve() == (out / "libfoo.so.6.0.1").resolve()
    assert not (out / "readme").exists()
    with pytest.raises(ValueError, match="not a Debian package"):
        gpu_check.deb_data(tmp_path / "out" / "libfoo.so.6.0.1")


def test_the_board_section_is_a_todo_while_the_family_is_missing(monkeypatch):
    monkeypatch.setattr(gpu_check, "BOARD_MODULES", ("transcendence.families.board.training", "transcendence.nothing.here"))
    result = gpu_check.section_board(None)
    assert result["status"] == "todo" and "transcendence.nothing.here" in result["reason"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_the_gpu_profile_refuses_a_machine_without_cuda(tmp_path):
    assert gpu_check.main(["--out", str(tmp_path)]) == 2


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """The check's tiny profile through gpu_check.sh, with a bundle holding a packaged Stockfish."""
    if not SAMPLE.is_file():
        pytest.skip(f"no Lichess sample beside the repository ({SAMPLE.relative_to(ROOT.parent)})")
    tmp = tmp_path_factory.mktemp("gpu_check")
    bundle = tmp / "bundle"
    (bundle / "debs").mkdir(parents=True)
    (bundle / "data").mkdir()
    (bundle / "data" / SAMPLE.name).symlink_to(SAMPLE)
    engine = find_engine("stockfish")
    fake_deb(bundle / "debs" / "stockfish_0-test_amd64.deb",
             [("./usr/games/stockfish", f'#!/bin/sh\nexec "{engine}" "$@"\n'.encode())])
    out = tmp / "out"
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(out), "--tiny", "--threads", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable, "GPU_BUNDLE": str(bundle)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out


def test_tiny_check_runs_every_section_and_reports_sane_numbers(tiny_run):
    report = json.loads((tiny_run / "gpu_check.json").read_text())
    s = report["sections"]
    assert report["schema"] == 1 and report["profile"] == "tiny" and report["complete"] is True
    assert {k: s[k]["status"] for k in ("setup", "matmul", "train", "e2e", "eval")} == dict.fromkeys(
        ("setup", "matmul", "train", "e2e", "eval"), "ok")
    assert s["board"]["status"] in ("ok", "todo")
    assert 0 < report["wall_s"] <= report["budget_s"]

    setup = s["setup"]
    assert setup["engine"]["how"] == "plain" and setup["engine"]["name"].startswith("Stockfish")
    d = setup["data"]
    assert d["games_read"] > 10_000 and 0 < d["games_kept"] <= d["games_read"]
    assert d["train_blocks"] > d["val_blocks"] > 0 and d["block_size"] == 128

    assert s["matmul"]["tflops"] > 0
    train = s["train"]
    assert train["rounds"] == 2 and train["tokens_per_step"] == 4 * 2 * 127
    for loop in ("project", "nanogpt"):
        r = train[loop]
        assert r["tokens_per_s"] > 0 and r["mfu"] is None and r["peak_memory_gib"] is None
        # tokens/s and ms/step are two views of the same median round
        assert r["tokens_per_s"] == pytest.approx(train["tokens_per_step"] * 1000 / r["ms_per_step"], rel=0.01)
        assert 0 < r["mfu_of_measured_matmul"] < 1
    assert train["ratio"] == pytest.approx(train["project"]["tokens_per_s"] / train["nanogpt"]["tokens_per_s"], rel=0.01)

    e2e = s["e2e"]
    assert e2e["leg1_exit"] == -9 and e2e["killed_after_step"] == e2e["resumed_from_step"] == 4
    assert e2e["steps"] == 8 and e2e["history_steps"] == [4, 8] and e2e["loaded_on"] == "cpu"
    assert e2e["final_val_loss"] < e2e["first_val_loss"]
    assert e2e["reloaded_val_loss"] == pytest.approx(e2e["final_val_loss"], abs=1e-4)
    assert all(0 <= x <= 1 for x in e2e["legal_move_share"])

    ev = s["eval"]
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    assert ev["grid"]["games"] == len(paper["caps"]) * len(paper["evaluate"]["temperatures"]) * \
        len(paper["evaluate"]["opponents"]) * paper["evaluate"]["games"]
    for mode in ("per_character", "legal_moves"):
        r = ev[mode]
        assert r["batched"]["games"] == 4 and 1 <= r["naive"]["games"] <= 2
        for player in ("batched", "naive"):
            x = r[player]
            assert x["games_per_hour"] == pytest.approx(x["games"] / x["seconds"] * 3600, rel=0.01)
            assert sum(x["terminations"].values()) == x["games"]
            assert r[f"grid_hours_{player}"] == pytest.approx(ev["grid"]["games"] / x["games_per_hour"], rel=0.01)
        # depth 1 and no Skill Level: the batched engine and the baseline play the same games
        assert r["same_games"] is True
    assert ev["legal_moves"]["batched"]["illegal_tries_per_game"] == 0
    assert ev["legal_moves"]["batched"]["plies_per_game"] > 0

    board = s["board"]
    if board["status"] == "todo":  # the board family's package is not complete in this checkout
        assert "not measured" in board["reason"]
        return
    assert board["positions"]["train"] > 0 and board["train"]["steps"] == 6
    assert board["train"]["positions_per_s"] == pytest.approx(6 * 32 / board["train"]["seconds"], rel=0.01, abs=1)
    assert board["train"]["positions_per_s_logged"] > 0
    for player in ("batched", "naive"):
        x = board["eval"][player]
        assert x["illegal_tries_per_game"] == 0 and "forfeit" not in x["terminations"]  # legal moves only
        assert sum(x["terminations"].values()) == x["games"] and x["plies_per_game"] > 0
    assert board["eval"]["batched"]["games"] == 4


def test_tiny_check_writes_the_markdown_and_logs(tiny_run):
    report = json.loads((tiny_run / "gpu_check.json").read_text())
    md = (tiny_run / "gpu_check.md").read_text()
    for heading in ("# GPU check (tiny profile)", "## Training", "## The path end to end", "## Evaluation",
                    "## Board family"):
        assert heading in md
    train, ev = report["sections"]["train"], report["sections"]["eval"]
    assert f"| project (`optimizer_step`) | {train['project']['tokens_per_s']:,} |" in md
    assert f"**{ev['legal_moves']['ratio_games_per_hour']}x**" in md
    assert "resumed from step 4" in md
    assert "[train] resumed from" in (tiny_run / "e2e_train.log").read_text()
    assert "games played" in (tiny_run / "eval.log").read_text()
    if report["sections"]["board"]["status"] == "ok":
        assert "positions/s" in (tiny_run / "board_train.log").read_text()
        assert f"{report['sections']['board']['train']['positions_per_s_logged']:,} positions/s**" in md
