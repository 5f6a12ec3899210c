"""Faults in the data stages and the files every stage writes (issue 17, data half).

Each test injects the fault for real: processes killed with SIGKILL, dumps with bytes that
are not UTF-8, real Snakemake runs. None of them mocks the thing it claims survives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _killed_writer(target: Path) -> Path:
    """Start a process writing ``target`` atomically, SIGKILL it mid-write; its temporary."""
    code = textwrap.dedent(f"""
        import sys, time
        from transcendence.files import atomic_binary
        with atomic_binary({str(target)!r}) as fh:
            fh.write(b"half a game" * 1000)
            fh.flush()
            print("writing", flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (tmp,) = target.parent.glob(f".{target.name}.*.tmp")
    return tmp


# --- 3. temporaries of killed jobs ---------------------------------------------------------------

def test_a_killed_writers_temporary_is_removed_by_the_next_run_of_that_output(tmp_path):
    from transcendence.files import atomic_binary

    target = tmp_path / "synthetic-00.pgn.zst"
    stale = _killed_writer(target)
    other = tmp_path / "synthetic-00.pgn.zst.partial"      # another output whose name starts alike
    other_stale = _killed_writer(other)
    with atomic_binary(target) as fh:
        fh.write(b"a whole game\n")
    assert target.exists() and not stale.exists()
    assert other_stale.exists(), "another output's temporary must be left to that output's next run"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, other_stale.name])



def test_a_shared_targets_concurrent_writer_keeps_its_temporary(tmp_path):
    """A cache entry two jobs write at once: the second leaves the first's temporary alone."""
    from transcendence.files import atomic_text

    target = tmp_path / "ab" / "entry.json"
    with atomic_text(target, shared=True) as first:
        first.write("{}")
        with atomic_text(target, shared=True) as second:
            second.write("{}")
    assert target.read_text() == "{}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["entry.json"]

# --- 4. sharing: modes and logs -------------------------------------------------------------------

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_outputs_respect_the_umask(tmp_path, umask, mode):
    code = textwrap.dedent(f"""
        import os
        os.umask({umask})
        from transcendence.files import atomic_binary, write_json
        write_json({str(tmp_path / "stats.json")!r}, {{"a": 1}})
        with atomic_binary({str(tmp_path / "cap400.pgn.zst")!r}) as fh:
            fh.write(b"x")
    """)
    subprocess.run([sys.executable, "-c", code], env=ENV, check=True)
    for name in ("stats.json", "cap400.pgn.zst"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_the_log_of_a_killed_attempt_is_kept_when_the_job_runs_again(tmp_path):
    """A real Snakemake job killed with SIGKILL, then run again: both attempts' lines remain."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""
        rule job:
            output: "out.txt"
            log: "logs/job.log"
            params: attempt=config["attempt"]
            script: "job.py"
    """))
    (tmp_path / "job.py").write_text(textwrap.dedent("""
        import time
        from transcendence.logs import logged
        with logged(snakemake.log[0]) as log:
            print(f"attempt {snakemake.params.attempt} started", file=log)
            if snakemake.params.attempt == "first":
                time.sleep(600)       # killed here
            with open(snakemake.output[0], "w") as out:
                out.write("done\\n")
            print(f"attempt {snakemake.params.attempt} done", file=log)
    """))
    log = tmp_path / "logs" / "job.log"
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "-d", str(tmp_path), "-s", str(tmp_path / "Snakefile")]
    first = subprocess.Popen([*cmd, "--config", "attempt=first"], env=ENV, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: log.exists() and "attempt first started" in log.read_text(), "the first attempt's log")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    second = subprocess.run([*cmd, "--config", "attempt=second", "--nolock", "--rerun-incomplete"],
                            env=ENV, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    text = log.read_text()
    assert text.index("attempt first started") < text.index("did not finish") < text.index("attempt second done"), text
    assert not (tmp_path / "logs" / "job.log.unfinished").exists()


# --- 5. errors found late: checked at start-up, naming the key -----------------------------------

def _smoke() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())


def _start(tmp_path, cfg: dict, *args: str) -> subprocess.CompletedProcess:
    """A real Snakemake start on ``cfg`` in ``tmp_path``; asserts it stopped before any job."""
    import yaml

    from .conftest import snakemake

    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(*args, "--configfile", str(path), workdir=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "config validation failed" in out, out[-3000:]
    assert "Job stats" not in out and not (tmp_path / "results").exists()
    return proc


def test_an_unknown_key_is_one_line_with_the_keys_allowed(tmp_path):
    cfg = _smoke()
    cfg["train"]["learning_rat"] = 0.1
    proc = _start(tmp_path, cfg, "--cores", "1")
    out = proc.stdout + proc.stderr
    assert "train: unknown key 'learning_rat'; allowed: batch_size, " in out and "learning_rate" in out
    assert len(out.splitlines()) < 30, f"{len(out.splitlines())} lines:\n{out[:3000]}"   # not the schema


@pytest.mark.parametrize("change, needle", [
    ({"model": {"n_embd": 30, "n_head": 4}}, "model.n_embd (30) must be a multiple of model.n_head (4)"),
    ({"train": {"gpus": 2, "grad_accum": 3}}, "train.grad_accum (3) must be a multiple of train.gpus (2)"),
    ({"train_overrides": {"400": {"gpus": 4}}}, "train_overrides.400.grad_accum (1) must be a multiple of"),
])
def test_cross_key_rules_fail_at_start_naming_the_key(tmp_path, change, needle):
    cfg = _smoke()
    for section, values in change.items():
        cfg[section] = {**cfg[section], **values}
    proc = _start(tmp_path, cfg, "-n")          # even the dry run: before, it passed and train failed hours later
    assert needle in proc.stdout + proc.stderr


def test_cross_key_rules_of_the_text_model_skip_a_board_model():
    from transcendence.config_check import cross_key_problems

    cfg = _smoke()
    cfg["model"] = {**cfg["model"], "n_embd": 30, "n_head": 4}
    board = {**cfg, "model": {**cfg["model"], "family": "board"}, "evaluate": {**cfg["evaluate"], "mode": "legal_moves"}}
    assert cross_key_problems(cfg) and not cross_key_problems(board)


def test_an_engine_that_does_not_exist_fails_the_dry_run(tmp_path):
    proc = _start(tmp_path, {**_smoke(), "engine": "/nonexistent"}, "-n")
    assert "engine: chess engine '/nonexistent' not found" in proc.stdout + proc.stderr


def test_an_engine_that_does_not_answer_uci_fails_the_dry_run(tmp_path):
    fake = tmp_path / "not-an-engine"
    fake.write_text("#!/bin/sh\necho 'Hello, I am a shell script'\nexit 3\n")
    fake.chmod(0o755)
    proc = _start(tmp_path, {**_smoke(), "engine": str(fake)}, "-n")
    assert (f"engine: {fake} is not a UCI engine: asked 'uci', it said 'Hello, I am a shell script' "
            f"and exited with status 3") in proc.stdout + proc.stderr


# --- 6. a killed run's stale lock ------------------------------------------------------------------

def _copy_for_make(dest: Path) -> Path:
    """What `make reproduce` reads, copied to ``dest`` (outside any git clone: no DVC step)."""
    import shutil

    for name in ("Makefile", "Snakefile", "dvc.yaml", "pyproject.toml", "requirements.txt"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("workflow", "config", "src", "envs"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "profiles").symlink_to("workflow/profiles")
    return dest


def _kill_while_locked(workdir: Path, *args: str) -> None:
    """Start a real Snakemake in ``workdir``, SIGKILL it (and its jobs) once it holds the lock."""
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=ENV,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: any((workdir / ".snakemake" / "locks").glob("*.lock")), "Snakemake's lock", 120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def test_make_reproduce_clears_the_lock_of_a_killed_run(tmp_path):
    work = _copy_for_make(tmp_path)
    _kill_while_locked(work, "--cores", "1", "--configfile", "config/smoke.yaml")
    assert list((work / ".snakemake" / "locks").glob("*.lock"))
    venv = Path(sys.executable).parents[1]
    proc = subprocess.run(["make", "-o", f"{venv}/.installed", "reproduce", f"VENV={venv}",
                           "CONFIG=config/smoke.yaml", "SNAKEMAKE_ARGS=--until theory"],
                          cwd=work, env=ENV, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "holds the lock of a Snakemake run that was killed" in out
    assert (work / "results" / "analysis" / "theory.csv").exists()
    assert not list((work / ".snakemake" / "locks").glob("*.lock"))


def test_a_live_snakemake_keeps_its_lock_and_is_named(tmp_path):
    (tmp_path / "Snakefile").write_text('rule slow:\n    output: "out.txt"\n    shell: "sleep 600 && touch {output}"\n')
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1"], cwd=tmp_path, env=ENV,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: any((tmp_path / ".snakemake" / "locks").glob("*.lock")), "Snakemake's lock", 120)
        check = subprocess.run([sys.executable, "-m", "transcendence.stale_lock", "--dir", str(tmp_path), "--",
                                sys.executable, "-m", "snakemake", "--unlock"],
                               env=ENV, capture_output=True, text=True, timeout=60)
        assert check.returncode == 1
        assert f"Snakemake is already running in {tmp_path.resolve()} (pid " in check.stderr
        assert list((tmp_path / ".snakemake" / "locks").glob("*.lock"))   # left alone
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


STOPPED_SNAKEFILE = '''\
from transcendence.stop_jobs import forward_stops_to_jobs

onstart:
    forward_stops_to_jobs()

rule slow:
    output: "out.txt"
    params: seconds=config.get("seconds", 600)
    shell: "echo $$ > job.pid; sleep {params.seconds}; echo done > {output}"
'''


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_sent_to_snakemake_alone_stops_its_running_jobs_at_once(tmp_path, sig):
    """Snakemake 9 answers SIGTERM, and SIGINT sent to it alone, by waiting for its running
    jobs (a training trained on to its last step). With the Snakefile's hook (the project's
    Snakefile has it), a stop sent to Snakemake's process reaches every job at once; Snakemake
    exits, unlocked, without the job's output, and the next run does the job."""
    assert "onstart:\n    forward_stops_to_jobs()" in (ROOT / "Snakefile").read_text()
    (tmp_path / "Snakefile").write_text(STOPPED_SNAKEFILE)
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1"], cwd=tmp_path, env=ENV,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        job = tmp_path / "job.pid"
        _wait_for(lambda: job.exists() and job.read_text().strip(), "the job to start", 120)
        pid = int(job.read_text())
        started = time.monotonic()
        proc.send_signal(sig)                               # to Snakemake alone, as `kill PID` does
        assert proc.wait(timeout=60) != 0
        assert time.monotonic() - started < 30             # not the job's 600 s
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert not Path(f"/proc/{pid}").exists()
    assert not (tmp_path / "out.txt").exists() and not list((tmp_path / ".snakemake" / "locks").glob("*.lock"))
    again = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--config", "seconds=0"],
                           cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "out.txt").read_text() == "done\n"


def test_a_stop_sent_to_make_alone_stops_snakemake_and_its_jobs(tmp_path):
    """make passes a SIGTERM it gets to its recipe's shell only, which dies: Snakemake and its
    jobs ran on. Started as `make reproduce` starts it (stop_jobs.py, ``$(STOPPABLE)``),
    Snakemake is sent SIGTERM when that shell dies, and its hook stops the jobs."""
    makefile = (ROOT / "Makefile").read_text()
    runs = [line for line in makefile.splitlines() if "$(BIN)/snakemake --cores $(CORES)" in line]
    assert len(runs) == 3 and all("$(STOPPABLE) $(BIN)/snakemake" in line for line in runs)
    (tmp_path / "Snakefile").write_text(STOPPED_SNAKEFILE)
    (tmp_path / "Makefile").write_text(  # a compound command, as reproduce's: the shell stays
        f"go:\n\tif true; then {sys.executable} {ROOT}/src/transcendence/stop_jobs.py -- "
        f"{sys.executable} -m snakemake --cores 1; fi\n")
    proc = subprocess.Popen(["make", "-s", "go"], cwd=tmp_path, env=ENV, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    job = tmp_path / "job.pid"
    try:
        _wait_for(lambda: job.exists() and job.read_text().strip(), "the job to start", 120)
        pid = int(job.read_text())
        proc.send_signal(signal.SIGTERM)                    # to make alone
        proc.wait(timeout=30)
        _wait_for(lambda: not Path(f"/proc/{pid}").exists(), "the job to stop", 30)
        _wait_for(lambda: not list((tmp_path / ".snakemake" / "locks").glob("*.lock")), "Snakemake to exit", 30)
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group (nothing, when it passes)
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (tmp_path / "out.txt").exists()
