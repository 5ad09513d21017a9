from __future__ import annotations

import pytest

from tests.support.gateway import GatewayProcess
from tests.support.net import free_port
from tests.support.upstream import Upstream


@pytest.fixture(scope="package")
def upstreams():
    started = [Upstream("a").start(), Upstream("b").start()]
    yield started
    for upstream in started:
        upstream.stop()


@pytest.fixture(scope="package")
def gateway(upstreams):
    a, b = upstreams
    closed = f"http://127.0.0.1:{free_port()}"
    config = {
        "upstreams": {
            "a": {"targets": [a.url], "timeouts": {"connect": 1.0, "read": 1.0}},
            "pair": {"targets": [a.url, b.url]},
            "down": {"targets": [closed]},
            "based": {"targets": [a.url + "/base/"]},
            "b": {"targets": [b.url]},
        },
        "routes": [
            {"name": "echo", "match": {"path_prefix": "/api/echo"}, "upstream": "a", "strip_prefix": "/api"},
            {"name": "orders-read", "match": {"path_prefix": "/api/orders", "methods": ["GET", "HEAD"]}, "upstream": "a"},
            {"name": "orders-item", "match": {"path_prefix": "/api/orders/special"}, "upstream": "a"},
            {"name": "raw", "match": {"path_prefix": "/raw"}, "upstream": "a", "strip_prefix": "/raw"},
            {"name": "host-kept", "match": {"path_prefix": "/keep-host"}, "upstream": "a", "preserve_host": True},
            {"name": "by-host", "match": {"path_prefix": "/hosted", "hosts": ["api.example.com"]}, "upstream": "b"},
            {"name": "balanced", "match": {"path_prefix": "/balanced"}, "upstream": "pair"},
            {"name": "down", "match": {"path_prefix": "/down"}, "upstream": "down"},
            {"name": "based", "match": {"path_prefix": "/based"}, "upstream": "based", "strip_prefix": "/based"},
        ],
    }
    with GatewayProcess(config) as process:
        yield process
