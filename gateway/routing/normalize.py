"""Path normalisation: one canonical path for matching, policies and the upstream.

From the raw request target (bytes, as the client sent it):
1. only visible ASCII is allowed; ``%XX`` must be well formed;
2. percent-encoded unreserved characters are decoded (``%7E`` -> ``~``, ``%2e`` -> ``.``),
   other escapes are kept with upper-case hex;
3. encoded ``/``, ``\\`` and NUL (``%2F``, ``%5C``, ``%00``), and a literal ``\\``, are
   refused: they mean different paths to different servers;
4. duplicate slashes are merged (setting ``gateway.merge_slashes``);
5. dot segments are removed (RFC 3986 section 5.2.4); a path climbing above the root
   is refused.
The result is still percent-encoded, so it can be sent upstream as it is.
"""

from __future__ import annotations

import re

from gateway.errors import BadRequest

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_FORBIDDEN_ESCAPES = {"2F", "5C", "00"}
_NEEDS_WORK = re.compile(rb"%|//|/\.|\\")
_VISIBLE_ASCII = re.compile(rb"^/[\x21-\x7e]*$")
_ESCAPE = re.compile(r"%(..)?")


class UnsafePath(BadRequest):
    default_detail = "The request path is not valid."


def normalize_path(raw: bytes, merge_slashes: bool = True) -> str:
    """The canonical form of a raw request path (no query string)."""
    if not _VISIBLE_ASCII.match(raw):
        raise UnsafePath(reason="path_characters")
    if not _NEEDS_WORK.search(raw):
        return raw.decode("ascii")
    if b"\\" in raw:
        raise UnsafePath(reason="path_backslash")
    path = _decode_unreserved(raw.decode("ascii"))
    if merge_slashes:
        path = re.sub("/{2,}", "/", path)
    return _remove_dot_segments(path)


def _decode_unreserved(path: str) -> str:
    def fix(match: re.Match[str]) -> str:
        hexpair = (match.group(1) or "").upper()
        if len(hexpair) != 2 or not all(c in "0123456789ABCDEF" for c in hexpair):
            raise UnsafePath(reason="path_bad_escape")
        if hexpair in _FORBIDDEN_ESCAPES:
            raise UnsafePath(reason="path_encoded_separator")
        byte = int(hexpair, 16)
        return chr(byte) if byte in _UNRESERVED else "%" + hexpair

    return _ESCAPE.sub(fix, path)


def _remove_dot_segments(path: str) -> str:
    output: list[str] = []
    segments = path.split("/")[1:]
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if not output:
                raise UnsafePath(reason="path_above_root")
            output.pop()
            continue
        output.append(segment)
    if segments and segments[-1] in (".", ".."):
        output.append("")  # "/a/b/.." is the directory "/a/"
    return "/" + "/".join(output)
