#!/usr/bin/env python3
"""A FleetLock server, for the lock client's tests: a stand-in, since no FleetLock server
(airlock, fleetlock) is packaged for Debian. It speaks the protocol as zincati's documentation
gives it (docs/development/fleetlock/protocol.md):

- POST {base}/v1/pre-reboot and POST {base}/v1/steady-state, each with the header
  `fleet-lock-protocol: true` and a JSON body {"client_params": {"id": ID, "group": GROUP}};
- 200 with an empty body when the request is granted;
- otherwise a non-200 status with a JSON body {"kind": KIND, "value": SENTENCE}; a full
  semaphore is 500 with kind `failed_lock`, as airlock (the reference server) answers it.

A semaphore of SLOTS per group; a holder asking again is granted again (a reboot that came
back before its steady state), steady-state releases (also when nothing was held).

The first path segment picks a behaviour, so one server serves every case of the tests:
  /ok/...      the protocol as above
  /full/...    a semaphore with no free slot: 500 failed_lock
  /broken/...  500 with a body that is not the protocol's
  /hang/...    never answers (the client's timeout)

Usage: fleetlock.py PORT_FILE SLOTS [CERT KEY]
Listens on 127.0.0.1, a free port; over TLS with CERT and KEY (PEM) when they are given."""

import http.server
import os
import json
import ssl
import sys
import threading
import time

port_file, slots = sys.argv[1], int(sys.argv[2])
holders = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        if data:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        parts = self.path.strip("/").split("/")
        mode, rest = parts[0], "/".join(parts[1:])
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "broken":
            return self._raw(500, b"internal error\n")
        if self.headers.get("fleet-lock-protocol") != "true":
            return self.answer(400, {"kind": "missing_header", "value": "fleet-lock-protocol header is not true"})
        try:
            params = json.loads(raw)["client_params"]
            ident, group = params["id"], params["group"]
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"kind": "bad_body", "value": "malformed client_params"})
        if not ident or not group:
            return self.answer(400, {"kind": "bad_body", "value": "empty id or group"})
        with lock:
            held = holders.setdefault(group, set())
            if rest == "v1/pre-reboot":
                if ident in held:
                    return self.answer(200)
                if mode == "full" or len(held) >= slots:
                    return self.answer(500, {"kind": "failed_lock", "value": "semaphore is full: all slots are held"})
                held.add(ident)
                return self.answer(200)
            if rest == "v1/steady-state":
                held.discard(ident)
                return self.answer(200)
        return self.answer(404, {"kind": "not_found", "value": self.path})

    def _raw(self, status, data):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if len(sys.argv) == 5:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
