"""Finished SDK spans as a serialised OTLP ``ExportTraceServiceRequest``, written as bytes.

The official encoder (``opentelemetry-exporter-otlp-proto-common``) builds every attribute
as two messages that the protobuf runtime copies again into their parents; filling the
same ``opentelemetry-proto`` messages in place still cost 6.0 us per gateway span. Here
the wire format is written directly (spans are a handful of length-delimited fields) and
the encoding of a span name or an attribute whose value repeats from span to span
(method, route, upstream, status code) is kept and reused: 2.1 us per gateway span
(same machine, 64-span batches). ``tests/observability/test_span_encoding.py`` holds the output equal to the
official encoder's, message for message. A span with links or a value this module does
not write (an enum, a custom type) is encoded by the official encoder; a span neither can
encode is dropped, counted and logged, and the rest of its batch goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from struct import Struct
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.trace.v1.trace_pb2 import SpanFlags
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import DEFAULT_TRACE_STATE, SpanKind, StatusCode

from observability.lean_spans import _UNSET, LeanSpan

_LOCAL = SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_REMOTE = _LOCAL | SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
#: start (field 7) and end (field 8) times, both fixed64
_TIMES = Struct("<BQBQ").pack
#: the flags (field 16, fixed32), the last field of a span
_FLAGS = {flags: b"\x85\x01" + flags.to_bytes(4, "little") for flags in (_LOCAL, _REMOTE)}
_DOUBLE = Struct("<d").pack
_INT64 = 1 << 64
_MAX_CACHED_VALUES = 256  # distinct values of one key (a path, an id: not worth keeping)
_MAX_CACHED_LENGTH = 128  # characters of a string value kept

logger = logging.getLogger("observability.tracing")
dropped = 0  # spans that no encoder could write


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SHORT = [_varint(n) for n in range(16384)]


def _length(n: int) -> bytes:
    return _SHORT[n] if n < 16384 else _varint(n)


def _delimited(payload: bytes) -> bytes:
    return _length(len(payload)) + payload


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the length, the payload."""
    return tag + _length(len(payload)) + payload


def encode(spans: Sequence[ReadableSpan]) -> bytes:
    """Spans grouped by resource, then instrumentation scope, by value as the official
    encoder groups them. The groups are looked up only when a span's resource or scope
    object is not the previous span's (within a batch they rarely change)."""
    global dropped
    groups: dict[Any, dict[Any, list[bytes]]] = {}
    resource = scope = _NONE
    encoded: list[bytes] = []
    for span in spans:
        if span.__class__ is LeanSpan:  # its fields, not ReadableSpan's two properties
            span_resource, span_scope = span._resource, span._instrumentation_scope
        else:
            span_resource, span_scope = span.resource, span.instrumentation_scope
        if span_resource is not resource or span_scope is not scope:
            resource, scope = span_resource, span_scope
            encoded = groups.setdefault(resource, {}).setdefault(scope or None, [])
        try:
            encoded.append(_field(b"\x12", _span(span)))  # ScopeSpans.spans
        except Exception:  # noqa: BLE001 - a span neither encoder can write: lose it, not the batch
            dropped += 1
            if dropped == 1 or dropped % 1000 == 0:
                logger.warning("a span could not be encoded and was dropped (%d so far)", dropped, exc_info=True)
    out = []
    for resource, scopes in groups.items():
        parts = [_field(b"\x12", _scope_spans(scope, encoded)) for scope, encoded in scopes.items() if encoded]
        if not parts:
            continue
        parts.insert(0, _field(b"\x0a", _attributes(b"\x0a", resource.attributes)))  # ResourceSpans.resource
        if resource.schema_url:
            parts.append(_field(b"\x1a", resource.schema_url.encode()))
        out.append(_field(b"\x0a", b"".join(parts)))
    return b"".join(out)


_NONE = object()


def _scope_spans(scope, encoded: list[bytes]) -> bytes:
    """``ScopeSpans``: the scope (present even when empty, as in the official encoder),
    its spans, its schema URL."""
    body = b""
    if scope is not None:
        if scope.name:
            body += _field(b"\x0a", scope.name.encode())
        if scope.version:
            body += _field(b"\x12", scope.version.encode())
        body += _attributes(b"\x1a", scope.attributes)
    out = _field(b"\x0a", body) + b"".join(encoded)
    if scope is not None and scope.schema_url:
        out += _field(b"\x1a", scope.schema_url.encode())
    return out


def _span(span: ReadableSpan) -> bytes:
    """A serialised ``Span`` (the official encoder's for links or a value of a type this
    module does not write)."""
    if not (span._links if span.__class__ is LeanSpan else span.links):
        try:
            return _span_body(span)
        except (TypeError, ValueError, OverflowError):
            pass
    return _official(span)


def _span_body(span: ReadableSpan) -> bytes:
    if span.__class__ is LeanSpan:  # the gateway's spans: their fields, not the properties' copies
        context, parent, name, kind, attributes, events = (
            span._context, span._parent, span._name, span._kind, span._attributes, span._events)
        start, end, status = span._start_time, span._end_time, span._status
        dropped_events, dropped_links = span._dropped_events, 0  # links are only added whole
        dropped_attributes = attributes.dropped if attributes.__class__ is BoundedAttributes else span._dropped_attributes
    else:
        context, parent, name, kind, attributes, events = (
            span.context, span.parent, span.name, span.kind, span.attributes, span.events)
        start, end, status = span.start_time, span.end_time, span.status
        dropped_attributes, dropped_events, dropped_links = span.dropped_attributes, span.dropped_events, span.dropped_links
    # a SpanContext is a tuple: unpacked, not read through six properties
    trace_id, span_id, _, _, trace_state, _ = context
    parts = [b"\x0a\x10", trace_id.to_bytes(16, "big"), b"\x12\x08", span_id.to_bytes(8, "big")]
    if trace_state is not DEFAULT_TRACE_STATE and trace_state:
        parts.append(_field(b"\x1a", ",".join(f"{k}={v}" for k, v in trace_state.items()).encode()))
    if parent is not None:
        parts += (b"\x22\x08", parent[1].to_bytes(8, "big"))
    parts += (_name(name), _KIND[kind._value_], _TIMES(0x39, start, 0x41, end))
    if attributes:
        parts.append(_attributes(b"\x4a", attributes))
    if dropped_attributes:
        parts += (b"\x50", _varint(dropped_attributes))
    for event in events:
        parts.append(_field(b"\x5a", _event(event)))
    if dropped_events:
        parts += (b"\x60", _varint(dropped_events))
    if dropped_links:
        parts += (b"\x70", _varint(dropped_links))
    parts += (_STATUS_UNSET if status is _UNSET else _status(status),
              _FLAGS[_REMOTE if parent is not None and parent[2] else _LOCAL])
    return b"".join(parts)


#: kind (field 6) by the API enum's value: it starts at INTERNAL (0), OTLP's at UNSPECIFIED
_KIND = {kind.value: b"\x30" + bytes((kind.value + 1,)) for kind in SpanKind}
_names: dict[str, bytes] = {}


def _name(name: str) -> bytes:
    """The name field (5), kept for the few names a service gives its spans."""
    encoded = _names.get(name)
    if encoded is None:
        encoded = _field(b"\x2a", name.encode())
        if len(name) <= _MAX_CACHED_LENGTH:
            if len(_names) >= _MAX_CACHED_VALUES:
                _names.clear()
            _names[name] = encoded
    return encoded


def _event(event) -> bytes:
    name = event.name.encode()
    body = b"\x09" + event.timestamp.to_bytes(8, "little") + b"\x12" + _length(len(name)) + name
    if event.attributes:
        body += _attributes(b"\x1a", event.attributes)
    if event.dropped_attributes:
        body += b"\x20" + _varint(event.dropped_attributes)
    return body


def _status(status) -> bytes:
    """Field 15, present even when empty (the official encoder always sets it)."""
    if not status.description:
        return _STATUS[status.status_code]
    return _field(b"\x7a", _field(b"\x12", status.description.encode()) + _STATUS[status.status_code][2:])


_STATUS = {code: _field(b"\x7a", b"\x18" + _varint(code.value) if code.value else b"") for code in StatusCode}
_STATUS_UNSET = _STATUS[StatusCode.UNSET]


def _official(span: ReadableSpan) -> bytes:
    return encode_spans([span]).resource_spans[0].scope_spans[0].spans[0].SerializeToString()


# --- attributes -------------------------------------------------------------------------

#: per parent tag (span, event, scope, resource): the encoded ``KeyValue`` field (tag,
#: length, message) of an attribute, by its ``(key, value)`` item as ``items()`` gives it
#: (one lookup an attribute, no tuple built). Only int and short str values are kept, and
#: a hit counts only for those types: True == 1 and 1.0 == 1 find the same entry.
_caches: dict[bytes, dict[tuple[str, Any], bytes]] = {}
#: per parent tag, per key, how many of its values are kept (a key stops at the limit)
_distinct: dict[bytes, dict[str, int]] = {}
_MAX_CACHED = 4096  # entries per tag, all keys together


def _attributes(tag: bytes, attributes: Mapping[str, Any]) -> bytes:
    """Each attribute as a repeated ``KeyValue`` field with ``tag``."""
    if not attributes:
        return b""
    cache = _caches.get(tag)
    if cache is None:
        cache = _caches[tag] = {}
    parts = []
    for item in attributes.items():
        encoded = cache.get(item)
        if encoded is not None:
            kind = item[1].__class__
            if kind is str or kind is int:
                parts.append(encoded)
                continue
        parts.append(_attribute(tag, cache, item))
    return b"".join(parts)


def _attribute(tag: bytes, cache: dict, item: tuple[str, Any]) -> bytes:
    key, value = item
    encoded = tag + _delimited(_key_value(key, value))
    kind = value.__class__
    if kind is int or kind is str and len(value) <= _MAX_CACHED_LENGTH:
        distinct = _distinct.setdefault(tag, {})
        kept = distinct.get(key, 0)
        if kept < _MAX_CACHED_VALUES:
            if len(cache) >= _MAX_CACHED:
                cache.clear()
                distinct.clear()
                kept = 0
            cache[item] = encoded
            distinct[key] = kept + 1
    return encoded


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _any_value(value))


def _any_value(value: Any) -> bytes:
    kind = value.__class__
    if kind is str:
        return _field(b"\x0a", value.encode())
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is int:
        if not -(1 << 63) <= value < 1 << 63:
            raise OverflowError(f"{value} is out of the int64 range")
        return b"\x18" + _varint(value % _INT64)
    if kind is float:
        return b"\x21" + _DOUBLE(value)
    if value is None:
        return b""
    if kind is bytes:
        return _field(b"\x3a", value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join(_field(b"\x0a", _key_value(str(key), item)) for key, item in value.items()))
    raise TypeError(f"cannot encode {kind.__name__}")
