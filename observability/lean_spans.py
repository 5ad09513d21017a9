"""Spans for the gateway's hot path, recorded by the SDK's rules at a third of the cost.

The SDK's ``Tracer.start_span`` and its ``Span`` cost ~25 us per span (profiled on the
gateway: 51 us for the server and client span of one request, the largest part of
tracing every request). Most of it is machinery the gateway's two spans do not need: a
lock per call, attribute validation and ``BoundedAttributes`` on every set, tracer
self-metrics, and a ``ReadableSpan`` copy at the end. ``LeanTracer`` keeps what makes
the span the SDK's: the provider's sampler (``OTEL_TRACES_SAMPLER``), id generator,
resource, span limits (value length, attribute and event counts) and span processors.
Attribute values are not type-checked on the unlimited path, where the gateway sets strings
and integers; with a value-length limit set the SDK's ``BoundedAttributes`` holds them. A ``LeanSpan``
is an API ``Span`` (it can be made current; SDK spans started under it are its
children) and a ``ReadableSpan`` (every processor and exporter takes it as it is).

Not thread-safe: a span belongs to the request task that started it.
"""

from __future__ import annotations

import sys
import traceback
from time import time_ns
from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, StaticSampler, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (DEFAULT_TRACE_STATE, Link, NonRecordingSpan, SpanContext, SpanKind, Status,
                                 StatusCode, TraceFlags)

_UNSET = Status(StatusCode.UNSET)
_MAX_TRACE_ID = (1 << 128) - 1
_MAX_SPAN_ID = (1 << 64) - 1


def _new_context(fields: tuple) -> SpanContext:
    """``SpanContext(...)`` from its six fields, ``is_valid`` computed by the caller: the
    constructor's keyword handling and checks cost 0.2 us per span."""
    return tuple.__new__(SpanContext, fields)


_MISSING = object()
_RANDOM = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)


def _count(limit: int | None) -> int:
    return sys.maxsize if limit is None else limit  # None: no limit


def _decider(sampler) -> Callable[[SpanContext | None, int], bool] | None:
    """Whether ``sampler`` samples a span, from its parent (None for a new trace) and trace
    id, for the SDK's own samplers (``OTEL_TRACES_SAMPLER``): asking the sampler reads the
    context twice more and builds a ``SamplingResult`` per span. None for any other sampler."""
    decides = type(sampler).should_sample
    if decides is StaticSampler.should_sample:
        decision = sampler._decision
        if decision is Decision.RECORD_ONLY:  # recorded but not sampled: ask the sampler
            return None
        sampled = decision is Decision.RECORD_AND_SAMPLE
        return lambda parent, trace_id: sampled
    if decides is TraceIdRatioBased.should_sample:
        limit, bound = sampler.TRACE_ID_LIMIT, sampler.bound
        return lambda parent, trace_id: trace_id & limit < bound
    if decides is ParentBased.should_sample:
        deciders = [_decider(branch) for branch in (
            sampler._root, sampler._remote_parent_sampled, sampler._remote_parent_not_sampled,
            sampler._local_parent_sampled, sampler._local_parent_not_sampled)]
        if None in deciders:
            return None
        root, remote_sampled, remote_not_sampled, local_sampled, local_not_sampled = deciders

        def parent_based(parent: SpanContext | None, trace_id: int) -> bool:
            if parent is None:
                return root(parent, trace_id)
            if parent[2]:  # remote
                branch = remote_sampled if parent[3] & TraceFlags.SAMPLED else remote_not_sampled
            else:
                branch = local_sampled if parent[3] & TraceFlags.SAMPLED else local_not_sampled
            return branch(parent, trace_id)

        return parent_based
    return None


def parent_context(parent: SpanContext | None):
    """A context whose span is ``parent`` (none: a new trace), for APIs that read the parent
    from a context."""
    return trace.set_span_in_context(NonRecordingSpan(parent) if parent is not None else trace.INVALID_SPAN)


class LeanTracer:
    """``start_span`` like the SDK tracer's, for the provider ``setup()`` installed."""

    def __init__(self, provider: TracerProvider, name: str) -> None:
        self.sampler = provider.sampler
        self.decide = _decider(provider.sampler)
        self.ids = provider.id_generator
        self.resource = provider.resource
        self.processor = provider._active_span_processor  # every processor added, now or later
        self._seen: object = _MISSING
        self.starts: tuple[Callable, ...] = ()
        self.ends: tuple[Callable, ...] = ()
        self.refresh()
        self.scope = InstrumentationScope(name)
        limits = provider._span_limits
        self.max_length = limits.max_attribute_length
        self.max_attributes = _count(limits.max_span_attributes)
        self.max_events = _count(limits.max_events)
        self.max_event_attributes = _count(limits.max_event_attributes)
        self.random_ids = self.ids.is_trace_id_random()
        #: by [sampled][random trace id]
        self.flags = tuple(tuple(TraceFlags((TraceFlags.SAMPLED if sampled else 0) | (_RANDOM if random else 0))
                                 for random in (False, True)) for sampled in (False, True))

    def refresh(self) -> None:
        """The provider's processors, to be called directly: the SDK's multi-processor loop
        and a processor's no-op ``on_start`` are two Python calls per span each way. Its
        ``_span_processors`` tuple is replaced when a processor is added, so comparing it by
        identity finds additions (checked at each span's start and end); without one, the
        multi-processor is called."""
        processors = getattr(self.processor, "_span_processors", None)
        if processors is self._seen:
            return
        self._seen = processors
        if not isinstance(processors, tuple):
            processors = (self.processor,)
        self.starts = tuple(p.on_start for p in processors if type(p).on_start is not SpanProcessor.on_start)
        self.ends = tuple(p.on_end for p in processors)

    def start_span(self, name: str, context=None, kind: SpanKind = SpanKind.INTERNAL,
                   attributes: dict[str, Any] | None = None) -> trace.Span:
        if context is None:
            context = otel_context.get_current()
        return self.start(name, trace.get_current_span(context).get_span_context(), kind,
                          dict(attributes) if attributes else None, context)

    def start(self, name: str, parent: SpanContext | None, kind: SpanKind = SpanKind.INTERNAL,
              attributes: dict[str, Any] | None = None, context=None) -> trace.Span:
        """``start_span`` with the parent's span context given (None: a new trace), as the
        gateway knows it: reading it from the current context costs four calls a span. The
        span keeps ``attributes`` (not a copy): the caller gives it a dict of its own."""
        # a SpanContext is a tuple (trace id, span id, remote, flags, state, valid): read by
        # index, not through its properties, here as in the decider
        if parent is None or not parent[5]:
            parent = trace_state = None
            trace_id = self.ids.generate_trace_id()
            random = self.random_ids
        else:
            trace_id, _, _, flags, trace_state, _ = parent
            random = flags & _RANDOM
        if self.decide is not None:  # what the sampler would say, without asking it
            sampled = recording = self.decide(parent, trace_id)
        else:
            if context is None:  # start(): the sampler sees the given parent (none: a new trace)
                context = parent_context(parent)
            result = self.sampler.should_sample(context, trace_id, name, kind, attributes)
            sampled, recording = result.decision.is_sampled(), result.decision.is_recording()
            trace_state, attributes = result.trace_state, dict(result.attributes) if result.attributes else None
        span_id = self.ids.generate_span_id()
        span_context = _new_context((trace_id, span_id, False, self.flags[bool(sampled)][bool(random)],
                                     DEFAULT_TRACE_STATE if trace_state is None else trace_state,
                                     0 < trace_id <= _MAX_TRACE_ID and 0 < span_id <= _MAX_SPAN_ID))
        if not recording:
            return NonRecordingSpan(span_context)
        span = LeanSpan(self, name, span_context, parent, kind, attributes if attributes is not None else {})
        self.refresh()
        for on_start in self.starts:
            on_start(span, context)
        return span


class LeanSpan(trace.Span, ReadableSpan):
    # ReadableSpan's properties read these fields; its __init__ is not called (it would
    # build a default Resource).
    # what every span starts with, as class attributes: assigned on the instance only when
    # it changes (a new list on the first event), ~0.1 us per span less than assigning all
    _events: list[Event] | tuple = ()
    _links: tuple[Link, ...] = ()
    _status = _UNSET
    _instrumentation_info = None
    _end_time: int | None = None
    _dropped_attributes = 0
    _dropped_events = 0

    def __init__(self, tracer: LeanTracer, name: str, context: SpanContext, parent: SpanContext | None,
                 kind: SpanKind, attributes: dict[str, Any]) -> None:
        self._tracer = tracer
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._resource = tracer.resource
        self._instrumentation_scope = tracer.scope
        if tracer.max_length is not None or len(attributes) > tracer.max_attributes:
            # the SDK's own bounded mapping: truncation, eviction and validation as in the SDK
            self._attributes = BoundedAttributes(tracer.max_attributes, attributes, immutable=False,
                                                 max_value_len=tracer.max_length)
        self._start_time = time_ns()

    @property
    def dropped_attributes(self) -> int:
        if isinstance(self._attributes, BoundedAttributes):
            return self._attributes.dropped
        return self._dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._dropped_events

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: Any) -> None:
        if self._end_time is not None:
            return
        attributes = self._attributes
        if type(attributes) is not dict:  # BoundedAttributes: limits of its own
            attributes[key] = value
            return
        if attributes.pop(key, _MISSING) is _MISSING and len(attributes) >= self._tracer.max_attributes:
            self._dropped_attributes += 1  # the oldest goes, as in the SDK
            if not attributes:
                return
            del attributes[next(iter(attributes))]
        attributes[key] = value

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(self, name: str, attributes: dict[str, Any] | None = None, timestamp: int | None = None) -> None:
        if self._end_time is not None:
            return
        tracer = self._tracer
        if self._events.__class__ is tuple:
            self._events = []
        if len(self._events) >= tracer.max_events:
            self._dropped_events += 1  # the oldest goes, as in the SDK
            if not self._events:
                return
            del self._events[0]
        if attributes and (tracer.max_length is not None or len(attributes) > tracer.max_event_attributes):
            attributes = BoundedAttributes(tracer.max_event_attributes, attributes, max_value_len=tracer.max_length)
        self._events.append(Event(name, attributes, timestamp if timestamp is not None else time_ns()))

    def add_link(self, context: SpanContext, attributes: dict[str, Any] | None = None) -> None:
        if self._end_time is None and context.is_valid:
            self._links = (*self._links, Link(context, attributes))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK: OK is final, UNSET is ignored, a description only goes with ERROR."""
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if not isinstance(status, Status):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    def record_exception(self, exception: BaseException, attributes: dict[str, Any] | None = None,
                         timestamp: int | None = None, escaped: bool = False) -> None:
        kind = type(exception)
        module = kind.__module__
        self.add_event("exception", {
            "exception.type": f"{module}.{kind.__qualname__}" if module and module != "builtins" else kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
            **(attributes or {}),
        }, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time if end_time is not None else time_ns()
        tracer = self._tracer
        tracer.refresh()
        for on_end in tracer.ends:
            on_end(self)
