"""A stand-in for SkyWalking's OAP, built on the official protocol definitions: the generated
protobuf and gRPC modules the Apache SkyWalking Python agent ships (`skywalking.protocol`).

It serves what agents report to:
  gRPC  skywalking.v3.TraceSegmentReportService/collect (a client stream of SegmentObject) and
        collectInSync; skywalking.v3.ManagementService/reportInstanceProperties and keepAlive;
  HTTP  POST /v3/segments (a JSON array of SegmentObject), /v3/segment (one),
        /v3/management/reportProperties, /v3/management/keepAlive, parsed strictly by the
        official JSON mapping (an unknown field or a wrong type is a 400).
Everything received is kept, with the `Authentication` each call carried, and served back as
JSON at GET /received (segments in protobuf JSON form, camelCase, enums by name).

Usage: skywalking_oap.py  -> prints "ready grpc=PORT http=PORT" once both listen on 127.0.0.1.
"""

import json
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.protobuf import json_format

from skywalking.protocol.common.Command_pb2 import Commands
from skywalking.protocol.language_agent import Tracing_pb2, Tracing_pb2_grpc
from skywalking.protocol.management import Management_pb2, Management_pb2_grpc

LOCK = threading.Lock()
RECEIVED = {"segments": [], "properties": [], "pings": [], "errors": []}


def keep(kind, message, via, auth):
    entry = json_format.MessageToDict(
        message, preserving_proto_field_name=False, always_print_fields_with_no_presence=True
    )
    entry["_via"] = via
    entry["_auth"] = auth
    with LOCK:
        RECEIVED[kind].append(entry)


def grpc_auth(context):
    for key, value in context.invocation_metadata():
        if key.lower() == "authentication":
            return value
    return None


class Segments(Tracing_pb2_grpc.TraceSegmentReportServiceServicer):
    def collect(self, request_iterator, context):
        auth = grpc_auth(context)
        for segment in request_iterator:
            keep("segments", segment, "grpc", auth)
        return Commands()

    def collectInSync(self, request, context):
        auth = grpc_auth(context)
        for segment in request.segments:
            keep("segments", segment, "grpc", auth)
        return Commands()


class Management(Management_pb2_grpc.ManagementServiceServicer):
    def reportInstanceProperties(self, request, context):
        keep("properties", request, "grpc", grpc_auth(context))
        return Commands()

    def keepAlive(self, request, context):
        keep("pings", request, "grpc", grpc_auth(context))
        return Commands()


class Http(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"{}"):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/received":
            with LOCK:
                body = json.dumps(RECEIVED).encode()
            self.answer(200, body)
        else:
            self.answer(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        auth = self.headers.get("Authentication")
        routes = {
            "/v3/segments": ("segments", Tracing_pb2.SegmentObject, True),
            "/v3/segment": ("segments", Tracing_pb2.SegmentObject, False),
            "/v3/management/reportProperties": ("properties", Management_pb2.InstanceProperties, False),
            "/v3/management/keepAlive": ("pings", Management_pb2.InstancePingPkg, False),
        }
        route = routes.get(self.path)
        if route is None:
            self.answer(404)
            return
        kind, message_type, array = route
        try:
            items = json.loads(body)
            if array != isinstance(items, list):
                raise ValueError("a JSON array expected" if array else "one JSON object expected")
            messages = [json_format.ParseDict(item, message_type()) for item in (items if array else [items])]
        except Exception as e:  # noqa: BLE001 - any parse failure is the client's
            with LOCK:
                RECEIVED["errors"].append(f"{self.path}: {e}")
            self.answer(400, json.dumps({"error": str(e)}).encode())
            return
        for m in messages:
            keep(kind, m, "http", auth)
        self.answer(200)


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    Tracing_pb2_grpc.add_TraceSegmentReportServiceServicer_to_server(Segments(), server)
    Management_pb2_grpc.add_ManagementServiceServicer_to_server(Management(), server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    http = ThreadingHTTPServer(("127.0.0.1", 0), Http)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    print(f"ready grpc={grpc_port} http={http.server_address[1]}", flush=True)
    # Until the test closes our stdin (or dies).
    sys.stdin.read()
    server.stop(0)
    http.shutdown()


if __name__ == "__main__":
    main()
