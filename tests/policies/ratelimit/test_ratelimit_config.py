from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.policies import REGISTRY
from gateway.policies.rate_limit import RateLimitConfig, RateLimitPolicy


def errors(**options) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as info:
        RateLimitConfig(**options)
    return [(error["loc"], error["msg"]) for error in info.value.errors()]


def test_registered_under_its_yaml_name():
    assert REGISTRY["rate_limit"] is RateLimitPolicy


def test_accepts_the_documented_forms():
    config = RateLimitConfig(
        limits=["20/second", "1000/hour", "5/10minutes;burst=10", "100/day"],
        key=["consumer", "header:X-Tenant"],
        on_backend_error="local",
    )
    assert config.timeout_ms == 50 and config.on_backend_error == "local"
    assert RateLimitConfig(limits=["5/minute"]).key == "consumer"
    assert RateLimitConfig(limits=["5/minute"]).on_backend_error == "allow"


@pytest.mark.parametrize("bad", ["20/sec0nd", "20", "twenty/second", "5/week", "0/second",
                                 "5/ms", "5/second;burst=0", "5/second;bust=9", ""])
def test_a_bad_limit_string_is_named_with_the_expected_syntax(bad):
    [(loc, message)] = errors(limits=["10/second", bad])
    assert loc == ("limits",)
    assert repr(bad) in message or "at least 1" in message
    assert "second, minute, hour or day" in message or "at least 1" in message


def test_limits_are_required_and_windows_unique():
    assert errors(limits=[])[0][0] == ("limits",)
    [(_, message)] = errors(limits=["10/second", "100/1s;burst=200"])
    assert "1s" in message


@pytest.mark.parametrize("key", ["cookie", "header:", "header:Bad Name", ["ip", "ip"], [], "IP"])
def test_a_bad_key_is_refused(key):
    [(loc, message)] = errors(limits=["1/second"], key=key)
    assert loc == ("key",)
    assert "consumer, ip, route or header" in message or "each once" in message


def test_unknown_options_and_modes_are_errors():
    assert errors(limits=["1/second"], on_backend_error="ignore")[0][0] == ("on_backend_error",)
    assert errors(limits=["1/second"], timeout_ms=0)[0][0] == ("timeout_ms",)
    assert errors(limits=["1/second"], limit="1/second")[0][0] == ("limit",)
