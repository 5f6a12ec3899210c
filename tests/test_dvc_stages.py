"""Unit tests of the dvc.yaml generator's readers (the whole generator: tests/test_provenance.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from transcendence.provenance.dvc_stages import (build, config_keys, imported_modules, main, parse_dry_run,
                                      read_helpers, read_rules, stage_params, stale_outputs)

from .conftest import ROOT

DRY_RUN = """\
Building DAG of jobs...
[Mon Nov 23 13:23:58 2026]
rule train:
    input: results/datasets/cap400/train.bin, results/datasets/cap400/val.bin
    output: results/models/cap400/model.pt, results/models/cap400/metrics.json
    log: results/logs/train/cap400.log
    jobid: 5
    reason: Forced execution
    wildcards: cap=400
[Mon Nov 23 13:23:58 2026]
localrule all:
    input: results/models/cap400/model.pt
    jobid: 0
"""

RULES = '''\
CAPS = [int(c) for c in config["caps"]]
OPPONENTS = {o["name"]: o for o in config["evaluate"]["opponents"]}


def settings(cap):
    """One cap's section."""
    return {**config["train"], **config["train_overrides"].get(str(cap), {})}


rule train:
    input:
        "results/datasets/cap{cap}/train.bin",
    params:
        train=lambda wc: settings(wc.cap),
        # a comment inside the block
        opponent=lambda wc: OPPONENTS[wc.opponent],
        device=config["evaluate"].get("device", "cpu"),
        first=config["synthetic"]["players"][0]["name"],
    script:
        "../scripts/train.py"
'''


def test_dry_run_jobs_with_their_files_and_wildcards():
    train, everything = parse_dry_run(DRY_RUN)
    assert train.rule == "train" and train.wildcards == {"cap": "400"} and train.reason == "Forced execution"
    assert train.outputs == ["results/models/cap400/model.pt", "results/models/cap400/metrics.json"]
    assert train.inputs[1] == "results/datasets/cap400/val.bin" and train.logs == ["results/logs/train/cap400.log"]
    assert everything.rule == "all" and everything.outputs == []


def test_params_read_config_keys_through_helpers_and_the_cap_wildcard(tmp_path):
    smk = tmp_path / "rules" / "train.smk"
    smk.parent.mkdir()
    smk.write_text(RULES)
    rule = read_rules([smk])["train"]
    assert rule.script == (tmp_path / "scripts" / "train.py").resolve()
    keys = config_keys(rule.params, read_helpers([smk]))
    assert keys == {("train",), ("train_overrides", "{cap}"), ("evaluate", "opponents"),
                    ("evaluate", "device"), ("synthetic", "players")}


def test_stage_params_are_the_keys_each_file_sets_for_that_cap():
    keys = {("train",), ("train", "max_steps"), ("train_overrides", "{cap}"), ("evaluate", "device")}
    configs = {"base.yaml": {"train": {"max_steps": 1}, "train_overrides": {}, "evaluate": {"device": "cpu"}},
               "run.yaml": {"train": {"max_steps": 2}, "train_overrides": {"400": {"max_steps": 3}}}}
    assert stage_params(keys, "400", configs) == [{"base.yaml": ["evaluate.device", "train"]},
                                                  {"run.yaml": ["train", "train_overrides.400"]}]
    assert stage_params(keys, "800", configs)[1] == {"run.yaml": ["train"]}


def test_code_deps_follow_the_packages_imports(tmp_path):
    package = tmp_path / "src" / "transcendence"
    package.mkdir(parents=True)
    (package / "a.py").write_text("import json\n\ndef f():\n    from .b import g\n    return g\n")
    (package / "b.py").write_text("from transcendence import c\n")
    (package / "c.py").write_text("")
    (package / "unused.py").write_text("")
    script = tmp_path / "script.py"
    script.write_text("from transcendence.a import f\n")
    assert [p.name for p in imported_modules(script, tmp_path / "src")] == ["a.py", "b.py", "c.py"]
    real = {p.name for p in imported_modules(ROOT / "workflow/scripts/dataset.py", ROOT / "src")}
    assert "packing.py" in real and "train.py" not in real


def test_a_methods_imports_count_where_the_method_is_called(tmp_path):
    package = tmp_path / "src" / "transcendence"
    package.mkdir(parents=True)
    (package / "kinds.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from . import typed\n\n\n"
        "class Kind:\n    def __init__(self):\n        from . import made\n\n"
        "    def play(self):\n        from . import playing\n        return playing.go()\n\n"
        "    def learn(self):\n        from . import learning\n\n\nKIND = Kind()\n")
    for name in ("typed", "made", "playing", "learning"):
        (package / f"{name}.py").write_text("")
    (package / "playing.py").write_text("def go():\n    from . import deep\n")
    (package / "deep.py").write_text("")
    script = tmp_path / "script.py"
    script.write_text("from transcendence.kinds import KIND\nKIND.play()\n")
    assert [p.name for p in imported_modules(script, tmp_path / "src")] == ["deep.py", "kinds.py", "made.py", "playing.py"]
    script.write_text("from transcendence.kinds import KIND\n")
    assert [p.name for p in imported_modules(script, tmp_path / "src")] == ["kinds.py", "made.py"]


def test_every_module_a_script_really_imports_is_among_its_dependencies():
    """The oracle: Python's own import of each rule script's package imports (sub-packages and
    relative imports included) loads no package module that the static scan missed."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    src = ROOT / "src"
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    assert scripts
    for script in scripts:
        imports = [ast.unparse(n) for n in ast.walk(ast.parse(script.read_text()))
                   if isinstance(n, (ast.Import, ast.ImportFrom)) and "transcendence" in ast.unparse(n)]
        code = "\n".join(imports + ["import sys", "print('\\n'.join(m.__file__ for n, m in sys.modules.items() "
                                    "if n.startswith('transcendence') and getattr(m, '__file__', None)))"])
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                             env={"PYTHONPATH": str(src), "PATH": ""}, check=True).stdout.split()
        loaded = {p for p in map(Path, out) if p.name != "__init__.py" or p.parent.name != "transcendence"}
        static = set(imported_modules(script, src))
        assert loaded <= static, f"{script.name}: {sorted(map(str, loaded - static))} missing from its deps"


STAGES = {"stages": {
    "games": {"outs": ["results/dumps/a.pgn.zst", "results/logs/games/a.log"]},
    "train-cap400": {"outs": ["results/models/cap400/model.pt", "results/logs/train/cap400.log"],
                     "metrics": ["results/models/cap400/metrics.json"]},
}}
STATUS = {"games": [{"changed deps": {"src/x.py": "modified"}}],
          "train-cap400": [{"changed outs": {"results/models/cap400/model.pt": "modified"}}]}


def test_stale_outputs_are_the_named_stages_outputs_without_logs():
    assert stale_outputs(STATUS, STAGES) == ["results/dumps/a.pgn.zst", "results/models/cap400/model.pt",
                                             "results/models/cap400/metrics.json"]


def test_a_stage_the_lock_does_not_hold_is_not_forced(tmp_path, monkeypatch, capsys):
    """A first run killed midway has no dvc.lock entries: DVC calls every stage changed, and
    forcing them all would redo the jobs that finished. Only recorded stages are forced."""
    assert stale_outputs(STATUS, STAGES, locked={"games"}) == ["results/dumps/a.pgn.zst"]
    assert stale_outputs(STATUS, STAGES, locked=set()) == []
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(STAGES))
    (tmp_path / "status.json").write_text(json.dumps(STATUS))
    main(["--stale", "status.json"])
    assert capsys.readouterr().out.strip() == ""
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"train-cap400": {}}}))
    main(["--stale", "status.json"])
    assert capsys.readouterr().out.split() == ["results/models/cap400/model.pt", "results/models/cap400/metrics.json"]


def test_a_forced_rerun_that_changes_only_its_log_leaves_dvc_status_clean(tmp_path):
    """A job's log holds timings, so a forced re-run of the same work rewrites it with other
    bytes: a stage that declared it an output was then `modified` in `dvc status` though
    every result was the same. Logs are no stage's outputs; a real DVC says nothing changed."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "train.smk").write_text(RULES)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "train.py").write_text("# the rule's script\n")
    (tmp_path / "config.yaml").write_text("train: {max_steps: 1}\nevaluate: {device: cpu}\n")
    smk = [tmp_path / "rules" / "train.smk"]
    document = build(parse_dry_run(DRY_RUN), read_rules(smk), read_helpers(smk), "config.yaml", "config.yaml",
                     tmp_path)
    stage = document["stages"]["train-cap400"]
    everything = [o for kind in ("outs", "metrics", "plots") for o in stage.get(kind, []) if isinstance(o, str)]
    assert everything and not any(o.startswith("results/logs/") for o in everything)
    for dep in ("results/datasets/cap400/train.bin", "results/datasets/cap400/val.bin"):
        (tmp_path / dep).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / dep).write_text(dep)
    job = ("mkdir -p results/models/cap400/dvclive/plots/metrics results/logs/train"
           " && echo weights > results/models/cap400/model.pt"
           " && printf 'step\\tloss\\n1\\t1\\n' > results/models/cap400/dvclive/plots/metrics/loss.tsv"
           " && echo '{\"loss\": 1}' > results/models/cap400/metrics.json"
           " && date +%s%N > results/logs/train/cap400.log")  # the log, as a job's, holds a time
    stage["cmd"] = job
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")} | {"DVC_NO_ANALYTICS": "1"}
    dvc = str(Path(sys.executable).parent / "dvc")

    def sh(*cmd: str) -> str:
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    sh(dvc, "init", "--no-scm", "-q")
    sh(dvc, "config", "core.autostage", "false")
    sh(dvc, "repro", "-q")
    before = (tmp_path / "results/logs/train/cap400.log").read_text()
    sh("sh", "-c", job)  # a forced re-run by Snakemake, outside DVC: the same results, a new log
    assert (tmp_path / "results/logs/train/cap400.log").read_text() != before
    assert json.loads(sh(dvc, "status", "--json")) == {}

