"""Validate each route's policy list against the policies' own config models."""

from __future__ import annotations

from pydantic import ValidationError

from gateway.config.loader import _key_path, _reason
from gateway.config.models import GatewayConfig
from gateway.policies import REGISTRY, PolicyConfig

#: route index -> [(policy name, validated options)]
ValidatedPolicies = dict[int, list[tuple[str, PolicyConfig]]]


def validate_policies(config: GatewayConfig, problems: list[tuple[str, str]]) -> ValidatedPolicies:
    validated: ValidatedPolicies = {}
    for i, route in enumerate(config.routes):
        validated[i] = []
        for j, entry in enumerate(route.policies):
            ((name, options),) = entry.items()
            where = f"routes[{i}].policies[{j}]"
            policy = REGISTRY.get(name)
            if policy is None:
                known = ", ".join(sorted(REGISTRY))
                problems.append((where, f"unknown policy {name!r} (known: {known})"))
                continue
            try:
                validated[i].append((name, policy.Config.model_validate(options or {})))
            except ValidationError as exc:
                for error in exc.errors():
                    path = _key_path((name, *error["loc"]))
                    problems.append((f"{where}.{path}", _reason(error)))
    return validated
