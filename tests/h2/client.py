"""A raw HTTP/2 client for tests/http2_hostile.rs, on Python's `h2` package (PyPI).

Usage: client.py PORT SCENARIO. Prints one JSON object on stdout: what the server did
(responses by stream, GOAWAY error code, whether the connection closed). Every socket
wait is bounded by a deadline; running out of time is reported, not mistaken for a
close. With H2_TLS_CA set (a CA file), every connection is TLS with ALPN `h2` (it fails
unless the server selects `h2`).
"""
import json
import os
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
import hyperframe.frame

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
DEADLINE = time.monotonic() + 20


def dial():
    """A connection to the server: TCP, or TLS with ALPN h2 when H2_TLS_CA is set."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    ca = os.environ.get("H2_TLS_CA")
    if not ca:
        return s
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(s, server_hostname="localhost")
    if s.selected_alpn_protocol() != "h2":
        raise SystemExit(f"the server selected ALPN {s.selected_alpn_protocol()!r}")
    return s


def connect(**settings):
    s = dial()
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
        self.protocol_error = None

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
            "protocol_error": self.protocol_error,
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
        except (ConnectionResetError, ssl.SSLEOFError):
            r.closed = True
            return
        if not data:
            r.closed = True
            return
        try:
            events = c.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            print("client-side protocol error:", repr(e), file=sys.stderr)
            r.protocol_error = repr(e)
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
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
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


class Raw:
    """Frames by hand (hyperframe + hpack, which `h2` brings): for what the `h2` client
    refuses to do or to accept (floods, bad frames, anything after a GOAWAY)."""

    def __init__(self, settings=None):
        self.s = dial()
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.buf = b""
        self.goaways = []  # (last_stream_id, error_code)
        self.statuses = {}
        self.body = {}
        self.ended = set()
        self.resets = {}
        self.closed = False
        self.timed_out = False
        self.pongs = 0
        sf = hyperframe.frame.SettingsFrame(0)
        for k, v in (settings or {}).items():
            sf.settings[k] = v
        self.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + sf.serialize())

    def send(self, data):
        try:
            self.s.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
            self.closed = True
            return False

    def end_writes(self):
        """Ends the client's side: a FIN, or over TLS close_notify (Python's ssl cannot
        half-close; it waits, bounded, for the server's close_notify)."""
        if isinstance(self.s, ssl.SSLSocket):
            try:
                self.s.settimeout(max(0.01, DEADLINE - time.monotonic()))
                self.s = self.s.unwrap()
            except socket.timeout:
                self.timed_out = True
            except (ssl.SSLError, ConnectionError):
                # The server closed without its close_notify: closed all the same.
                self.closed = True
        else:
            self.s.shutdown(socket.SHUT_WR)

    def headers(self, sid, fields, end_stream=True, end_headers=True):
        f = hyperframe.frame.HeadersFrame(sid)
        f.data = self.enc.encode(fields)
        if end_stream:
            f.flags.add("END_STREAM")
        if end_headers:
            f.flags.add("END_HEADERS")
        return f.serialize()

    def frames(self, until):
        """Reads frames (answering SETTINGS and PING as a client must) until
        `until(self)`, EOF, or the deadline."""
        while not until(self):
            while len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) < 9 + length:
                    break
                f, _ = hyperframe.frame.Frame.parse_frame_header(memoryview(self.buf[:9]))
                f.parse_body(memoryview(self.buf[9:9 + length]))
                self.buf = self.buf[9 + length:]
                self.handle(f)
                if until(self):
                    return
            if self.closed:
                return
            if time.monotonic() > DEADLINE:
                self.timed_out = True
                return
            try:
                self.s.settimeout(max(0.01, DEADLINE - time.monotonic()))
                data = self.s.recv(65536)
            except socket.timeout:
                self.timed_out = True
                return
            except (ConnectionResetError, ssl.SSLEOFError):
                self.closed = True
                return
            if not data:
                self.closed = True
                continue
            self.buf += data

    def handle(self, f):
        F = hyperframe.frame
        if isinstance(f, F.SettingsFrame) and "ACK" not in f.flags:
            self.send(F.SettingsFrame(0, flags=["ACK"]).serialize())
        elif isinstance(f, F.PingFrame) and "ACK" not in f.flags:
            self.send(F.PingFrame(0, opaque_data=f.opaque_data, flags=["ACK"]).serialize())
        elif isinstance(f, F.PingFrame):
            self.pongs += 1
        elif isinstance(f, F.GoAwayFrame):
            self.goaways.append((f.last_stream_id, f.error_code))
            print("goaway", flush=True)
        elif isinstance(f, F.HeadersFrame):
            fields = dict(self.dec.decode(f.data))
            if ":status" in fields:
                self.statuses[f.stream_id] = int(fields[":status"])
        elif isinstance(f, F.DataFrame):
            self.body[f.stream_id] = self.body.get(f.stream_id, 0) + len(f.data)
            if f.flow_controlled_length:
                # Read: give the windows back, as a client does.
                n = f.flow_controlled_length
                self.send(F.WindowUpdateFrame(0, window_increment=n).serialize()
                          + F.WindowUpdateFrame(f.stream_id, window_increment=n).serialize())
        elif isinstance(f, F.RstStreamFrame):
            self.resets[f.stream_id] = f.error_code
        if "END_STREAM" in f.flags:
            self.ended.add(f.stream_id)

    def dump(self, **extra):
        out = {"goaways": self.goaways, "statuses": {str(k): v for k, v in self.statuses.items()},
               "body": {str(k): v for k, v in self.body.items()}, "ended": sorted(self.ended),
               "resets": {str(k): v for k, v in self.resets.items()},
               "closed": self.closed, "timed_out": self.timed_out}
        out.update(extra)
        print(json.dumps(out), flush=True)


def get(path):
    return [(":method", "GET"), (":path", path), (":scheme", "http"),
            (":authority", "localhost")]


def scenario_drain():
    """A request in flight when the server stops: GOAWAY (NO_ERROR), then its
    response, then the close. Tells the test each step on stdout."""
    c = Raw()
    c.send(c.headers(1, get("/hold")))
    print("sent", flush=True)
    c.frames(lambda c: c.closed)
    c.dump()


def post(path, extra=()):
    return [(":method", "POST"), (":path", path), (":scheme", "http"),
            (":authority", "localhost")] + list(extra)


def rst(sid, code=8):
    return hyperframe.frame.RstStreamFrame(sid, error_code=code).serialize()


def data(sid, payload, end=False):
    f = hyperframe.frame.DataFrame(sid, data=payload)
    if end:
        f.flags.add("END_STREAM")
    return f.serialize()


def until_goaway_or_closed(c):
    return c.closed or bool(c.goaways)


def scenario_rapid_reset():
    """CVE-2023-44487: streams opened and cancelled at once, 2,000 of them in bursts."""
    c = Raw()
    sid = 1
    for _ in range(20):
        burst = b"".join(c.headers(sid + 2 * i, get("/")) + rst(sid + 2 * i) for i in range(100))
        sid += 200
        if not c.send(burst):
            break
    c.frames(until_goaway_or_closed)
    c.dump()


def scenario_continuation_flood():
    """HEADERS without END_HEADERS, then CONTINUATION frames of junk that never end."""
    c = Raw()
    c.send(c.headers(1, get("/"), end_stream=True, end_headers=False))
    for _ in range(2000):
        f = hyperframe.frame.ContinuationFrame(1, data=b"\x40\x03abc\x03xyz" * 100)
        if not c.send(f.serialize()):
            break
    c.frames(until_goaway_or_closed)
    c.dump()


def scenario_hpack_bomb():
    """One 4 KB field into the dynamic table, then a block referencing it 4,000 times
    (about 4 KB on the wire, 16 MB decoded)."""
    c = Raw()
    block = c.enc.encode(get("/") + [("x-bomb", "a" * 4000)])
    f = hyperframe.frame.HeadersFrame(1, data=block, flags=["END_STREAM", "END_HEADERS"])
    c.send(f.serialize())
    c.frames(lambda c: c.closed or c.goaways or 1 in c.ended)
    # Index 62 is the newest dynamic entry: x-bomb.
    block = c.enc.encode(get("/")) + b"\xbe" * 4000
    f = hyperframe.frame.HeadersFrame(3, data=block, flags=["END_STREAM", "END_HEADERS"])
    c.send(f.serialize())
    c.frames(lambda c: c.closed or c.goaways or (1 in c.ended and (3 in c.ended or 3 in c.resets)))
    c.dump()


def scenario_settings_flood():
    """5,000 SETTINGS frames in a row (no request between), sent before reading a byte."""
    c = Raw()
    f = hyperframe.frame.SettingsFrame(0, settings={4: 65535}).serialize() * 100
    for _ in range(50):
        if not c.send(f):
            break
    c.frames(until_goaway_or_closed)
    c.dump()


def scenario_ping_flood():
    """5,000 PING frames in a row (no request between), sent before reading a byte."""
    c = Raw()
    f = hyperframe.frame.PingFrame(0, opaque_data=b"12345678").serialize() * 100
    for _ in range(50):
        if not c.send(f):
            break
    c.frames(until_goaway_or_closed)
    c.dump()


def scenario_empty_data_flood():
    """A request whose body is empty DATA frames without end."""
    c = Raw()
    c.send(c.headers(1, post("/echo"), end_stream=False))
    for _ in range(200):
        if not c.send(data(1, b"") * 100):
            break
    c.frames(until_goaway_or_closed)
    c.dump()


def scenario_no_window():
    """A client whose stream window is 0 asks for a large streamed body and never opens
    the window; the test counts what the server pulled from the body meanwhile."""
    c = Raw(settings={4: 0})
    c.send(c.headers(1, get("/big")))
    c.frames(lambda c: c.closed or 1 in c.statuses)
    # 50 PINGs, each a wake-up of the connection on the server; their ACKs prove it
    # went through all of them (with the window still shut).
    for _ in range(50):
        c.send(hyperframe.frame.PingFrame(0, opaque_data=b"wake-up!").serialize())
    c.frames(lambda c: c.closed or c.pongs >= 50)
    print("pinged", flush=True)
    # Wait for the test's go-ahead (it measured the server), then leave.
    sys.stdin.readline()
    c.dump(pongs=c.pongs)


def scenario_too_many_streams():
    """101 streams that the server leaves unanswered: the 101st is refused."""
    c = Raw()
    c.send(b"".join(c.headers(1 + 2 * i, get("/hold")) for i in range(101)))
    c.frames(lambda c: c.closed or c.goaways or 201 in c.resets)
    c.dump()


INVALID = {
    "connection_header": lambda c: c.send(c.headers(1, get("/") + [("connection", "keep-alive")])),
    "transfer_encoding": lambda c: c.send(c.headers(1, get("/") + [("transfer-encoding", "chunked")])),
    "uppercase_name": lambda c: c.send(c.headers(1, get("/") + [("X-Upper", "1")])),
    "pseudo_after_regular": lambda c: c.send(c.headers(1, [
        (":method", "GET"), ("x-a", "1"), (":path", "/"), (":scheme", "http"),
        (":authority", "localhost")])),
    "missing_path": lambda c: c.send(c.headers(1, [
        (":method", "GET"), (":scheme", "http"), (":authority", "localhost")])),
    "te_not_trailers": lambda c: c.send(c.headers(1, get("/") + [("te", "gzip")])),
    "response_pseudo": lambda c: c.send(c.headers(1, get("/") + [(":status", "200")])),
    "content_length_over_data": lambda c: c.send(
        c.headers(1, post("/echo", [("content-length", "10")]), end_stream=False)
        + data(1, b"12345", end=True)),
    "content_length_under_data": lambda c: c.send(
        c.headers(1, post("/echo", [("content-length", "2")]), end_stream=False)
        + data(1, b"12345", end=True)),
}


def scenario_invalid():
    """One malformed request (RFC 9113 §8.1.1, §8.2, §8.3) named by argv[3] on stream
    1, then a good GET on stream 3 unless the connection was closed."""
    c = Raw()
    INVALID[sys.argv[3]](c)
    c.frames(lambda c: c.closed or c.goaways or 1 in c.resets or 1 in c.ended)
    if not c.goaways and not c.closed:
        c.send(c.headers(3, get("/")))
        c.frames(lambda c: c.closed or c.goaways or 3 in c.ended)
    c.dump()


def scenario_oversized_bodies():
    """Bodies over max_body_bytes (the test sets 1,000): by content-length (stream 1),
    by DATA without one (stream 3); then a good request (stream 5)."""
    c = Raw()
    c.send(c.headers(1, post("/echo", [("content-length", "5000")]), end_stream=False))
    c.send(c.headers(3, post("/echo"), end_stream=False) + data(3, b"x" * 5000, end=True))
    c.frames(lambda c: c.closed or (1 in c.statuses and 3 in c.statuses))
    c.send(c.headers(5, get("/")))
    c.frames(lambda c: c.closed or 5 in c.ended)
    c.dump()


def scenario_big_headers():
    """A 20 KB header list (stream 1), then a good request (stream 3)."""
    c = Raw()
    fields = get("/") + [("x-big-%d" % i, "v" * 1000) for i in range(20)]
    block = c.enc.encode(fields)
    # Split into HEADERS + CONTINUATION frames of 16 KiB (the max frame size).
    first, rest = block[:16384], block[16384:]
    f = hyperframe.frame.HeadersFrame(1, data=first, flags=["END_STREAM"])
    out = f.serialize()
    while rest:
        chunk, rest = rest[:16384], rest[16384:]
        cf = hyperframe.frame.ContinuationFrame(1, data=chunk)
        if not rest:
            cf.flags.add("END_HEADERS")
        out += cf.serialize()
    c.send(out)
    c.frames(lambda c: c.closed or c.goaways or 1 in c.ended or 1 in c.resets)
    if not c.closed and not c.goaways:
        c.send(c.headers(3, get("/")))
        c.frames(lambda c: c.closed or 3 in c.ended)
    c.dump()


def scenario_window_refill():
    """Uploads exactly the stream's initial window (256 KiB), then waits for the
    server's WINDOW_UPDATE on that stream before sending the last 10 bytes: the server
    must return the window once it has consumed the bytes, without another event."""
    c = Raw()
    window = 256 * 1024
    c.send(c.headers(1, post("/echo", [("content-length", str(window + 10))]), end_stream=False))
    chunk = b"w" * 16384
    c.send(b"".join(data(1, chunk) for _ in range(window // len(chunk))))
    updates = []
    orig = c.handle

    def handle(f):
        if isinstance(f, hyperframe.frame.WindowUpdateFrame) and f.stream_id == 1:
            updates.append(f.window_increment)
        orig(f)
    c.handle = handle
    c.frames(lambda c: c.closed or updates)
    if updates:
        c.send(data(1, b"0123456789", end=True))
        c.frames(lambda c: c.closed or 1 in c.ended)
    c.dump(updates=len(updates))


def scenario_reset_mid_stream():
    """Resets (TCP RST) at every step of an exchange, on 12 connections: after the
    preface, mid-headers, with answers pending on server threads (/later), mid-upload,
    mid-download. Prints how many connections it reset."""
    import struct
    steps = [
        lambda c: None,
        lambda c: c.send(c.headers(1, get("/"), end_headers=False)[:20]),
        lambda c: c.send(b"".join(c.headers(1 + 2 * i, get("/later")) for i in range(20))),
        lambda c: c.send(c.headers(1, post("/echo", [("content-length", "100000")]),
                                   end_stream=False) + data(1, b"x" * 5000)),
        lambda c: (c.send(c.headers(1, get("/big"))), c.frames(lambda c: 1 in c.body)),
        lambda c: c.send(c.headers(1, get("/hold"))),
    ]
    n = 0
    for _ in range(2):
        for step in steps:
            c = Raw()
            step(c)
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.s.close()
            n += 1
    print(json.dumps({"reset": n}), flush=True)


def scenario_steady():
    """A well-behaved client meanwhile: 200 requests one after another on one
    connection; prints how many got 200."""
    s, c = connect()
    r = Result()
    ok = 0
    for i in range(200):
        sid = 1 + 2 * i
        c.send_headers(sid, req_headers("/"), end_stream=True)
        s.sendall(c.data_to_send())
        pump(s, c, r, lambda r: sid in r.ended or r.closed or r.goaway is not None)
        if r.responses.get(sid, {}).get(":status") == "200":
            ok += 1
        else:
            break
    print(json.dumps({"ok": ok}), flush=True)


# Conformance (RFC 9113): the cases h2 0.4.20 answered wrongly (vendor/h2/MUON.md).

BAD_BLOCKS = {
    # Literal with incremental indexing, new name, and nothing after: truncated.
    "truncated": b"\x40",
    # Indexed field 0, which does not exist (RFC 7541 §6.1).
    "index_zero": b"\x80",
    # Indexed field past the static and (empty) dynamic table.
    "index_past_tables": b"\xff\x80\x01",
    # A Huffman-coded name whose padding is not all ones (RFC 7541 §5.2): 0x00 decodes
    # to '0' (5 bits 00000) and leaves 3 zero bits.
    "huffman_padding": b"\x40\x81\x00\x01a",
    # A dynamic table size update above SETTINGS_HEADER_TABLE_SIZE (4,096).
    "table_size_over_limit": b"\x3f\xe1\x3f",
}


def scenario_bad_hpack():
    """A field block that cannot be decompressed (BAD_BLOCKS[argv[3]]): a connection
    error COMPRESSION_ERROR (RFC 9113 §4.3). With argv[4] == "continuation" the bad
    bytes come in a CONTINUATION after a good start of the block."""
    c = Raw()
    bad = BAD_BLOCKS[sys.argv[3]]
    split = len(sys.argv) > 4 and sys.argv[4] == "continuation"
    if split:
        head = hyperframe.frame.HeadersFrame(1, data=c.enc.encode(get("/")),
                                             flags=["END_STREAM"])
        cont = hyperframe.frame.ContinuationFrame(1, data=bad, flags=["END_HEADERS"])
        c.send(head.serialize() + cont.serialize())
    else:
        f = hyperframe.frame.HeadersFrame(1, data=bad, flags=["END_STREAM", "END_HEADERS"])
        c.send(f.serialize())
    c.frames(lambda c: c.closed)
    c.dump()


def scenario_pseudo_in_trailers():
    """A request body, then trailers carrying pseudo-header argv[3]: the stream is
    malformed (RFC 9113 §8.1), RST_STREAM PROTOCOL_ERROR; then a good GET on stream 3."""
    c = Raw()
    c.send(c.headers(1, post("/echo"), end_stream=False) + data(1, b"test"))
    name = sys.argv[3]
    value = {":status": "200", ":path": "/", ":scheme": "http"}.get(name, "POST")
    c.send(c.headers(1, [(name, value), ("x-trailer", "1")], end_stream=True))
    c.frames(lambda c: c.closed or c.goaways or 1 in c.resets or 1 in c.ended)
    if not c.goaways and not c.closed:
        c.send(c.headers(3, get("/")))
        c.frames(lambda c: c.closed or c.goaways or 3 in c.ended)
    c.dump()


def scenario_goaway_then_ping():
    """The client sends GOAWAY with an unknown error code (0xff, RFC 9113 §7: no
    special behaviour) with a request in flight (/later, answered from a thread). The
    server answers the request, then two PINGs sent one after the other (the second
    only after the first's ACK: by then a server that closes idle connections after a
    client's GOAWAY has decided to), without a GOAWAY of its own; when the client ends
    its side, the server closes."""
    c = Raw()
    c.send(c.headers(1, get("/later")))
    c.send(hyperframe.frame.GoAwayFrame(0, last_stream_id=0, error_code=0xff).serialize())
    c.frames(lambda c: c.closed or 1 in c.ended)
    for want in (1, 2):
        c.send(hyperframe.frame.PingFrame(0, opaque_data=b"pingpong").serialize())
        c.frames(lambda c: c.closed or c.pongs >= want)
    pongs, goaways_before_eof = c.pongs, len(c.goaways)
    c.end_writes()
    c.frames(lambda c: c.closed)
    c.dump(pongs_before_eof=pongs, goaways_before_eof=goaways_before_eof)


def scenario_goaway_then_idle():
    """The client sends GOAWAY (0xff) with a request, reads the answer and then stays,
    silent: the server must still end the connection by its idle deadline (the test
    sets a short one): GOAWAY NO_ERROR, then the close."""
    c = Raw()
    c.send(c.headers(1, get("/later")))
    c.send(hyperframe.frame.GoAwayFrame(0, last_stream_id=0, error_code=0xff).serialize())
    c.frames(lambda c: c.closed)
    c.dump()


SCENARIOS = {name[len("scenario_"):]: f for name, f in globals().items()
             if name.startswith("scenario_")}

if __name__ == "__main__":
    SCENARIOS[SCENARIO]()
