"""A third-party producer of traces: the official OpenTelemetry Python SDK.

Two services (py-frontend, py-backend, each its own TracerProvider and resource) serve a few
requests: frontend server span -> client span -> backend server span -> a Redis client span,
one request failing in the backend, one slow, and a queue hop (producer -> consumer with a
span link). Spans go over OTLP/HTTP protobuf (the SDK's own exporter) to --otlp, and/or into
--jsonl as OTLP JSON lines (the SDK's own OTLP encoder, then protobuf's JSON mapping).

usage: otel_peer.py [--otlp http://127.0.0.1:4318] [--jsonl FILE] [--big N]
--big N adds one trace of N spans (for the waterfall's speed check) and prints its id.
"""
import argparse
import json
import time

from google.protobuf.json_format import MessageToDict
from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.propagate import inject, extract


class JsonLinesExporter(SpanExporter):
    def __init__(self, path):
        self.out = open(path, "a")

    def export(self, spans):
        self.out.write(json.dumps(MessageToDict(encode_spans(spans))) + "\n")
        self.out.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self):
        self.out.close()


def provider(service, args):
    p = TracerProvider(resource=Resource.create({"service.name": service, "service.version": "1.2.3"}))
    if args.otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=args.otlp.rstrip("/") + "/v1/traces"), max_queue_size=100000))
    if args.jsonl:
        p.add_span_processor(BatchSpanProcessor(JsonLinesExporter(args.jsonl)))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--otlp")
    ap.add_argument("--jsonl")
    ap.add_argument("--big", type=int, default=0)
    args = ap.parse_args()
    fp, bp = provider("py-frontend", args), provider("py-backend", args)
    front, back = fp.get_tracer("peer.frontend"), bp.get_tracer("peer.backend")

    def backend(headers, item):
        with back.start_as_current_span("GET /items/{id}", context=extract(headers), kind=SpanKind.SERVER,
                                        attributes={"http.route": "/items/{id}", "item.id": item}) as span:
            with back.start_as_current_span("GET", kind=SpanKind.CLIENT,
                                            attributes={"db.system": "redis", "db.operation": "GET"}):
                time.sleep(0.002)
            if item == "broken":
                span.record_exception(ValueError("no such item"))
                span.set_status(Status(StatusCode.ERROR, "no such item"))
                span.set_attribute("http.response.status_code", 500)
            if item == "slow":
                time.sleep(0.12)

    def request(item):
        with front.start_as_current_span("GET /shop", kind=SpanKind.SERVER,
                                         attributes={"http.route": "/shop", "shop.item": item}) as root:
            with front.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes={"server.address": "backend"}) as call:
                headers = {}
                inject(headers)
                backend(headers, item)
                if item == "broken":
                    call.set_status(Status(StatusCode.ERROR, "500"))
            if item == "broken":
                root.set_status(Status(StatusCode.ERROR))
            with front.start_as_current_span("orders publish", kind=SpanKind.PRODUCER,
                                             attributes={"messaging.system": "rabbitmq"}) as pub:
                produced = pub.get_span_context()
            return produced

    produced = [request(i) for i in ("book", "pen", "broken", "slow", "book")]
    # The consumer handles the last message in a trace of its own, linked to its producer.
    with back.start_as_current_span("orders process", kind=SpanKind.CONSUMER, context=context.Context(),
                                    links=[Link(produced[-1], {"messaging.batch": False})]):
        time.sleep(0.001)

    if args.big:
        with front.start_as_current_span("big batch", kind=SpanKind.SERVER) as root:
            for i in range(args.big - 1):
                with front.start_as_current_span(f"step {i % 50}", attributes={"i": i}):
                    pass
            print("big trace", format(root.get_span_context().trace_id, "032x"))
    fp.shutdown()
    bp.shutdown()


if __name__ == "__main__":
    main()
