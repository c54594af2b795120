"""Typed configuration: nested dataclasses, strict dict round trip, ``key=value`` overrides.

Every hyperparameter is a dataclass field named once; a run directory and every checkpoint
store ``config_to_dict(cfg)`` so a run can be understood and rebuilt from its files alone.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from infoscrub.errors import InfoscrubError

T = TypeVar("T")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain, JSON-safe dict of a (nested) dataclass config."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a parsed value (from JSON/TOML or a command-line string) to ``annotation``."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise InfoscrubError(f"config {where}: expected a table of settings")
        return config_from_dict(annotation, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _coerce(value, args[0], where)
    if origin in (list, tuple):
        (item_type, *_) = typing.get_args(annotation) or (str,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise InfoscrubError(f"config {where}: expected a list, got {value!r}")
        items = [_coerce(v, item_type, where) for v in value]
        return items if origin is list else tuple(items)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise InfoscrubError(f"config {where}: expected true/false, got {value!r}")
    if annotation in (int, float):
        try:
            if annotation is int and isinstance(value, str):
                return int(float(value)) if "e" in value.lower() else int(value)
            converted = annotation(value)
        except (TypeError, ValueError):
            raise InfoscrubError(
                f"config {where}: expected {annotation.__name__}, got {value!r}"
            ) from None
        if annotation is int and isinstance(value, float) and value != converted:
            raise InfoscrubError(f"config {where}: expected an integer, got {value!r}")
        return converted
    if annotation is str:
        return str(value)
    return value


def config_from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build ``cls`` from a dict; unknown keys are an error (a typo must not be ignored)."""
    types_ = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        prefix = f"{where}." if where else ""
        raise InfoscrubError(
            f"unknown config key {prefix}{unknown[0]}; valid keys here: {', '.join(sorted(names))}"
        )
    kwargs = {
        name: _coerce(value, types_[name], f"{where}.{name}" if where else name)
        for name, value in data.items()
    }
    return cls(**kwargs)


def apply_overrides(cfg: T, overrides: Iterable[str]) -> T:
    """Return a copy of ``cfg`` with ``section.key=value`` strings applied."""
    data = dataclasses.asdict(cfg)
    for item in overrides:
        if "=" not in item:
            raise InfoscrubError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        node: dict[str, Any] = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise InfoscrubError(f"unknown config section {part!r} in override {item!r}")
            node = node[part]
        if parts[-1] not in node:
            raise InfoscrubError(
                f"unknown config key {key!r}; valid keys here: {', '.join(sorted(node))}"
            )
        node[parts[-1]] = raw
    return config_from_dict(type(cfg), data)


def load_config_file(cls: type[T], path: str | Path) -> T:
    """Read a JSON or TOML file into ``cls`` (missing keys keep their defaults)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InfoscrubError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InfoscrubError(f"config file {path} is not valid: {exc}") from None
    return merge_into(cls(), data)


def merge_into(cfg: T, data: dict[str, Any]) -> T:
    """Overlay a (partial) nested dict onto an existing config."""
    base = dataclasses.asdict(cfg)

    def merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
        for key, value in src.items():
            if isinstance(value, dict) and isinstance(dst.get(key), dict):
                merge(dst[key], value)
            else:
                dst[key] = value

    merge(base, data)
    return config_from_dict(type(cfg), base)
