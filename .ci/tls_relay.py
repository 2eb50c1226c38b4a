#!/usr/bin/env python3
"""A client-side TLS relay for .ci/httpwg.sh: httpwg-cli speaks cleartext only, so it
connects here in plain TCP and every connection is carried to Muon's TLS server over
TLS with ALPN `h2` (verified against certs/ca.crt), bytes copied both ways unchanged.

Usage: tls_relay.py LISTEN_PORT SERVER_PORT CA_FILE LIFETIME_SECONDS

Prints "ready" on stdout once a probe connection to the server has completed a TLS
handshake that selected `h2` (retried until 10 s pass, then it fails), and only then
accepts. Exits 1 if any connection could not be relayed with ALPN `h2` (a relay that
quietly fell back to HTTP/1.1 or cleartext would test the wrong thing), 0 otherwise;
it stops on SIGTERM, or after LIFETIME_SECONDS in any case.

Closes are carried across: the server's close (close_notify or EOF) becomes a FIN to
the client and its reset a reset; the client's EOF closes the TLS side.
"""
import asyncio
import signal
import socket
import ssl
import struct
import sys

LISTEN_PORT = int(sys.argv[1])
SERVER_PORT = int(sys.argv[2])
CA_FILE = sys.argv[3]
LIFETIME = float(sys.argv[4])
HOST = "127.0.0.1"

failures = []


def context():
    ctx = ssl.create_default_context(cafile=CA_FILE)
    ctx.set_alpn_protocols(["h2"])
    return ctx


CTX = context()


async def open_tls():
    """A TLS connection to the server that negotiated `h2` (ValueError otherwise)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(HOST, SERVER_PORT, ssl=CTX, server_hostname="localhost"),
        timeout=10)
    alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
    if alpn != "h2":
        writer.close()
        raise ValueError(f"the server selected ALPN {alpn!r}, not 'h2'")
    return reader, writer


def reset(writer):
    """Closes with a TCP reset (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def copy(reader, writer, half_close):
    """Copies until EOF; then `half_close` (FIN) or a full close. A reset on either
    side resets the other, so the client sees a reset as a reset; another error (a TLS
    alert, an EOF without close_notify) closes it."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if half_close and writer.can_write_eof():
            writer.write_eof()
        else:
            writer.close()
    except ConnectionResetError:
        reset(writer)
    except (ConnectionError, ssl.SSLError, OSError):
        writer.close()


async def relay(client_reader, client_writer):
    try:
        server_reader, server_writer = await open_tls()
    except (OSError, ssl.SSLError, ValueError, asyncio.TimeoutError) as e:
        failures.append(repr(e))
        print(f"tls_relay: {e!r}", file=sys.stderr, flush=True)
        reset(client_writer)
        return
    # Client to server: the client's EOF ends the TLS connection (TLS has no half
    # close that Python's ssl can send). Server to client: a FIN.
    up = asyncio.ensure_future(copy(client_reader, server_writer, half_close=False))
    down = asyncio.ensure_future(copy(server_reader, client_writer, half_close=True))
    await asyncio.gather(up, down)
    client_writer.close()
    server_writer.close()


async def probe(deadline):
    """Waits (bounded) until the server completes a TLS handshake with ALPN h2."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            _, writer = await open_tls()
            writer.close()
            return
        except ValueError as e:
            raise SystemExit(f"tls_relay: {e}")
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
            if loop.time() > deadline:
                raise SystemExit(f"tls_relay: the server on port {SERVER_PORT} never "
                                 f"completed a TLS handshake: {e!r}")
            await asyncio.sleep(0.05)


async def main():
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # SIGTERM (the script is done with it) ends the run like the lifetime does, so
    # the exit status still reports the failures.
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await probe(loop.time() + 10)
    # httpwg opens its 107 connections at once and gives each 250 ms to connect by
    # default: the backlog must hold them all while handshakes run.
    server = await asyncio.start_server(relay, HOST, LISTEN_PORT, backlog=1024)
    print("ready", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), timeout=LIFETIME)
    except asyncio.TimeoutError:
        pass
    # Not `wait_closed`: it would wait for the connections still open.
    server.close()


asyncio.run(main())
if failures:
    print(f"tls_relay: {len(failures)} connection(s) not relayed over TLS with h2",
          file=sys.stderr)
    sys.exit(1)
