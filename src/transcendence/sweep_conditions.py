"""A sweep's conditions: each one the sweep file's own configuration with its overrides on top.

A sweep config is a full configuration plus a ``sweep:`` section naming its conditions; each
condition's overrides are deep-merged over the rest of the file (mappings merge key by key,
lists and scalars replace), and the merged configuration must pass the same start-up check as
any configuration, so a bad override stops the run before any job, naming its condition.

A sweep whose conditions differ in ``seed`` alone is a replicate sweep (:func:`sweep_kind`):
told from the merged configurations themselves, so no key declares it and none can be wrong.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

from .config_check import ConfigError, check_config

SWEEP_KEY = "sweep"


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` on top: mappings merge recursively, anything else replaces.

    Neither argument is changed; the result shares no mutable value with them.
    """
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def condition_configs(config: Mapping[str, Any], schema_path: str | Path, *,
                      engine: bool = True) -> dict[str, dict[str, Any]]:
    """Each condition's configuration (the sweep section left out), checked, in file order.

    The file itself is checked first (its sweep section included, the engine with the first
    condition); then each condition, and a :class:`ConfigError` names the one that fails, or
    the one whose configuration is an earlier condition's (the same run twice: in a replicate
    sweep, a seed counted twice in "k of n").
    """
    check_config(config, schema_path, engine=False)
    base = {key: value for key, value in config.items() if key != SWEEP_KEY}
    conditions = config[SWEEP_KEY]["conditions"]
    merged: dict[str, dict[str, Any]] = {}
    for name, overrides in conditions.items():
        merged[name] = deep_merge(base, overrides or {})
        try:
            # The engine is the same program for every condition unless one overrides it.
            check_config(merged[name], schema_path, engine=engine and (name == next(iter(conditions))
                                                                       or "engine" in (overrides or {})))
        except ConfigError as exc:
            raise ConfigError(f"sweep condition {name!r}: {exc}") from None
        twin = next((other for other in merged if other != name and merged[other] == merged[name]), None)
        if twin is not None:
            raise ConfigError(f"sweep condition {name!r}: the same configuration as condition {twin!r} "
                              f"(seed {merged[name]['seed']}): give it another seed or other overrides")
    return merged


def sweep_kind(configs: Mapping[str, Mapping[str, Any]]) -> str:
    """``replicates`` when the sweep's conditions (:func:`condition_configs`, two or more) differ
    in ``seed`` alone, every other key of their merged configurations equal; else ``conditions``."""
    from .analysis.sweep import CONDITIONS_KIND, REPLICATES  # torch (players), so only in a sweep

    rest = [{key: value for key, value in config.items() if key != "seed"} for config in configs.values()]
    return REPLICATES if len(rest) > 1 and all(other == rest[0] for other in rest[1:]) else CONDITIONS_KIND
