"""An HTTP client instrumented with the OpenTelemetry Python SDK: starts a CLIENT span, injects
W3C traceparent and baggage into the request, POSTs to the URL, and prints its span's ids and
the response as JSON.

  http_client.py URL
"""
import json
import sys
import urllib.error
import urllib.request

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider

provider = TracerProvider()
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("traceweave-peer")

token = context.attach(baggage.set_baggage("tenant", "acme"))
with tracer.start_as_current_span("python-checkout", kind=trace.SpanKind.CLIENT) as span:
    headers = {"content-type": "text/plain"}
    propagate.inject(headers)
    req = urllib.request.Request(sys.argv[1], data=b"", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, body = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    sc = span.get_span_context()
    print(json.dumps({
        "trace_id": format(sc.trace_id, "032x"),
        "span_id": format(sc.span_id, "016x"),
        "status": status,
        "body": body,
        "sent": headers,
    }))
context.detach(token)
