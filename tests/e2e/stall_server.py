"""A target that stalls: every PERIOD seconds it answers nothing for STALL
seconds (like a stop-the-world GC pause), then answers everything held at
once. Requests are answered at once outside the stalls. Used by
test_open_model.py to show coordinated omission.

    python3 stall_server.py PORT [PERIOD [STALL]]
"""

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
PERIOD = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
STALL = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
T0 = time.monotonic()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes

    def do_GET(self):
        # the stall is the first STALL seconds of each PERIOD, counted from
        # the first request (so a run starts with a stall soon)
        phase = (time.monotonic() - T0) % PERIOD
        if phase < STALL:
            time.sleep(STALL - phase)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()
