from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import BadRequest
from gateway.routing.normalize import normalize_path
from gateway.routing.table import Route, RouteTable


@pytest.mark.parametrize("raw,expected", [
    (b"/api/orders", "/api/orders"),
    (b"/api//orders", "/api/orders"),
    (b"/api/admin/../orders", "/api/orders"),
    (b"/api/%2e%2e/orders", "/orders"),
    (b"/api/%2E/orders", "/api/orders"),
    (b"/api/./orders/.", "/api/orders/"),
    (b"/a/%7Euser", "/a/~user"),
    (b"/a/%41%62", "/a/Ab"),
    (b"/a/%c3%a9", "/a/%C3%A9"),
    (b"/a/%3f", "/a/%3F"),
])
def test_normalised_forms(raw, expected):
    assert normalize_path(raw) == expected


@pytest.mark.parametrize("raw,reason", [
    (b"/a/%2fb", "path_encoded_separator"),
    (b"/a/%5Cb", "path_encoded_separator"),
    (b"/a/%00", "path_encoded_separator"),
    (b"/a\\b", "path_backslash"),
    (b"/a/%zz", "path_bad_escape"),
    (b"/a/%4", "path_bad_escape"),
    (b"/..", "path_above_root"),
    (b"/a/../../b", "path_above_root"),
    (b"/a b", "path_characters"),
    (b"/\xc3\xa9", "path_characters"),
    (b"relative", "path_characters"),
])
def test_unsafe_paths_are_refused(raw, reason):
    with pytest.raises(BadRequest) as caught:
        normalize_path(raw)
    assert caught.value.reason == reason


def test_slashes_kept_when_merging_is_off():
    assert normalize_path(b"/a//b", merge_slashes=False) == "/a//b"


TABLE = RouteTable([
    Route(name=name, prefix=prefix, upstream=None)
    for name, prefix in [("root", "/"), ("api", "/api"), ("orders", "/api/orders"), ("admin", "/api/admin")]
])
SEGMENT = st.sampled_from(["api", "orders", "admin", "x", "ordersx", ".", "..", "", "~u", "AB"])
UNRESERVED = set(string.ascii_letters + string.digits + "-._~")


def encodings(path: str):
    """Equivalent spellings: unreserved characters percent-encoded, in either case."""
    return st.lists(st.booleans(), min_size=len(path), max_size=len(path)).map(
        lambda flags: "".join(
            f"%{ord(c):02x}" if flag and c in UNRESERVED else c for c, flag in zip(path, flags)
        )
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=6).map(lambda s: "/" + "/".join(s)).flatmap(
    lambda p: st.tuples(st.just(p), encodings(p))))
def test_any_equivalent_encoding_reaches_the_same_route(pair):
    plain, encoded = pair
    try:
        expected = normalize_path(plain.encode())
    except BadRequest:
        with pytest.raises(BadRequest):
            normalize_path(encoded.encode())
        return
    normalised = normalize_path(encoded.encode())
    assert normalised == expected
    assert TABLE.match(normalised, "GET", "", {}).name == TABLE.match(expected, "GET", "", {}).name
    assert "/../" not in normalised + "/" and "/./" not in normalised + "/"
