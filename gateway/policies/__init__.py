"""Built-in policies. Importing this package registers every one of them."""

from gateway.policies.base import REGISTRY, Policy, PolicyConfig, register  # noqa: F401
from gateway.policies import builtin  # noqa: F401,E402
