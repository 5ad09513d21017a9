"""The ``ip_filter`` policy: allow or deny clients by address (CIDR lists), per route.

```yaml
- ip_filter: {allow: [10.0.0.0/8, "2001:db8::/32"], deny: [10.0.13.0/24]}
```

The address is ``ctx.client_ip``: the peer, or what a *trusted* proxy says in
``X-Forwarded-For`` (``gateway.trusted_proxies`` / ``GATEWAY_TRUSTED_PROXIES``), so a
client cannot pick its own address. ``deny`` wins over ``allow``; with an ``allow`` list
everything else is refused; with only ``deny`` everything else passes. An IPv4-mapped
IPv6 address (``::ffff:10.0.0.1``) is checked as its IPv4 address, and an address that
cannot be parsed is refused. Refusal: 403 problem+json.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from gateway.config.models import Networks
from gateway.errors import Forbidden
from gateway.net import Network, parse_networks
from gateway.policies.base import STRICT, Policy, PolicyConfig, Services, register

if TYPE_CHECKING:
    from gateway.context import RequestContext


class IpFilterConfig(PolicyConfig):
    model_config = STRICT
    allow: Networks = Field(
        default_factory=list,
        description="CIDRs (or addresses) allowed; when set, every other client is refused.",
    )
    deny: Networks = Field(
        default_factory=list, description="CIDRs (or addresses) refused; wins over allow."
    )

    @model_validator(mode="after")
    def _something(self) -> IpFilterConfig:
        if not self.allow and not self.deny:
            raise ValueError("ip_filter needs an allow or a deny list")
        return self


@register
class IpFilterPolicy(Policy):
    name = "ip_filter"
    Config = IpFilterConfig
    config: IpFilterConfig

    def __init__(self, config: IpFilterConfig, *, route_name: str, services: Services) -> None:
        super().__init__(config, route_name=route_name, services=services)
        self.allow = parse_networks(config.allow)
        self.deny = parse_networks(config.deny)

    def permits(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if _within(ip, self.deny):
            return False
        return not self.allow or _within(ip, self.allow)

    async def on_request(self, ctx: RequestContext) -> None:
        if not self.permits(ctx.client_ip):
            raise Forbidden("Your address may not use this route.", reason="ip_filter")
        return None


def _within(ip, networks: tuple[Network, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)
