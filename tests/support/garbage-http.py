#!/usr/bin/env python3
"""A lookaside that answers every GET with a gigabyte of garbage (and says so in Content-Length),
so the trust tests see that atomicd reads a bounded amount and says why it stopped.

Usage: garbage-http.py PORT   (listens on 127.0.0.1)"""

import http.server
import sys

CHUNK = b"\x00garbage" * 8192
TOTAL = 1024 * 1024 * 1024


class Garbage(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(TOTAL))
        self.end_headers()
        sent = 0
        try:
            while sent < TOTAL:
                self.wfile.write(CHUNK)
                sent += len(CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Garbage).serve_forever()
