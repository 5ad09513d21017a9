"""The verified-token cache: bounded, keyed by digest, never past exp - margin."""

from __future__ import annotations

from gateway.auth.token_cache import TokenCache
from tests.policies.auth.helpers import Clock


def test_entries_expire_shortly_before_exp():
    clock = Clock(1000)
    cache: TokenCache[str] = TokenCache(10, margin=5, max_age=300, clock=clock)
    cache.put("token", "identity", exp=1060)

    clock.advance(54)
    assert cache.get("token") == "identity"
    clock.advance(1)
    assert cache.get("token") is None and len(cache) == 0


def test_entries_never_outlive_max_age():
    clock = Clock(1000)
    cache: TokenCache[str] = TokenCache(10, margin=5, max_age=300, clock=clock)
    cache.put("token", "identity", exp=1000 + 86_400)

    clock.advance(300)
    assert cache.get("token") is None


def test_a_token_expiring_within_the_margin_is_not_cached():
    cache: TokenCache[str] = TokenCache(10, margin=5, clock=Clock(1000))
    cache.put("token", "identity", exp=1004)

    assert len(cache) == 0


def test_least_recently_used_goes_first_when_full():
    cache: TokenCache[str] = TokenCache(2, clock=Clock(1000))
    cache.put("a", "A", exp=2000)
    cache.put("b", "B", exp=2000)
    cache.get("a")
    cache.put("c", "C", exp=2000)

    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    assert len(cache) == 2


def test_tokens_are_not_stored():
    cache: TokenCache[str] = TokenCache(10, clock=Clock(1000))
    cache.put("eyJ.secret.token", "identity", exp=2000)

    assert all(len(key) == 32 for key in cache._entries)
