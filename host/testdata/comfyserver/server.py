#!/usr/bin/python3
"""Stand-in for a ComfyUI server, with an HTTP control API for fault injection.

Used by wsplug's Go tests as an independent websocket peer. Needs only the
Python standard library and Debian's python3-websockets (10.x, legacy
asyncio API); start it with /usr/bin/python3.

    /usr/bin/python3 server.py [--ws-port N] [--http-port M] [--host H]

Once both listeners are bound, exactly one line is written to stdout:

    READY ws=<port> http=<port>

Everything else (diagnostics) goes to stderr. See README.md for endpoints.

Threading model: all mutable state lives in the Hub object and is only
touched from the asyncio event loop thread. The HTTP server runs in its own
threads and hands each request to the loop with run_coroutine_threadsafe.
"""

import argparse
import asyncio
import http
import http.server
import json
import logging
import random
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.exceptions import ConnectionClosed, ProtocolError
from websockets.frames import OP_TEXT, Close
from websockets.legacy.protocol import State

log = logging.getLogger("comfyserver")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # accepted incoming message size
MAX_OVERSIZE_BYTES = 512 * 1024 * 1024  # cap for /control/oversize
HTTP_DISPATCH_TIMEOUT = 120.0  # seconds an HTTP thread waits for the loop

# Binary preview frame sent during a prompt: event type 1 (preview image),
# image format 2 (PNG), then a stand-in payload.
PREVIEW_FRAME = struct.pack(">II", 1, 2) + b"PNGDATA"


class BadRequest(Exception):
    """A request parameter or body is invalid; turns into HTTP 400."""


def lower_header_dict(pairs):
    """Header (name, value) pairs -> dict with lower-case names.

    Repeated headers are joined with ", " in arrival order.
    """
    out = {}
    for name, value in pairs:
        key = name.lower()
        if key in out:
            out[key] = out[key] + ", " + value
        else:
            out[key] = value
    return out


def q_str(query, name, default=None):
    values = query.get(name)
    if not values:
        return default
    return values[-1]


def q_int(query, name, default=None):
    raw = q_str(query, name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(f"missing query parameter {name!r}")
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"query parameter {name!r} is not an integer: {raw!r}")


def q_float(query, name, default=None):
    raw = q_str(query, name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(f"missing query parameter {name!r}")
        return default
    try:
        return float(raw)
    except ValueError:
        raise BadRequest(f"query parameter {name!r} is not a number: {raw!r}")


def status_message(sid=None):
    data = {"status": {"exec_info": {"queue_remaining": 0}}}
    if sid is not None:
        data["sid"] = sid
    return {"type": "status", "data": data}


class Hub:
    """Shared state and behaviour; used only on the event loop thread."""

    def __init__(self, close_timeout):
        self.close_timeout = close_timeout
        self.stop = asyncio.Event()
        self.conns = {}  # client id -> [protocol, ...] (open connections)
        self.received = {}  # client id -> [recorded message, ...]
        self.requests = []  # recorded non-control HTTP requests
        self.handshakes = []  # every websocket handshake attempt
        self.history = {}  # prompt id -> history entry, once finished
        self.prompt_number = 0
        self.refuse_status = None
        self.refuse_left = 0  # >0: that many more; -1: until cleared
        self.chaos_p = 0.0
        self.chaos_rng = None
        self.dropping = set()  # dropped connections, whose read-ahead is still recorded
        self.finished = {}  # connection -> asyncio.Event set when its loop has ended
        self.muted = set()
        self.background = set()  # keep references to fire-and-forget tasks

        self.control_routes = {
            "/control/received": ("GET", self.c_received),
            "/control/requests": ("GET", self.c_requests),
            "/control/clients": ("GET", self.c_clients),
            "/control/handshakes": ("GET", self.c_handshakes),
            "/control/drop": ("POST", self.c_drop),
            "/control/close": ("POST", self.c_close),
            "/control/mute": ("POST", self.c_mute),
            "/control/unmute": ("POST", self.c_unmute),
            "/control/refuse": ("POST", self.c_refuse),
            "/control/send": ("POST", self.c_send),
            "/control/oversize": ("POST", self.c_oversize),
            "/control/badutf8": ("POST", self.c_badutf8),
            "/control/ping": ("POST", self.c_ping),
            "/control/chaos": ("POST", self.c_chaos),
            "/control/reset": ("POST", self.c_reset),
            "/control/shutdown": ("POST", self.c_shutdown),
        }

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def all_connections(self):
        return [ws for conns in self.conns.values() for ws in conns]

    def targets(self, query):
        """Connections named by ?client=ID, or all of them when absent."""
        cid = q_str(query, "client")
        if cid is None or cid == "":
            return self.all_connections()
        return list(self.conns.get(cid, ()))

    # ------------------------------------------------------------------
    # websocket side

    async def on_handshake(self, path, request_headers):
        """process_request hook: record, then maybe refuse the handshake."""
        parts = urlsplit(path)
        self.handshakes.append(
            {
                "path": parts.path,
                "query": parts.query,
                "headers": lower_header_dict(request_headers.raw_items()),
                "at": time.time(),
            }
        )
        if parts.path != "/ws":
            return (
                http.HTTPStatus.NOT_FOUND,
                [("Content-Type", "text/plain")],
                b"404: no websocket endpoint at this path\n",
            )
        if self.refuse_left != 0:
            if self.refuse_left > 0:
                self.refuse_left -= 1
            status = self.refuse_status
            body = f"{status.value} {status.phrase}: refused by test control\n"
            return status, [("Content-Type", "text/plain")], body.encode()
        return None

    async def on_connection(self, ws):
        query = parse_qs(urlsplit(ws.path).query, keep_blank_values=True)
        cid = q_str(query, "clientId") or uuid.uuid4().hex
        # A dropped connection of the same client may still be recording
        # what it had read: its messages come first.
        for prev in list(self.conns.get(cid, ())):
            if prev in self.dropping:
                await self.finished[prev].wait()
        self.finished[ws] = asyncio.Event()
        self.conns.setdefault(cid, []).append(ws)
        self.received.setdefault(cid, [])
        try:
            await ws.send(json.dumps(status_message(cid)))
            while True:
                # After a drop the loop goes on: it records what the server
                # had read before the connection died, then ends with
                # ConnectionClosed.
                message = await ws.recv()
                if isinstance(message, bytes):
                    self.received.setdefault(cid, []).append("bin:" + message.hex())
                    continue
                self.received.setdefault(cid, []).append(message)
                if ws in self.dropping:
                    continue
                if self.chaos_p > 0 and self.chaos_rng.random() < self.chaos_p:
                    log.info("chaos: aborting a connection of client %s", cid)
                    self.abort(ws)
                    continue
                if self.is_echo(message):
                    await ws.send(message)
        except ConnectionClosed:
            pass
        finally:
            conns = self.conns.get(cid)
            if conns is not None:
                if ws in conns:
                    conns.remove(ws)
                if not conns:
                    del self.conns[cid]
            self.muted.discard(ws)
            self.dropping.discard(ws)
            self.finished.pop(ws).set()

    def abort(self, ws):
        """Drops the TCP connection without a close frame, as a crash would.

        What reached the server is not lost with it: the bytes waiting in the
        kernel's receive buffer are read first, and on_connection records
        every message in them and in websockets' read-ahead. Only the frames
        still on their way (in the client's socket, on the wire) are lost.
        """
        if ws in self.dropping:
            return
        self.dropping.add(ws)
        transport = ws.transport
        sock = getattr(transport, "_sock", None)  # the selector transport's socket
        if sock is not None:
            try:
                while True:
                    data = sock.recv(1 << 16)
                    if not data:
                        break
                    ws.data_received(data)
            except (BlockingIOError, InterruptedError):
                pass  # nothing more has arrived
            except OSError:
                pass  # the peer is gone already
            try:
                # abort() closes the socket only on the loop's next turn:
                # tell the peer now, so that it stops writing sooner.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        transport.abort()

    @staticmethod
    def is_echo(message):
        try:
            obj = json.loads(message)
        except ValueError:
            return False
        return isinstance(obj, dict) and obj.get("type") == "echo"

    async def send_to(self, conns, data, timeout):
        """Send one message to each connection; return how many succeeded."""
        live = [ws for ws in conns if ws.state is State.OPEN]
        if not live:
            return 0
        tasks = [asyncio.ensure_future(ws.send(data)) for ws in live]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:  # let slow sends finish in the background
            self.background.add(task)
            task.add_done_callback(self.background.discard)
            task.add_done_callback(_swallow_result)
        ok = 0
        for task in done:
            if task.exception() is None:
                ok += 1
        return ok

    # ------------------------------------------------------------------
    # ComfyUI-like HTTP side

    async def run_prompt(self, pid, prompt, cid, steps, delay, fail):
        try:
            if cid is None or not self.conns.get(cid):
                return

            async def emit(item):
                data = item if isinstance(item, bytes) else json.dumps(item)
                for ws in list(self.conns.get(cid, ())):
                    try:
                        await ws.send(data)
                    except ConnectionClosed:
                        pass
                await asyncio.sleep(delay)

            await emit({"type": "execution_start", "data": {"prompt_id": pid}})
            await emit({"type": "executing", "data": {"node": "3", "prompt_id": pid}})
            for value in range(1, steps + 1):
                await emit(
                    {
                        "type": "progress",
                        "data": {"value": value, "max": steps, "prompt_id": pid, "node": "3"},
                    }
                )
                if value == 1:
                    await emit(PREVIEW_FRAME)
            if fail:
                await emit(
                    {
                        "type": "execution_error",
                        "data": {
                            "prompt_id": pid,
                            "node_id": "3",
                            "node_type": "KSampler",
                            "exception_message": "injected failure",
                            "exception_type": "RuntimeError",
                        },
                    }
                )
            else:
                await emit(
                    {
                        "type": "executed",
                        "data": {
                            "node": "9",
                            "prompt_id": pid,
                            "output": {"images": [{"filename": "out.png", "type": "output"}]},
                        },
                    }
                )
                await emit({"type": "execution_success", "data": {"prompt_id": pid}})
            # Recorded before the final status message, so a client that
            # reads /history after seeing it finds the entry.
            self.finish_prompt(pid, prompt, fail)
            await emit(status_message())
        except Exception:
            log.exception("prompt %s failed", pid)
        finally:
            self.finish_prompt(pid, prompt, fail)

    def finish_prompt(self, pid, prompt, fail):
        if pid not in self.history:
            self.history[pid] = {"prompt": prompt, "status": {"completed": not fail}}

    async def post_prompt(self, body):
        try:
            doc = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return 400, {"error": f"invalid JSON body: {exc}"}
        if not isinstance(doc, dict) or "prompt" not in doc:
            return 400, {"error": "body must be a JSON object with a \"prompt\" field"}
        prompt = doc["prompt"]
        if not isinstance(prompt, dict):
            return 400, {"error": "\"prompt\" must be a JSON object"}
        cid = doc.get("client_id")
        if cid is not None and not isinstance(cid, str):
            return 400, {"error": "\"client_id\" must be a string"}

        steps = prompt.get("_steps", 3)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= 100000:
            return 400, {"error": "\"_steps\" must be an integer in 0..100000"}
        delay_ms = prompt.get("_delay_ms", 5)
        if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)) or delay_ms < 0:
            return 400, {"error": "\"_delay_ms\" must be a non-negative number"}
        fail = bool(prompt.get("_fail", False))

        # As ComfyUI does, a client may choose the prompt id, so that it can
        # watch for the prompt's messages before it posts it.
        pid = doc.get("prompt_id")
        if pid is None:
            pid = str(uuid.uuid4())
        elif not isinstance(pid, str) or not pid:
            return 400, {"error": "\"prompt_id\" must be a non-empty string"}
        number = self.prompt_number
        self.prompt_number += 1
        self.spawn(self.run_prompt(pid, prompt, cid, steps, delay_ms / 1000.0, fail))
        return 200, {"prompt_id": pid, "number": number, "node_errors": {}}

    async def handle_http(self, method, target, headers, body):
        """Entry point for every HTTP request; returns (status, payload).

        payload is a dict/list (sent as JSON) or a str (sent as text/plain).
        """
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            if path.startswith("/control/"):
                route = self.control_routes.get(path)
                if route is None:
                    return 404, {"error": f"unknown control endpoint {path}"}
                want, func = route
                if method != want:
                    return 405, {"error": f"{path} needs {want}"}
                return 200, await func(query, body)

            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": parts.query,
                    "headers": headers,
                    "body": body.decode("utf-8", errors="replace"),
                }
            )
            if path == "/" and method == "GET":
                return 200, "ok"
            if path == "/prompt" and method == "POST":
                return await self.post_prompt(body)
            if path.startswith("/history/") and method == "GET":
                pid = path[len("/history/"):]
                entry = self.history.get(pid)
                return 200, ({pid: entry} if entry is not None else {})
            return 404, {"error": "not found"}
        except BadRequest as exc:
            return 400, {"error": str(exc)}

    # ------------------------------------------------------------------
    # control API

    async def c_received(self, query, body):
        cid = q_str(query, "client")
        if not cid:
            raise BadRequest("missing query parameter 'client'")
        # Optional long poll: wait until at least `min` messages are recorded.
        want = q_int(query, "min", 0)
        timeout_ms = q_int(query, "timeout_ms", 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000.0
        while len(self.received.get(cid, ())) < want and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return {"messages": list(self.received.get(cid, ()))}

    async def c_requests(self, query, body):
        return {"requests": list(self.requests)}

    async def c_clients(self, query, body):
        return {"clients": {cid: len(conns) for cid, conns in self.conns.items() if conns}}

    async def c_handshakes(self, query, body):
        return {"handshakes": list(self.handshakes)}

    async def c_drop(self, query, body):
        n = 0
        for ws in self.targets(query):
            if ws.transport is not None and not ws.transport.is_closing():
                self.abort(ws)
                n += 1
        return {"dropped": n}

    async def c_close(self, query, body):
        code = q_int(query, "code", 1000)
        reason = q_str(query, "reason", "")
        try:
            Close(code, reason).serialize()
        except ProtocolError:
            raise BadRequest(f"close code {code} may not be sent on the wire")
        if len(reason.encode("utf-8")) > 123:
            raise BadRequest("close reason longer than 123 bytes")
        conns = [ws for ws in self.targets(query) if ws.state is State.OPEN]
        for ws in conns:
            self.spawn(ws.close(code, reason))
        # Return once every close frame has been written (close() writes it
        # within a couple of loop iterations), not after the whole handshake.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while any(ws.state is State.OPEN for ws in conns) and loop.time() < deadline:
            await asyncio.sleep(0.001)
        return {"closed": len(conns)}

    async def c_mute(self, query, body):
        n = 0
        for ws in self.targets(query):
            if ws.transport is None or ws.transport.is_closing():
                continue
            ws.transport.pause_reading()
            # The protocol's StreamReader resumes the transport itself when
            # it had paused it for flow control; forget that so the mute
            # sticks until /control/unmute.
            if hasattr(ws.reader, "_paused"):
                ws.reader._paused = False
            self.muted.add(ws)
            n += 1
        return {"muted": n}

    async def c_unmute(self, query, body):
        cid = q_str(query, "client")
        conns = self.targets(query) if cid else list(self.muted)
        n = 0
        for ws in conns:
            if ws in self.muted:
                self.muted.discard(ws)
                if ws.transport is not None and not ws.transport.is_closing():
                    ws.transport.resume_reading()
                n += 1
        return {"unmuted": n}

    async def c_refuse(self, query, body):
        count = q_int(query, "count", 1)
        if count < -1:
            raise BadRequest("count must be -1, 0 or positive")
        if count == 0:
            self.refuse_status, self.refuse_left = None, 0
            return {"refuse": {"status": None, "count": 0}}
        code = q_int(query, "status", 503)
        try:
            status = http.HTTPStatus(code)
        except ValueError:
            raise BadRequest(f"unknown HTTP status {code}")
        if code < 200:
            raise BadRequest("refusal status must be >= 200")
        self.refuse_status, self.refuse_left = status, count
        return {"refuse": {"status": code, "count": count}}

    async def c_send(self, query, body):
        timeout = q_int(query, "timeout_ms", 10000) / 1000.0
        if q_str(query, "binary", "0") in ("1", "true"):
            data = body
        else:
            try:
                data = body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("body is not UTF-8; use binary=1 or /control/badutf8")
        return {"sent": await self.send_to(self.targets(query), data, timeout)}

    async def c_oversize(self, query, body):
        size = q_int(query, "bytes")
        if not 0 <= size <= MAX_OVERSIZE_BYTES:
            raise BadRequest(f"bytes must be in 0..{MAX_OVERSIZE_BYTES}")
        timeout = q_int(query, "timeout_ms", 10000) / 1000.0
        return {"sent": await self.send_to(self.targets(query), "x" * size, timeout)}

    async def c_badutf8(self, query, body):
        n = 0
        for ws in self.targets(query):
            if ws.state is not State.OPEN:
                continue
            try:
                # Bypass send()'s str encoding: a raw TEXT frame, bad payload.
                await ws.write_frame(True, OP_TEXT, b"\xff\xfe\xfd")
                n += 1
            except ConnectionClosed:
                pass
        return {"sent": n}

    async def c_ping(self, query, body):
        """Ping from the server side; report how many pongs came back."""
        timeout = q_int(query, "timeout_ms", 1000) / 1000.0
        waiters = []
        for ws in self.targets(query):
            if ws.state is State.OPEN:
                try:
                    waiters.append(await ws.ping())
                except ConnectionClosed:
                    pass
        ponged = 0
        if waiters:
            done, pending = await asyncio.wait(waiters, timeout=timeout)
            ponged = sum(1 for w in done if w.exception() is None)
            for w in pending:
                w.add_done_callback(_swallow_result)
        return {"pinged": len(waiters), "ponged": ponged}

    async def c_chaos(self, query, body):
        p = q_float(query, "p", 0.0)
        if not 0.0 <= p <= 1.0:
            raise BadRequest("p must be in [0, 1]")
        seed = q_int(query, "seed", 0)
        self.chaos_p = p
        self.chaos_rng = random.Random(seed) if p > 0 else None
        return {"chaos": {"p": p, "seed": seed}}

    async def c_reset(self, query, body):
        self.received = {cid: [] for cid in self.conns}
        self.requests = []
        self.handshakes = []
        self.refuse_status, self.refuse_left = None, 0
        self.chaos_p, self.chaos_rng = 0.0, None
        await self.c_unmute({}, b"")
        return {"reset": True}

    async def c_shutdown(self, query, body):
        # The HTTP thread sets self.stop after the response has been written.
        return {"shutdown": True}


def _swallow_result(task):
    if not task.cancelled():
        task.exception()


class ControlHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-comfyui/1"
    sys_version = ""

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def log_message(self, fmt, *args):
        log.debug("http %s " + fmt, self.address_string(), *args)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def dispatch(self):
        hub = self.server.hub
        loop = self.server.loop
        try:
            body = self.read_body()
        except ValueError:
            self.respond(400, {"error": "bad request body framing"})
            return
        headers = lower_header_dict(self.headers.items())
        method = self.command
        try:
            fut = asyncio.run_coroutine_threadsafe(
                hub.handle_http(method, self.path, headers, body), loop
            )
            status, payload = fut.result(HTTP_DISPATCH_TIMEOUT)
        except RuntimeError:  # loop already stopped
            status, payload = 503, {"error": "server is shutting down"}
        except Exception as exc:
            log.exception("HTTP %s %s failed", method, self.path)
            status, payload = 500, {"error": f"internal error: {exc!r}"}

        shutting_down = status == 200 and method == "POST" and urlsplit(self.path).path == "/control/shutdown"
        if shutting_down:
            self.close_connection = True
        self.respond(status, payload)
        if shutting_down:
            loop.call_soon_threadsafe(hub.stop.set)

    def respond(self, status, payload):
        if isinstance(payload, str):
            data, ctype = payload.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode("utf-8"), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()


async def amain(args):
    loop = asyncio.get_running_loop()
    hub = Hub(args.close_timeout)

    ping_interval = args.ping_interval if args.ping_interval > 0 else None
    try:
        ws_server = await websockets.serve(
            hub.on_connection,
            args.host,
            args.ws_port,
            process_request=hub.on_handshake,
            compression=None,
            max_size=MAX_MESSAGE_BYTES,
            ping_interval=ping_interval,
            ping_timeout=ping_interval,
            close_timeout=args.close_timeout,
            reuse_address=True,
        )
    except OSError as exc:
        log.error("cannot listen for websockets on %s:%s: %s", args.host, args.ws_port, exc)
        return 2
    ws_port = next(iter(ws_server.sockets)).getsockname()[1]

    ControlHTTPServer.address_family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    try:
        httpd = ControlHTTPServer((args.host, args.http_port), RequestHandler)
    except OSError as exc:
        log.error("cannot listen for HTTP on %s:%s: %s", args.host, args.http_port, exc)
        ws_server.close()
        await ws_server.wait_closed()
        return 2
    httpd.hub = hub
    httpd.loop = loop
    http_port = httpd.server_address[1]
    http_thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="http", daemon=True
    )
    http_thread.start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, hub.stop.set)

    sys.stdout.write(f"READY ws={ws_port} http={http_port}\n")
    sys.stdout.flush()
    log.info("listening: ws=%d http=%d", ws_port, http_port)

    await hub.stop.wait()
    log.info("shutting down")

    await asyncio.to_thread(httpd.shutdown)
    httpd.server_close()

    # Muted connections could not complete a closing handshake; unmute them so
    # every client gets a proper 1001 close frame, then bound the wait.
    await hub.c_unmute({}, b"")
    ws_server.close()
    try:
        await asyncio.wait_for(ws_server.wait_closed(), args.close_timeout + 1.0)
    except asyncio.TimeoutError:
        for ws in hub.all_connections():
            if ws.transport is not None:
                ws.transport.abort()
    for task in list(hub.background):
        task.cancel()
    return 0


def main():
    parser = argparse.ArgumentParser(description="fake ComfyUI server with fault injection")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ws-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--http-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=0,
        help="seconds between server keepalive pings; 0 (default) sends none",
    )
    parser.add_argument(
        "--close-timeout",
        type=float,
        default=2.0,
        help="seconds to wait for the peer during a closing handshake",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logs on stderr")
    args = parser.parse_args()

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="comfyserver %(levelname)s %(name)s: %(message)s",
    )
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
