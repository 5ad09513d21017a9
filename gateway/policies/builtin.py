"""Imports every built-in policy module so that each registers itself."""

import importlib
import pkgutil

import gateway.policies as _pkg

_SKIP = {"base", "builtin", "pipeline"}

for _info in pkgutil.iter_modules(_pkg.__path__):
    if _info.name not in _SKIP and not _info.name.startswith("_"):
        importlib.import_module(f"gateway.policies.{_info.name}")
