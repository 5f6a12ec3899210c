"""Start-up checks of the configuration: schema errors in one line, rules across keys, the engine.

The Snakefile calls these before any job, so a mistake that would otherwise surface hours
later (a model whose width is no multiple of its heads fails in ``train``, after games,
filter and dataset; an engine path that does not exist fails in the first job that plays)
stops the run at once, naming the key. jsonschema's own message for an unknown key prints
the whole schema (about a thousand lines); :func:`check_schema` says the key and the keys
allowed there instead. The package never imports Snakemake: errors are :class:`ConfigError`,
which the Snakefile turns into Snakemake's.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

import jsonschema
import yaml

from .families import FAMILIES  # the families' names and rules: no torch at start-up
from .play.openings import OpeningSuite  # python-chess alone: no torch at start-up

ENGINE_TIMEOUT = 10.0  # seconds an engine gets to answer "uci" at start-up
_MAX_ERRORS = 10        # schema errors listed, one line each


class ConfigError(ValueError):
    """The configuration cannot run; the message names the key and what is wrong."""


def _where(path: Sequence[Any]) -> str:
    """``evaluate.opponents[1].limit`` for jsonschema's path ``["evaluate", "opponents", 1, "limit"]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the top level"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def schema_error_line(error: jsonschema.ValidationError) -> str:
    """One line for one schema error: where, what, and for an unknown key the keys allowed."""
    where = _where(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        schema = error.schema
        allowed = sorted(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        unknown = sorted(str(key) for key in error.instance
                         if key not in allowed and not any(re.search(p, str(key)) for p in patterns))
        if unknown:
            keys = ", ".join(repr(key) for key in unknown)
            what = (f"unknown key{'s' if len(unknown) > 1 else ''} {keys}; allowed: {', '.join(allowed)}"
                    if allowed else f"unknown key{'s' if len(unknown) > 1 else ''} {keys}")
            if patterns:
                what += f" (or keys matching {', '.join(patterns)})"
            return f"{where}: {what}"
    described = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    # The key's description says what is expected, where jsonschema's message only says what failed.
    return f"{where}: {_short(error.message)}" + (f" ({_short(' '.join(str(described).split()))})" if described else "")


def _nonfinite_numbers(value: Any, path: Sequence[Any] = ()) -> list[str]:
    """One line per number in ``value`` that is NaN or infinite, naming its key.

    JSON Schema cannot say "finite": YAML's ``.nan`` passes every ``minimum`` and ``maximum``
    (each comparison with NaN is false) and ``.inf`` every ``minimum``, and a temperature of
    NaN then fails as a missing ``Tnan`` file, a learning rate of NaN inside torch.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{_where(path)}: {value} is not a finite number"]
    if isinstance(value, Mapping):
        return [line for key, item in value.items() for line in _nonfinite_numbers(item, [*path, key])]
    if isinstance(value, (list, tuple)):
        return [line for i, item in enumerate(value) for line in _nonfinite_numbers(item, [*path, i])]
    return []


def check_schema(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every schema error of ``config``, one line each,
    and every number that is not finite."""
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(dict(config)),
                    key=lambda e: (list(map(str, e.absolute_path)), e.message))
    lines = _nonfinite_numbers(config) + [schema_error_line(e) for e in errors]
    if lines:
        more = f"\n  ... and {len(lines) - _MAX_ERRORS} more" if len(lines) > _MAX_ERRORS else ""
        lines = lines[:_MAX_ERRORS]
        raise ConfigError(f"config validation failed ({Path(schema_path).name}):\n  "
                          + "\n  ".join(dict.fromkeys(lines)) + more)


def cross_key_problems(config: Mapping[str, Any]) -> list[str]:
    """Rules that involve more than one key (the schema checks each key alone), one line each."""
    # The model family's own rules (its sizes, its modes, whether it trains data-parallel).
    family = FAMILIES.get(config.get("model", {}).get("family"))
    problems = family.config_problems(config) if family is not None else []
    train = dict(config.get("train", {}))
    sections = [("train", train)]
    for cap, override in sorted(config.get("train_overrides", {}).items(), key=lambda kv: str(kv[0])):
        if isinstance(override, Mapping) and {"gpus", "grad_accum"} & set(override):
            sections.append((f"train_overrides.{cap}", {**train, **override}))
    for name, section in sections:
        gpus, accum = section.get("gpus", 0), section.get("grad_accum", 1)
        if isinstance(gpus, int) and isinstance(accum, int) and gpus > 1 and accum % gpus:
            problems.append(f"{name}.grad_accum ({accum}) must be a multiple of {name}.gpus ({gpus}): "
                            f"each of the {gpus} processes computes grad_accum / gpus micro-batches a step")
    evaluate = config.get("evaluate", {})
    try:
        suite = OpeningSuite.from_config(evaluate.get("openings"))
    except ValueError as exc:
        problems.append(str(exc))
    else:
        games = evaluate.get("games")
        if not suite.is_start and isinstance(games, int) and games % 2:
            problems.append(f"evaluate.games ({games}) must be even with evaluate.openings.suite {suite.suite}: "
                            "each opening is played twice, the model White in one game and Black in the other")
    opponents = [o.get("name") for o in evaluate.get("opponents", [])]
    twice = sorted({n for n in opponents if opponents.count(n) > 1})
    if twice:
        problems.append(f"evaluate.opponents: names {twice} are used more than once (each names one results file)")
    sequential = config.get("rating", {}).get("sequential", {})
    if isinstance(sequential, Mapping) and not sequential.get("elo1", 1) > sequential.get("elo0", 0):
        problems.append(f"rating.sequential: elo1 ({sequential.get('elo1')}) must be above elo0 "
                        f"({sequential.get('elo0')}): H1 says the model is stronger than H0 does")
    if config.get("source") == "synthetic":
        synthetic = config.get("synthetic", {})
        names = [p.get("name") for p in synthetic.get("players", [])]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"synthetic.players: names {twice} are used more than once")
        anchor = synthetic.get("anchor")
        if anchor is not None and anchor not in names:
            problems.append(f"synthetic.anchor {anchor!r} is not one of synthetic.players {names}")
        if synthetic.get("games", 0) < synthetic.get("shards", 0):
            problems.append(f"synthetic.games ({synthetic.get('games')}) is fewer than synthetic.shards "
                            f"({synthetic.get('shards')}): a shard would hold no game")
    return problems


def check_config(config: Mapping[str, Any], schema_path: str | Path, *, engine: bool = True) -> None:
    """The start-up check: the schema, then every cross-key rule and (``engine``) the engine.

    Raises one :class:`ConfigError` listing every problem found, one line each; the
    cross-key rules and the engine are checked only once the schema holds.
    """
    check_schema(config, schema_path)
    problems = cross_key_problems(config)
    if engine and (problem := engine_problem(config["engine"])):
        problems.append(problem)
    if problems:
        raise ConfigError("config validation failed:\n  " + "\n  ".join(problems))


def engine_problem(name_or_path: str, timeout: float = ENGINE_TIMEOUT) -> str:
    """Why the configured engine cannot play ("" when it starts and answers ``uci``).

    One start, one ``uci``, one ``quit``: a tenth of a second for Stockfish, once per run.
    """
    from .engine.uci import EngineError, find_engine  # resolved exactly as the jobs resolve it

    try:
        exe = find_engine(name_or_path)
    except EngineError as exc:
        return f"engine: {exc}"
    try:
        proc = subprocess.run([exe], input="uci\nquit\n", capture_output=True, text=True,
                              timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired:
        return f"engine: {exe} did not answer 'uci' with 'uciok' within {timeout:g} s"
    except OSError as exc:
        return f"engine: {exe} cannot be started: {exc}"
    if "uciok" not in proc.stdout.split():
        said = _short(" ".join((proc.stdout + " " + proc.stderr).split()), 120)
        return (f"engine: {exe} is not a UCI engine: asked 'uci', it said "
                f"{repr(said) if said else 'nothing'} and exited with status {proc.returncode}, without 'uciok'")
    return ""
