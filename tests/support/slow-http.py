#!/usr/bin/env python3
"""A static file server that answers each GET only after a delay, so that an ostree pull from
it takes seconds: the host tests watch its progress and cancel it.

Usage: slow-http.py DIR PORT_FILE DELAY_SECONDS   (listens on 127.0.0.1, a free port)"""

import functools
import http.server
import sys
import time

root, port_file, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])


class Slow(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        time.sleep(delay)
        super().do_GET()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Slow, directory=root))
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
# Renamed into place, so a reader never sees a half-written port.
import os

os.rename(port_file + ".tmp", port_file)
server.serve_forever()
