"""A raw HTTP/2 client for tests/http2_hostile.rs, on Python's `h2` package (PyPI).

Usage: client.py PORT SCENARIO. Prints one JSON object on stdout: what the server did
(responses by stream, GOAWAY error code, whether the connection closed). Every socket
wait is bounded by a deadline; running out of time is reported, not mistaken for a
close.
"""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
DEADLINE = time.monotonic() + 20


def connect(**settings):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    cfg = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                    validate_outbound_headers=False,
                                    normalize_outbound_headers=False,
                                    validate_inbound_headers=False)
    c = h2.connection.H2Connection(cfg)
    c.initiate_connection()
    if settings:
        c.update_settings(settings)
    s.sendall(c.data_to_send())
    return s, c


def req_headers(path, method="GET", extra=()):
    return [(b":method", method.encode()), (b":path", path.encode()),
            (b":scheme", b"http"), (b":authority", b"localhost")] + list(extra)


class Result:
    def __init__(self):
        self.responses = {}
        self.bodies = {}
        self.trailers = {}
        self.resets = {}
        self.goaway = None
        self.closed = False
        self.timed_out = False
        self.ended = set()

    def dump(self, **extra):
        out = {
            "responses": {str(k): v for k, v in self.responses.items()},
            "bodies": {str(k): len(v) for k, v in self.bodies.items()},
            "trailers": {str(k): v for k, v in self.trailers.items()},
            "resets": {str(k): v for k, v in self.resets.items()},
            "goaway": self.goaway,
            "closed": self.closed,
            "timed_out": self.timed_out,
            "ended": sorted(self.ended),
        }
        out.update(extra)
        print(json.dumps(out))


def pump(s, c, r, until, window=True):
    """Reads and handles events until `until(r)` or the connection closes or the
    deadline passes (reported as timed_out)."""
    while not until(r):
        if time.monotonic() > DEADLINE:
            r.timed_out = True
            return
        try:
            s.settimeout(max(0.01, DEADLINE - time.monotonic()))
            data = s.recv(65536)
        except socket.timeout:
            r.timed_out = True
            return
        except ConnectionResetError:
            r.closed = True
            return
        if not data:
            r.closed = True
            return
        try:
            events = c.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            r.closed = True
            return
        for e in events:
            if isinstance(e, h2.events.ResponseReceived):
                r.responses[e.stream_id] = {k.decode(): v.decode() for k, v in e.headers}
            elif isinstance(e, h2.events.TrailersReceived):
                r.trailers[e.stream_id] = {k.decode(): v.decode() for k, v in e.headers}
            elif isinstance(e, h2.events.DataReceived):
                r.bodies.setdefault(e.stream_id, bytearray()).extend(e.data)
                if window:
                    c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                r.ended.add(e.stream_id)
            elif isinstance(e, h2.events.StreamReset):
                r.resets[e.stream_id] = int(e.error_code)
            elif isinstance(e, h2.events.ConnectionTerminated):
                r.goaway = int(e.error_code)
        try:
            out = c.data_to_send()
            if out:
                s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            r.closed = True
            return


def until_closed(r):
    return r.closed


def scenario_trailers():
    s, c = connect()
    r = Result()
    c.send_headers(1, req_headers("/trailers"), end_stream=True)
    s.sendall(c.data_to_send())
    pump(s, c, r, lambda r: 1 in r.ended)
    r.dump()


SCENARIOS = {name[len("scenario_"):]: f for name, f in globals().items()
             if name.startswith("scenario_")}

if __name__ == "__main__":
    SCENARIOS[SCENARIO]()
