"""A service instrumented by the Apache SkyWalking Python agent (its http.server and urllib
plugins), configured by the agents' own variables (SW_AGENT_NAME, SW_AGENT_COLLECTOR_BACKEND_SERVICES,
SW_AGENT_PROTOCOL grpc|http, SW_AGENT_AUTHENTICATION...), for the SkyWalking interop test.

GET /start?to=URL  an entry span; calls URL (an exit span carrying sw8), answers 200.
GET /back          an entry span continuing the caller's sw8.
Prints "ready PORT"; on stdin's end stops the agent (flushing what it queued) and exits.
"""

import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from skywalking import agent, config

config.init()
agent.start()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/start":
            to = urllib.parse.parse_qs(url.query)["to"][0]
            with urllib.request.urlopen(to, timeout=10) as resp:
                resp.read()
        body = b"ok"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"ready {server.server_address[1]}", flush=True)
import threading  # noqa: E402

threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()
agent.stop()
