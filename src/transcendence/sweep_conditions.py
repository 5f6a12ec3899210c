"""A sweep's conditions: each one the sweep file's own configuration with its overrides on top.

A sweep config is a full configuration plus a ``sweep:`` section naming its conditions; each
condition's overrides are deep-merged over the rest of the file (mappings merge key by key,
lists and scalars replace), and the merged configuration must pass the same start-up check as
any configuration, so a bad override stops the run before any job, naming its condition.
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
    condition); then each condition, and a :class:`ConfigError` names the one that fails.
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
    return merged
