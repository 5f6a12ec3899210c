"""The package's layering, checked on its import graph: no module imports a layer above its own.

The package has one sub-package per workflow stage, on top of shared foundations (see the
README's "Layout"). The order below is what keeps that true: a lower layer that imports a
higher one ties, say, the PGN reader to the training loop, so a change in training reaches
every stage and DVC (which hashes every module a stage's script imports) re-runs them all.
The graph is read from the source with :mod:`ast` (absolute ``transcendence.x`` imports and
relative ones, at module level or inside functions), not by importing, so the check needs
neither torch nor an engine and sees imports a run would not reach.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "src" / "transcendence"

# Lowest first. A unit is a sub-package or a top-level module ("transcendence" alone is the
# package's own __init__, which holds __version__). A module may import its own unit and any
# unit of a lower layer; units of one layer are independent of each other.
LAYERS: list[tuple[str, ...]] = [
    # Shared by every stage: atomic writes, logging, one seed per game, the version, the
    # evaluation game's row (written by play, read by rating).
    ("transcendence", "files", "logs", "seeds", "game_row"),
    # Chess text: the character vocabulary, the PGN reader, SAN movetext, PGN writing.
    ("pgn",),
    # Stockfish over UCI. Nothing in it reads PGN today; pgn sits below so it may.
    ("engine",),
    # The networks and their checkpoints; nothing in it needs pgn or engine today (the
    # vocabulary's size is a config number), below data and play, which both load models.
    ("model",),
    # The eps-players: the engine's move or a mistake by persona and mistake rule (whose
    # learnable shared move is a fixed random board network, from model). Every stage that
    # plays, rates or values a player holds one of these.
    ("players",),
    # Data sets: synthetic games (played by the engine), filtering, packing, board positions
    # (encoded with model.board_encoding).
    ("data",),
    # What every family's training shares: the recipe and its schedule, resuming, data-parallel
    # ranks, curves. It knows no family: each family's training step runs on it.
    ("training",),
    # The model families (families/<name>/: the family's data set, training, checkpoint,
    # policies, move scores, hidden states), the sampling protocols their policies share, the
    # registry that maps model.family and a checkpoint to one, and the train job that runs a
    # config's family (on torchrun's ranks too).
    ("families",),
    # Playing a model against the engine: the evaluation games, with the family's policy.
    ("play",),
    # Ratings: the calibration games reuse data.synthetic's engine move choice and
    # players. Nothing ranks it against training but the workflow's order.
    ("rating",),
    # The paper's analyses read every stage's outputs and reuse its code (data.synthetic's
    # personas for the expected reward, the families, the engine's move values).
    ("analysis",),
    # Entry points, on top of everything, imported by nothing in the package: dvc.yaml from
    # the workflow, the config check (which looks for the engine), the stale-lock guard, the
    # Snakefile's forwarding of a stop to the running jobs and the `transcendence` command.
    ("provenance", "config_check", "stale_lock", "stop_jobs", "cli"),
    # A sweep's conditions, each a configuration checked by config_check.
    ("sweep_conditions",),
]

FORBIDDEN = ("snakemake",)  # the package runs and is tested without the workflow manager


def unit_names(package: Path) -> set[str]:
    """The units of a package directory: its sub-packages, top-level modules and itself."""
    units = {package.name}
    for entry in package.iterdir():
        if entry.is_dir() and (entry / "__init__.py").is_file():
            units.add(entry.name)
        elif entry.suffix == ".py" and entry.name != "__init__.py":
            units.add(entry.stem)
    return units


def module_name(path: Path, package: Path) -> str:
    """The dotted name of a module file of ``package`` (a package's __init__ names the package)."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, package: Path) -> list[tuple[str, int]]:
    """The absolute names a module imports, each with its line: ``import a.b`` gives ``a.b``,
    ``from a import b`` gives ``a.b`` (b may be a module or a name in a; resolving that is
    :func:`unit_of`'s), relative imports resolved from the module's own package."""
    here = module_name(path, package).split(".")
    own_package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = own_package[:len(own_package) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            found += [(f"{base}.{alias.name}" if base else alias.name, node.lineno) for alias in node.names]
    return found


def unit_of(name: str, package: str, units: set[str]) -> str | None:
    """The unit of ``package`` an imported dotted name lands in; None outside the package."""
    parts = name.split(".")
    if parts[0] != package:
        return None
    if len(parts) > 1 and parts[1] in units:
        return parts[1]
    return package  # a name of the package's __init__ (`from transcendence import __version__`)


def violations(package: Path, layers: list[tuple[str, ...]], forbidden: tuple[str, ...] = FORBIDDEN) -> list[str]:
    """Every import of ``package`` that breaks ``layers`` or names a ``forbidden`` top-level
    package, as ``file:line: what``; also every unit the layers leave out or name wrongly."""
    units = unit_names(package)
    rank = {unit: i for i, layer in enumerate(layers) for unit in layer}
    problems = [f"unit {u!r} is in no layer: place it in LAYERS" for u in sorted(units - rank.keys())]
    problems += [f"LAYERS name {u!r}, which the package does not have" for u in sorted(rank.keys() - units)]
    for path in sorted(package.rglob("*.py")):
        module = module_name(path, package)
        parts = module.split(".")
        own = parts[1] if len(parts) > 1 else package.name
        where = path.relative_to(package.parent)
        for name, line in imports_of(path, package):
            if name.split(".")[0] in forbidden:
                problems.append(f"{where}:{line}: imports {name} (the package never imports {name.split('.')[0]})")
                continue
            target = unit_of(name, package.name, units)
            if target is None or target == own or own not in rank or target not in rank:
                continue
            if rank[target] > rank[own]:
                problems.append(f"{where}:{line}: {own} (layer {rank[own]}) imports {name} "
                                f"from the higher layer {rank[target]} ({target})")
            elif rank[target] == rank[own]:
                problems.append(f"{where}:{line}: {own} imports {name} from {target}, "
                                f"an independent unit of its own layer {rank[own]}")
    return problems


def test_no_module_imports_a_higher_layer_or_snakemake():
    assert violations(PACKAGE, LAYERS) == []


def test_the_layers_place_every_unit_once():
    placed = [unit for layer in LAYERS for unit in layer]
    assert len(placed) == len(set(placed))
    assert set(placed) == unit_names(PACKAGE)


def write_package(root: Path, files: dict[str, str]) -> Path:
    """A package ``transcendence`` under ``root`` with the given module sources."""
    for name, source in {"__init__.py": "", **files}.items():
        path = root / "transcendence" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root / "transcendence"


SMALL_LAYERS = [("transcendence", "files", "logs"), ("pgn",), ("play",)]


def test_the_checker_accepts_downward_imports(tmp_path):
    package = write_package(tmp_path, {
        "files.py": "",
        "logs.py": "",
        "pgn/__init__.py": "",
        "pgn/text.py": "from ..files import x\nfrom . import vocab\nfrom transcendence import __version__\n",
        "pgn/vocab.py": "import transcendence.files\n",
        "play/policy.py": "from transcendence.pgn.text import y\n\ndef f():\n    from ..logs import z\n",
    })
    (package / "play" / "__init__.py").write_text("from .policy import f\n")
    assert violations(package, SMALL_LAYERS) == []


@pytest.mark.parametrize("module, source, expected", [
    ("pgn/text.py", "from ..play import policy\n", "pgn/text.py:1: pgn (layer 1) imports transcendence.play.policy"),
    ("pgn/text.py", "import os\n\n\ndef f():\n    import transcendence.play.policy\n",
     "pgn/text.py:5: pgn (layer 1) imports transcendence.play.policy"),
    ("files.py", "from .pgn.text import g\n", "files.py:1: files (layer 0) imports transcendence.pgn.text.g"),
    ("files.py", "from . import logs\n", "files.py:1: files imports transcendence.logs from logs, an independent"),
    ("play/policy.py", "import snakemake.io\n", "play/policy.py:1: imports snakemake.io"),
    ("pgn/text.py", "from snakemake import shell\n", "pgn/text.py:1: imports snakemake.shell"),
])
def test_the_checker_finds_an_upward_import(tmp_path, module, source, expected):
    files = {"files.py": "", "logs.py": "", "pgn/__init__.py": "", "pgn/text.py": "",
             "play/__init__.py": "", "play/policy.py": ""}
    package = write_package(tmp_path, files | {module: source})
    found = violations(package, SMALL_LAYERS)
    assert len(found) == 1 and found[0].startswith(f"transcendence/{expected}"), found


def test_the_checker_wants_every_unit_placed(tmp_path):
    package = write_package(tmp_path, {"files.py": "", "logs.py": "", "pgn/__init__.py": "",
                                       "play/__init__.py": "", "extra.py": ""})
    assert violations(package, SMALL_LAYERS) == ["unit 'extra' is in no layer: place it in LAYERS"]
    (package / "extra.py").unlink()
    (package / "logs.py").unlink()
    assert violations(package, SMALL_LAYERS) == ["LAYERS name 'logs', which the package does not have"]


# -- the family seam: outside families/, no code asks which model family it holds ------------

WORKFLOW = ROOT / "workflow"


def family_names() -> set[str]:
    from transcendence.families import FAMILIES

    return set(FAMILIES)


def _names_in(node: ast.AST, names: set[str]) -> list[str]:
    """The family names a comparison operand spells: a string, or a tuple/list/set of them."""
    if isinstance(node, ast.Constant) and node.value in names:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [n for e in node.elts for n in _names_in(e, names)]
    return []


def family_comparisons(source: str, names: set[str], where: str) -> list[str]:
    """Every place a Python source branches on a family's name: a comparison with it (``==``,
    ``!=``, ``in``), a ``case`` of it, or a table keyed by two or more family names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        spelt: list[str] = []
        if isinstance(node, ast.Compare):
            spelt = [n for operand in [node.left, *node.comparators] for n in _names_in(operand, names)]
        elif isinstance(node, ast.MatchValue):
            spelt = _names_in(node.value, names)
        elif isinstance(node, ast.Dict):
            keys = [n for k in node.keys if k is not None for n in _names_in(k, names)]
            spelt = keys if len(keys) > 1 else []
        if spelt:
            found.append(f"{where}:{node.lineno}: {', '.join(map(repr, spelt))}")
    return found


_SNAKEMAKE_COMPARISON = r"""(==|!=|\bin)\s*\(?\s*["']({names})["']|["']({names})["']\s*(==|!=|:)"""


def snakemake_family_comparisons(text: str, names: set[str], where: str) -> list[str]:
    """The same in a Snakemake or template file (not Python): a family name compared or used
    as a table's key, outside comments."""
    import re

    pattern = re.compile(_SNAKEMAKE_COMPARISON.format(names="|".join(map(re.escape, sorted(names)))))
    return [f"{where}:{i}: {line.strip()}" for i, line in enumerate(text.splitlines(), 1)
            if pattern.search(line.split("#")[0])]


def seam_sources() -> tuple[list[Path], list[Path]]:
    """The Python files outside families/ (package, workflow scripts, benchmarks aside) and the
    Snakemake and report files."""
    python = [p for p in sorted(PACKAGE.rglob("*.py")) if "families" not in p.relative_to(PACKAGE).parts]
    python += sorted((WORKFLOW / "scripts").glob("*.py"))
    other = [ROOT / "Snakefile", *sorted(WORKFLOW.glob("*.smk")), *sorted((WORKFLOW / "rules").glob("*.smk")),
             *sorted((WORKFLOW / "report").glob("*.rst"))]
    return python, other


def test_no_code_outside_the_families_compares_a_family_name():
    names = family_names()
    python, other = seam_sources()
    found = [line for path in python
             for line in family_comparisons(path.read_text(), names, str(path.relative_to(ROOT)))]
    found += [line for path in other
              for line in snakemake_family_comparisons(path.read_text(), names, str(path.relative_to(ROOT)))]
    assert found == [], "ask the family (transcendence.families) instead:\n" + "\n".join(found)


@pytest.mark.parametrize("source", [
    'if family == "board":\n    pass\n',
    'x = "text" != model.family\n',
    'ok = name in ("text", "board")\n',
    'EXT = {"text": "bin", "board": "pos"}[name]\n',
    'match name:\n    case "board":\n        pass\n',
])
def test_the_seam_check_finds_a_family_comparison(source):
    assert family_comparisons(source, {"text", "board"}, "f.py")


@pytest.mark.parametrize("source", [
    'row = c["board"]\n',
    'meta = {"family": "board", "seed": 1}\n',
    'candidate = {"pos": 1, "board": b}\n',
    'if mode == "legal_moves":\n    pass\n',
])
def test_the_seam_check_leaves_other_strings_alone(source):
    assert family_comparisons(source, {"text", "board"}, "f.py") == []


def test_the_seam_check_reads_snakemake_files():
    names = {"text", "board"}
    assert snakemake_family_comparisons('EXT = {"text": "bin", "board": "pos"}[x]\n', names, "c.smk")
    assert snakemake_family_comparisons('{% if config["model"]["family"] == "board" %}\n', names, "w.rst")
    assert snakemake_family_comparisons('x = 1  # "board" == family in a comment\n', names, "c.smk") == []
