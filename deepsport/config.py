"""Typed job configs: a dataclass, filled from YAML, then from dot-list ``key.sub=value`` overrides.

``load_config(DistillConfig, "configs/distill.yaml", ["teacher.concurrency=16"])`` builds nested dataclasses,
checks every value against its type hint and fails with one line naming the key on an unknown key or a
value of the wrong type. Override values are read as YAML (``x=3`` is an int, ``x=[a,b]`` a list).

Presets: a dataclass with a ``PRESETS`` mapping (name → partial settings) accepts a ``preset`` key in its
section; the preset gives the section's starting values and the keys written next to it win
(``agent: {preset: baseline, initial_frames: 12}``). On the command line ``agent.preset=baseline`` starts the
section afresh from the preset (the file's keys of that section are dropped); later overrides apply on top.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

T = TypeVar("T")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class ConfigError(ValueError):
    """A config file or override that does not fit the config's dataclass; one line naming the key."""


def load_config(
    cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = (), section: str | None = None
) -> T:
    """An instance of dataclass `cls` from the YAML file at `path` (optional) and `key.sub=value` overrides;
    with `section`, from that top-level key of the file (``section="agent"``: a job config's agent)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {' '.join(str(err).split())}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of settings, not {type(loaded).__name__}")
        data = loaded or {}
        if section is not None:
            if section not in data:
                raise ConfigError(f"{path} has no {section}: section")
            data = data[section] or {}
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: {section} must be a mapping of settings")
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {override!r} must look like key.sub=value")
        _set(data, key.strip().split("."), yaml.safe_load(raw) if raw.strip() else "")
    return from_dict(cls, data)


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass `cls` from a mapping, recursively, type-checking each value."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where.rstrip('.') or 'config'} must be a mapping, got {data!r}")
    presets = getattr(cls, "PRESETS", None)
    if presets is not None and "preset" in data:
        data = dict(data)
        name = data.pop("preset")
        if name is not None:  # preset: null is no preset
            if name not in presets:
                raise ConfigError(f"{where}preset must be one of {', '.join(map(repr, presets))}, got {name!r}")
            data = merge(presets[name], data)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key {where + unknown[0]!r}; known keys here: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {name: _convert(hints[name], value, where + name) for name, value in data.items()}
    return cls(**values)


def to_dict(config: Any) -> dict[str, Any]:
    """The plain-data form of a config (for logs and records)."""
    return dataclasses.asdict(config)


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`base` with `top`'s values on top, mappings merged key by key."""
    merged = dict(base)
    for key, value in top.items():
        inner = merged.get(key)
        merged[key] = merge(inner, value) if isinstance(inner, dict) and isinstance(value, dict) else value
    return merged


def _set(data: dict[str, Any], keys: list[str], value: Any) -> None:
    if keys[-1] == "preset":  # a preset on the command line starts its section afresh
        keys, value = keys[:-1], {"preset": value}
        if not keys:
            data.clear()
            data.update(value)
            return
    for key in keys[:-1]:
        data = data.setdefault(key, {})
        if not isinstance(data, dict):
            raise ConfigError(f"cannot set {'.'.join(keys)}: {key} is not a section")
    data[keys[-1]] = value


def _convert(hint: Any, value: Any, where: str) -> Any:
    """`value` checked against type `hint` (ints accepted for floats, nested dataclasses built)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where + ".")  # type: ignore[arg-type]
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else Any
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        item = args[1] if len(args) == 2 else Any
        return {k: _convert(item, v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        return float(value)  # YAML reads 3e-3 (no dot) as a string
    if hint is Path and isinstance(value, str):
        return Path(value)
    if isinstance(hint, type) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    name = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"{where} must be {name}, got {value!r}")
