"""The upstream URL shortcut gives exactly what ``httpx.URL`` gives, for any path and query."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.proxy.upstreams import Target
from gateway.proxy.urls import UpstreamUrls

# every printable ASCII character, space, a control, and the pieces of dot segments
_PIECES = st.sampled_from([chr(c) for c in range(0x20, 0x7F)] + ["\t", "%2F", "/.", "/..", "é"])
_TEXT = st.lists(_PIECES, max_size=30).map("".join)
TARGETS = [("http", "127.0.0.1", 8080), ("https", "api.example.com", 443), ("http", "::1", 80),
           ("http", "bücher.example", 8000)]


def _as_httpx_builds_it(scheme: str, host: str, port: int, path: str, query: str | None):
    raw = path if query is None else f"{path}?{query}"
    try:
        return httpx.URL(scheme=scheme, host=host, port=port, raw_path=raw.encode("ascii"))
    except (httpx.InvalidURL, UnicodeEncodeError) as error:
        return type(error)


def _ours(urls: UpstreamUrls, path: str, query: str | None):
    try:
        return urls.url(path, query)
    except (httpx.InvalidURL, UnicodeEncodeError) as error:
        return type(error)


def _same(got, expected) -> None:
    if isinstance(expected, type):
        assert got is expected
        return
    assert str(got) == str(expected)
    assert (got.scheme, got.host, got.port, got.raw_path, got.query) == (
        expected.scheme, expected.host, expected.port, expected.raw_path, expected.query)
    assert got == expected and hash(got) == hash(expected)


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=300, deadline=None)
@given(path=_TEXT, query=st.none() | _TEXT)
@example(path="/a/./b", query=None)
@example(path="/a/b/..", query="x=%zz&y=\"")
@example(path="/p{1}`", query="#frag")
@example(path="/ok/path;v=1", query="a=1&b=%20")
def test_same_url_as_httpx(target, path, query):
    path = "/" + path
    urls = UpstreamUrls(*target)
    _same(_ours(urls, path, query), _as_httpx_builds_it(*target, path, query))


def test_target_url_keeps_the_base_path_and_encodes_invalid_query_bytes():
    target = Target.parse("http://10.0.0.5:9000/base/")
    url = target.url("/orders/7", b"q=a b&x=\xff")
    assert str(url) == "http://10.0.0.5:9000/base/orders/7?q=a%20b&x=%FF"
    assert str(target.url("/", b"")) == "http://10.0.0.5:9000/base/"
