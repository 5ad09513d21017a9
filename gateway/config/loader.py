"""Load ``gateway.yaml``: read, expand ``${VAR}``, validate, and say exactly what is wrong.

Every problem is reported with the file, the key path and the reason, all at once, so
an operator fixes a broken file in one pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config.models import GatewayConfig

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` are (key path, reason) pairs."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.file}: {path or '<root>'}: {reason}" for path, reason in self.problems]
        return "\n".join(lines)


def load_config(file: str | os.PathLike[str], env: Mapping[str, str] | None = None):
    """Parse, expand and validate a config file; returns (config, validated policies)."""
    name = str(file)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(name, [("", f"cannot read file: {getattr(exc, 'strerror', None) or exc}")]) from None
    return load_config_text(text, name, env)


def load_config_text(text: str, name: str = "<config>", env: Mapping[str, str] | None = None):
    """The same as ``load_config`` for text already read."""
    from gateway.config.policies import validate_policies

    raw = _parse_yaml(text, name)
    problems: list[tuple[str, str]] = []
    expanded = _expand(raw, env if env is not None else os.environ, "", problems)
    if problems:
        raise ConfigError(name, problems)
    try:
        config = GatewayConfig.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(name, [(_key_path(e["loc"]), _reason(e)) for e in exc.errors()])
    problems = _check_references(config)
    policies = validate_policies(config, problems)
    if problems:
        raise ConfigError(name, problems)
    return config, policies


def _parse_yaml(text: str, name: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(name, [(where, f"invalid YAML: {reason}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(name, [("", "the file must contain a mapping at the top level")])
    # Top-level ``x-`` keys are extension fields (as in compose files): anchors to reuse.
    return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}


def _expand(value: Any, env: Mapping[str, str], path: str, problems: list) -> Any:
    if isinstance(value, str):
        return _expand_string(value, env, path, problems)
    if isinstance(value, dict):
        return {k: _expand(v, env, _join(path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    return value


def _expand_string(text: str, env: Mapping[str, str], path: str, problems: list) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        problems.append((path, f"environment variable {name} is not set and has no default"))
        return ""

    return _VAR.sub(substitute, text)


def _check_references(config: GatewayConfig) -> list[tuple[str, str]]:
    problems = []
    for i, route in enumerate(config.routes):
        if route.upstream not in config.upstreams:
            known = ", ".join(sorted(config.upstreams))
            problems.append(
                (f"routes[{i}].upstream", f"unknown upstream {route.upstream!r} (known: {known})")
            )
    return problems


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _key_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _reason(error: dict) -> str:
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "extra_forbidden":
        return "unknown key (check for a typo)"
    return message
