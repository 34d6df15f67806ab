"""Third-party propagators as a peer for traceweave's formats.

  propagators.py inject FORMAT TRACE_ID_HEX SPAN_ID_HEX SAMPLED BAGGAGE_JSON
      prints the headers the peer writes for that context, as JSON
  propagators.py extract FORMAT < headers.json
      prints what the peer reads: {"trace_id", "span_id", "sampled", "baggage"} (ids in hex,
      null when it found no valid context)

FORMAT: tracecontext, baggage, b3, b3multi, jaeger (OpenTelemetry Python SDK), jaeger-client
(the legacy Jaeger client), sw8 (the Apache SkyWalking Python agent).
"""
import json
import sys


def otel_propagator(fmt):
    if fmt == "tracecontext":
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        return TraceContextTextMapPropagator()
    if fmt == "baggage":
        from opentelemetry.baggage.propagation import W3CBaggagePropagator
        return W3CBaggagePropagator()
    if fmt == "b3":
        from opentelemetry.propagators.b3 import B3SingleFormat
        return B3SingleFormat()
    if fmt == "b3multi":
        from opentelemetry.propagators.b3 import B3MultiFormat
        return B3MultiFormat()
    if fmt == "jaeger":
        from opentelemetry.propagators.jaeger import JaegerPropagator
        return JaegerPropagator()
    return None


def inject(fmt, trace_id, span_id, sampled, bag):
    headers = {}
    if fmt == "jaeger-client":
        from jaeger_client.codecs import TextCodec
        from jaeger_client.span_context import SpanContext
        ctx = SpanContext(trace_id=trace_id, span_id=span_id, parent_id=None,
                          flags=1 if sampled else 0, baggage=bag)
        TextCodec(url_encoding=True).inject(ctx, headers)
        return headers
    if fmt == "sw8":
        from skywalking.trace.carrier import Carrier
        sw_trace = trace_id if isinstance(trace_id, str) else format(trace_id, "032x")
        carrier = Carrier(trace_id=sw_trace, segment_id=format(span_id, "016x"),
                          span_id="0", service="python-peer", service_instance="peer-1",
                          endpoint="/peer", client_address="127.0.0.1:1", correlation=bag or None)
        for item in carrier:
            if item.val:
                headers[item.key] = item.val
        return headers
    from opentelemetry import baggage, trace
    from opentelemetry.context import Context
    ctx = Context()
    sc = trace.SpanContext(trace_id=trace_id, span_id=span_id, is_remote=False,
                           trace_flags=trace.TraceFlags(1 if sampled else 0))
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(sc), ctx)
    for k, v in bag.items():
        ctx = baggage.set_baggage(k, v, ctx)
    otel_propagator(fmt).inject(headers, context=ctx)
    return headers


def extract(fmt, headers):
    if fmt == "jaeger-client":
        from jaeger_client.codecs import TextCodec
        try:
            ctx = TextCodec(url_encoding=True).extract(headers)
        except Exception:
            ctx = None
        if ctx is None or not ctx.trace_id:
            return {"trace_id": None, "span_id": None, "sampled": None,
                    "baggage": dict(ctx.baggage) if ctx else {}}
        return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x"),
                "sampled": bool(ctx.flags & 1), "baggage": dict(ctx.baggage or {})}
    if fmt == "sw8":
        from skywalking.trace.carrier import Carrier
        carrier = Carrier()
        for item in carrier:
            if item.key in headers:
                item.val = headers[item.key]
        if not carrier.is_valid:
            return {"trace_id": None, "span_id": None, "sampled": None,
                    "baggage": carrier.correlation_carrier.correlation}
        return {"trace_id": carrier.trace_id, "span_id": carrier.segment_id,
                "sampled": headers.get("sw8", "").startswith("1-"),
                "parent_span": carrier.span_id, "service": carrier.service,
                "baggage": carrier.correlation_carrier.correlation}
    from opentelemetry import baggage, trace
    ctx = otel_propagator(fmt).extract(headers)
    sc = trace.get_current_span(ctx).get_span_context()
    out = {"trace_id": None, "span_id": None, "sampled": None,
           "baggage": {k: str(v) for k, v in baggage.get_all(ctx).items()}}
    if sc.is_valid:
        out.update(trace_id=format(sc.trace_id, "032x"), span_id=format(sc.span_id, "016x"),
                   sampled=sc.trace_flags.sampled, trace_state=sc.trace_state.to_header())
    return out


def main():
    cmd, fmt = sys.argv[1], sys.argv[2]
    if cmd == "inject":
        # A SkyWalking trace id may be any string: pass it through when it is not hex.
        raw_trace = sys.argv[3]
        trace_id = raw_trace if "." in raw_trace else int(raw_trace, 16)
        span_id = int(sys.argv[4], 16)
        sampled = sys.argv[5] == "1"
        bag = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
        print(json.dumps(inject(fmt, trace_id, span_id, sampled, bag)))
    elif cmd == "extract":
        print(json.dumps(extract(fmt, json.load(sys.stdin))))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
