"""dvc.yaml, generated from the Snakemake workflow so that the two cannot drift apart.

Snakemake runs the study; DVC records what produced what (the content hash of every dataset
and checkpoint, with the code and config values behind it) and moves results to and from
remotes. Writing dvc.yaml by hand would describe the workflow twice, so it is derived:

- stages: one per rule, split by cap where the rule has a ``cap`` wildcard, so that a change
  to one cap re-runs only that cap's jobs;
- outs and deps: the outputs and inputs of the rule's jobs, read from Snakemake's dry run of
  the whole DAG (``snakemake -n --forceall``); JSON outputs are DVC metrics, PNG figures DVC
  plots. Logs are none of them: a log holds timings, so a forced re-run of the same work
  rewrites it with other bytes, and DVC hashes every output it is told of (``cache: false``
  and ``persist`` still record and compare the hash), so a declared log would leave the
  stage ``modified`` in ``dvc status`` though every result is the same;
- code: the rule's script and every package module it imports, found by reading imports;
- params: the config keys the rule's ``params:`` read, found by reading the rule's source
  and the helpers of the .smk files it calls, in each config file Snakemake merges (the
  Snakefile's ``configfile:``, then ``--configfile``).

Each stage's command asks Snakemake for that stage's outputs with ``--allowed-rules``, so
``dvc repro`` works and Snakemake never runs another stage's jobs behind DVC's back. ``make
reproduce`` runs the whole DAG with Snakemake instead (in parallel), forcing the stages DVC
finds stale (``stale_outputs``), then records the results with ``dvc commit``.
The package never imports Snakemake: the dry run comes in as text (see ``make dvc.yaml``).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# Declarations DVC needs that the Snakemake DAG cannot say: files a rule writes beside its
# declared outputs. DVCLive's curves are appended to by a resumed run, so repro keeps them
# (persist); they are cached like every result, so a pull brings them too.
EXTRA_PLOTS = {
    "train": [{"results/models/cap{cap}/dvclive/plots/metrics": {"x": "step", "persist": True}}],
}

STOP = None  # a config key that is not a literal (a list index, another wildcard): track its parent


@dataclass
class Job:
    """One job of Snakemake's dry run."""

    rule: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    wildcards: dict[str, str] = field(default_factory=dict)
    reason: str = ""


@dataclass
class Rule:
    """What the rule's source says: its script and the expression of each of its params."""

    name: str
    script: Path | None
    params: ast.AST | None


def parse_dry_run(text: str) -> list[Job]:
    """Jobs of ``snakemake -n`` output: a ``rule NAME:`` line, then ``    key: a, b`` lines."""
    jobs: list[Job] = []
    for line in text.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):$", line):
            jobs.append(Job(m.group(1)))
        elif jobs and (m := re.match(r"^    (input|output|log|wildcards|reason): (.*)$", line)):
            values = m.group(2).split(", ")
            job = jobs[-1]
            if m.group(1) == "reason":
                job.reason = m.group(2)
            elif m.group(1) == "wildcards":
                job.wildcards = dict(v.split("=", 1) for v in values)
            else:
                {"input": job.inputs, "output": job.outputs, "log": job.logs}[m.group(1)].extend(values)
    if not jobs:
        raise ValueError("no jobs in the dry run; was it `snakemake -n --forceall` (not --quiet)?")
    return jobs


# A file the workflow is made of: an ``include:`` or a module's ``snakefile:``, written on its
# line or on the next, relative to the file that names it.
_PART = re.compile(r'^\s*(?:include|snakefile):\s*(?:\n\s*)?"([^"]+)"', re.M)


def workflow_files(snakefile: Path) -> tuple[str, list[Path]]:
    """The Snakefile's own configfile and the files it is made of, in include order.

    Includes and modules are followed into the files they name (the study is a module of the
    Snakefile, its rules files includes of the study).
    """
    text = snakefile.read_text()
    base = re.search(r'^configfile:\s*"([^"]+)"', text, re.M)
    if base is None:
        raise ValueError(f"{snakefile}: no configfile: line")
    files: list[Path] = []

    def follow(path: Path) -> None:
        if path in files:
            return
        files.append(path)
        for part in _PART.findall(path.read_text()):
            follow(path.parent / part)

    follow(snakefile)
    return base.group(1), files


def read_rules(files: list[Path]) -> dict[str, Rule]:
    """Each rule's script path and its params block, parsed as a call's keyword arguments."""
    rules: dict[str, Rule] = {}
    for path in files:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not (m := re.match(r"^(\s*)rule (\w+):\s*$", line)):
                continue
            indent = len(m.group(1))
            body = _block(lines, i + 1, indent)
            params = _directive(body, "params")
            script = _directive(body, "script")
            rules[m.group(2)] = Rule(
                m.group(2),
                (path.parent / ast.literal_eval(script.strip())).resolve() if script else None,
                ast.parse(f"dict(\n{params}\n)", mode="eval") if params else None,
            )
    return rules


def _block(lines: list[str], start: int, indent: int) -> list[str]:
    """The lines after ``start`` indented deeper than ``indent`` (blank lines included)."""
    out = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        out.append(line)
    return out


def _directive(body: list[str], name: str) -> str | None:
    """The text of one directive of a rule body (``params:``, ``script:``), dedented."""
    for i, line in enumerate(body):
        if m := re.match(rf"^(\s*){name}:\s*(.*)$", line):
            inner = _block(body, i + 1, len(m.group(1)))
            text = "\n".join([m.group(2), *(x.strip() for x in inner)]).strip()
            return re.sub(r"(?m)^#.*$", "", text)
    return None


def read_helpers(files: list[Path]) -> dict[str, ast.AST]:
    """Top-level functions and names of the workflow's files (what params may call)."""
    helpers: dict[str, ast.AST] = {}

    def collect(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.FunctionDef):
                helpers[node.name] = node
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        helpers[target.id] = node.value
            elif isinstance(node, (ast.If, ast.For)):
                collect(node.body + node.orelse)

    for path in files:
        chunks: list[list[str]] = []
        for line in path.read_text().splitlines():
            starts = line[:1].strip() and not line.startswith(("#", "else", "elif"))
            if starts or not chunks:
                chunks.append([])
            chunks[-1].append(line)
        for chunk in chunks:
            try:
                collect(ast.parse("\n".join(chunk)).body)
            except SyntaxError:  # Snakemake's own syntax (rule, include, wildcard_constraints)
                continue
    return helpers


def config_keys(node: ast.AST, helpers: dict[str, ast.AST], seen: frozenset[str] = frozenset()) -> set[tuple]:
    """Key paths of ``config`` an expression reads, through the helpers it names.

    ``config["train_overrides"].get(str(cap))`` reads ``("train_overrides", "{cap}")``; a
    key that is not a literal (``[0]``, ``[wc.opponent]``) stops the path at its parent.
    """
    paths: dict[int, tuple] = {}
    inner: set[int] = set()
    keys: set[tuple] = set()
    for sub in ast.walk(node):
        if (path := _config_path(sub)) is not None:
            paths[id(sub)] = path
            if isinstance(sub, ast.Subscript):
                inner.add(id(sub.value))
            elif isinstance(sub, ast.Call):
                inner.add(id(sub.func.value))
        elif isinstance(sub, ast.Name) and sub.id in helpers and sub.id not in seen:
            keys |= config_keys(helpers[sub.id], helpers, seen | {sub.id})
    for i, path in paths.items():
        if i not in inner:
            keys.add(path[:path.index(STOP)] if STOP in path else path)
    return keys


def _config_path(node: ast.AST) -> tuple | None:
    if isinstance(node, ast.Name) and node.id == "config":
        return ()
    if isinstance(node, ast.Subscript):
        base, key = node.value, node.slice
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
          and node.func.attr == "get" and node.args):
        base, key = node.func.value, node.args[0]
    else:
        return None
    prefix = _config_path(base)
    if prefix is None or (prefix and prefix[-1] is STOP):
        return prefix
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return (*prefix, key.value)
    names = {n.id for n in ast.walk(key) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(key) if isinstance(n, ast.Attribute)}
    return (*prefix, "{cap}" if "cap" in names else STOP)


def _module_name(path: Path, src: Path) -> str:
    """``transcendence.training.board_training`` for ``src/transcendence/training/board_training.py``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_file(name: str, src: Path) -> Path | None:
    """The file of a package module or sub-package (its ``__init__.py``), if there is one."""
    base = src.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _scopes(tree: ast.AST, here: list[str], is_package: bool, inside: bool
            ) -> dict[str | None, tuple[list[str], set[str]]]:
    """A module's imports and the names it refers to, by the method they sit in (None: the rest).

    A method is a function defined in a class body, dunders aside (they run implicitly): its
    imports are lazy and run, and the names in it are looked up, only where it is called.
    An ``if TYPE_CHECKING:`` block never runs, so its imports are none.
    """
    scopes: dict[str | None, tuple[list[str], set[str]]] = {}

    def visit(node: ast.AST, method: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue
            inner = method
            if (isinstance(node, ast.ClassDef) and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and not child.name.startswith("__")):
                inner = child.name
            imports, used = scopes.setdefault(inner, ([], set()))
            if isinstance(child, ast.Import):
                imports += [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                module = child.module or ""
                if child.level:  # relative: from the importing module's package, up level - 1
                    if not inside:
                        continue
                    base = here if is_package else here[:-1]
                    base = base[:len(base) - (child.level - 1)]
                    module = ".".join(base + ([module] if module else []))
                imports += [module] + [f"{module}.{a.name}" for a in child.names]
            elif isinstance(child, ast.Attribute):
                used.add(child.attr)
            elif isinstance(child, ast.Name):
                used.add(child.id)
            visit(child, inner)

    visit(tree, None)
    return scopes


def imported_modules(script: Path, src: Path) -> list[Path]:
    """The package modules a script imports, directly or through each other.

    Follows absolute imports (``transcendence.families.board.policy``), relative ones at any
    depth (``from ..files import x`` inside a sub-package) and names imported from a package
    that are modules themselves (``from transcendence.data import packing``). What a class's
    method imports counts once a module found refers to a method of that name
    (``family.build_dataset(...)``): a model family imports each stage's code in the method
    that stage calls, so the dataset stage does not depend on the family's training.
    """
    found: set[Path] = set()
    used: set[str] = set()                                             # names referred to so far
    waiting: dict[str, list[tuple[list[str], set[str]]]] = {}          # methods not referred to yet
    todo = [script]

    def enter(imports: list[str], names: set[str]) -> None:
        used.update(names)
        for name in imports:
            parts = name.split(".")
            if parts[0] != "transcendence" or len(parts) < 2:
                continue
            # Every package on the way is imported too (its __init__ runs).
            for depth in range(2, len(parts) + 1):
                path = _module_file(".".join(parts[:depth]), src)
                if path is not None and path not in found:
                    found.add(path)
                    todo.append(path)

    while True:
        while todo:
            current = todo.pop()
            inside = current.is_relative_to(src / "transcendence")
            here = _module_name(current, src).split(".") if inside else []
            scopes = _scopes(ast.parse(current.read_text()), here, current.name == "__init__.py", inside)
            for method, scope in scopes.items():
                if method is None:
                    enter(*scope)
                else:
                    waiting.setdefault(method, []).append(scope)
        called = [m for m in waiting if m in used]
        if not called:
            return sorted(found)
        for method in called:
            for scope in waiting.pop(method):
                enter(*scope)


def _lookup(cfg: object, path: tuple) -> bool:
    for key in path:
        if not isinstance(cfg, dict) or key not in cfg:
            return False
        cfg = cfg[key]
    return True


def stage_params(keys: set[tuple], cap: str | None, configs: dict[str, dict]) -> list[dict]:
    """DVC params of one stage: each key path, in every config file that sets it."""
    resolved = set()
    for path in keys:
        parts = []
        for part in path:
            if part == "{cap}" and cap is None:
                break
            parts.append(cap if part == "{cap}" else part)
        resolved.add(tuple(parts))
    out = []
    for name, cfg in configs.items():
        present = {p for p in resolved if p == () or _lookup(cfg, p)}
        if () in present:  # the whole config: every top-level key
            present = {(k,) for k in cfg}
        kept = sorted(".".join(p) for p in present if not any(p[:n] in present for n in range(1, len(p))))
        if kept:
            out.append({name: kept})
    return out


def build(jobs: list[Job], rules: dict[str, Rule], helpers: dict[str, ast.AST], base: str,
          configfile: str, root: Path) -> dict:
    """The dvc.yaml document for the DAG of ``jobs`` under ``configfile``."""
    files = [base] if Path(base) == Path(configfile) else [base, configfile]
    configs = {f: yaml.safe_load((root / f).read_text()) or {} for f in files}
    stages: dict[tuple[str, str | None], list[Job]] = {}
    for job in jobs:
        if job.outputs:
            stages.setdefault((job.rule, job.wildcards.get("cap")), []).append(job)
    order = list(rules)
    document: dict = {}
    for (rule_name, cap), group in sorted(stages.items(), key=lambda kv: (order.index(kv[0][0]),
                                                                          int(kv[0][1] or 0))):
        rule = rules[rule_name]
        outputs = sorted(o for job in group for o in job.outputs)
        inputs = sorted({i for job in group for i in job.inputs} - set(outputs))
        code = []
        if rule.script is not None:
            code = [rule.script, *imported_modules(rule.script, root / "src")]
        keys = config_keys(rule.params, helpers) if rule.params is not None else set()
        stage: dict = {
            "cmd": " ".join(["snakemake", *outputs, "--cores all --configfile", configfile,
                             "--allowed-rules", rule_name, "--rerun-incomplete"]),
            "deps": inputs + [p.relative_to(root.resolve()).as_posix() for p in code],
        }
        if params := stage_params(keys, cap, configs):
            stage["params"] = params
        if outs := [o for o in outputs if not o.endswith((".json", ".png"))]:  # logs are no output: see above
            stage["outs"] = outs
        if metrics := [o for o in outputs if o.endswith(".json")]:
            stage["metrics"] = metrics
        plots = [o for o in outputs if o.endswith(".png")]
        plots += [{p.replace("{cap}", cap or ""): dict(v) for p, v in extra.items()}
                  for extra in EXTRA_PLOTS.get(rule_name, [])]
        if plots:
            stage["plots"] = plots
        document[rule_name if cap is None else f"{rule_name}-cap{cap}"] = stage
    return {"stages": document}


def render(document: dict, configfile: str) -> str:
    """dvc.yaml's text: a header saying where it comes from, then the stages."""
    header = (f"# Generated by `make dvc.yaml CONFIG={configfile}` from the Snakemake workflow"
              " (src/transcendence/provenance/dvc_stages.py);\n"
              "# do not edit: change the rules or the config and regenerate. tests/test_provenance.py\n"
              "# fails when this file and the workflow differ.\n")
    return header + yaml.safe_dump(document, sort_keys=False, width=10_000)


def stale_outputs(status: dict, document: dict, locked: set[str] | None = None) -> list[str]:
    """The outputs of every stage ``dvc status --json`` names, for ``snakemake --forcerun``.

    DVC sees changes Snakemake does not (a script's or a module's contents); forcing those
    stages' jobs makes Snakemake re-run them and everything after them, so that what
    ``dvc commit`` then records was really made by the code and parameters it names.
    A stage that ``dvc.lock`` does not hold yet (``locked``, when given) is left out: DVC has
    no record to compare it with and calls it changed, so forcing it would throw away the
    finished jobs of a first run that was interrupted; Snakemake's own record decides there.
    """
    outputs = []
    for name in status:
        if locked is not None and name not in locked:
            continue
        stage = document["stages"].get(name, {})
        # A dvc.yaml generated before logs left the outputs lists them: they are no job's output.
        logs = {o for o in stage.get("outs", []) if isinstance(o, str) and o.startswith("results/logs/")}
        for kind in ("outs", "metrics", "plots"):
            outputs += [o for o in stage.get(kind, []) if isinstance(o, str) and o not in logs]
    return outputs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", help="the config the stages run with")
    parser.add_argument("--dry-run", type=Path, help="output of `snakemake -n --forceall --configfile CONFIG`")
    parser.add_argument("--snakefile", type=Path, default=Path("Snakefile"))
    parser.add_argument("--output", type=Path, default=None, help="dvc.yaml (default: stdout)")
    parser.add_argument("--stale", type=Path, metavar="STATUS_JSON",
                        help="instead: print the outputs of the stages `dvc status --json` names in dvc.yaml")
    args = parser.parse_args(argv)
    if args.stale is not None:
        document = yaml.safe_load(Path("dvc.yaml").read_text())
        lock = Path("dvc.lock")
        locked = set((yaml.safe_load(lock.read_text()) or {}).get("stages", {})) if lock.exists() else set()
        print(" ".join(stale_outputs(json.loads(args.stale.read_text()), document, locked)))
        return
    if args.configfile is None or args.dry_run is None:
        parser.error("--configfile and --dry-run are required")
    if "sweep" in (yaml.safe_load(Path(args.configfile).read_text()) or {}):
        # A stage's params name keys of a config file, and a condition's values are its overrides
        # merged over the file's: no key of the file holds them.
        sys.exit(f"dvc_stages: {args.configfile} is a sweep; dvc.yaml describes one configuration's stages, "
                 f"so there is none for a sweep (run it with `make reproduce CONFIG={args.configfile}`, "
                 "which runs Snakemake without DVC)")
    root = args.snakefile.resolve().parent
    base, files = workflow_files(args.snakefile)
    text = render(build(parse_dry_run(args.dry_run.read_text()), read_rules(files), read_helpers(files),
                        base, args.configfile, root), args.configfile)
    if args.output is None:
        sys.stdout.write(text)
    else:
        from ..files import atomic_text

        with atomic_text(args.output) as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
