"""Official decoders as a peer for our exporters' bytes.

  otlp_check.py decode FILE
      decodes an OTLP ExportTraceServiceRequest (protobuf) with opentelemetry-proto and prints
      every span's fields as JSON (ids in hex)
  otlp_check.py zipkin SCHEMA_YAML FILE
      validates a Zipkin v2 JSON array against the official zipkin2-api.yaml (ListOfSpans)
  otlp_check.py receive PORT FILE
      an OTLP/HTTP receiver on 127.0.0.1:PORT: each request decompressed (gzip, zstd by the
      `zstandard` package), decoded as above and appended to FILE as one JSON line
  otlp_check.py replay URL FILE
      POSTs every line of an OTLP-JSON lines file to URL (a collector's /v1/traces)
"""
import json
import sys
import urllib.request


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return {"kind": kind, "value": getattr(v, kind)}


def decode(path):
    with open(path, "rb") as f:
        print(json.dumps(summarize(f.read())))


def summarize(body):
    """An ExportTraceServiceRequest, parsed by the official decoder, as JSON-ready values."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    out = {"resource": {}, "scopes": [], "spans": []}
    for rs in req.resource_spans:
        for kv in rs.resource.attributes:
            out["resource"][kv.key] = value(kv.value)
        for ss in rs.scope_spans:
            out["scopes"].append({"name": ss.scope.name, "version": ss.scope.version})
            for s in ss.spans:
                out["spans"].append({
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(),
                    "trace_state": s.trace_state,
                    "flags": s.flags,
                    "name": s.name,
                    "kind": s.kind,
                    "start": s.start_time_unix_nano,
                    "end": s.end_time_unix_nano,
                    "attributes": {kv.key: value(kv.value) for kv in s.attributes},
                    "attribute_keys": [kv.key for kv in s.attributes],
                    "dropped_attributes_count": s.dropped_attributes_count,
                    "dropped_events_count": s.dropped_events_count,
                    "dropped_links_count": s.dropped_links_count,
                    "events": [{"name": e.name, "time": e.time_unix_nano,
                                "attributes": {kv.key: value(kv.value) for kv in e.attributes},
                                "dropped_attributes_count": e.dropped_attributes_count}
                               for e in s.events],
                    "links": [{"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex(),
                               "flags": l.flags,
                               "dropped_attributes_count": l.dropped_attributes_count}
                              for l in s.links],
                    "status": {"code": s.status.code, "message": s.status.message},
                })
    return out


def receive(port, out_path):
    """An OTLP/HTTP receiver: each POST's body is decompressed as its Content-Encoding says
    (gzip by Python's gzip, zstd by the `zstandard` package), parsed by the official decoder and
    written as one JSON line with the request's headers; answers 200 with an empty response."""
    import gzip
    import http.server

    import zstandard

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            encoding = (self.headers.get("Content-Encoding") or "").lower()
            line = {"path": self.path, "encoding": encoding, "wire_bytes": len(body),
                    "content_type": self.headers.get("Content-Type")}
            try:
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "zstd":
                    body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
                line["request"] = summarize(body)
                status = 200
            except Exception as e:  # what the sender did wrong goes back to the test
                line["error"] = repr(e)
                status = 400
            with open(out_path, "a") as f:
                f.write(json.dumps(line) + "\n")
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def zipkin(schema_path, path):
    import jsonschema
    import yaml
    with open(schema_path) as f:
        api = yaml.safe_load(f)
    schema = {"$ref": "#/definitions/ListOfSpans", "definitions": api["definitions"]}
    with open(path) as f:
        doc = json.load(f)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)
    print(json.dumps({"valid": not errors, "errors": [e.message for e in errors][:20]}))


def replay(url, path):
    sent = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            req = urllib.request.Request(url, data=line.encode(), method="POST",
                                         headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 200, resp.status
            sent += 1
    print(json.dumps({"sent": sent}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "decode":
        decode(sys.argv[2])
    elif cmd == "zipkin":
        zipkin(sys.argv[2], sys.argv[3])
    elif cmd == "receive":
        receive(sys.argv[2], sys.argv[3])
    elif cmd == "replay":
        replay(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown command {cmd}")
