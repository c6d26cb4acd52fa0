#!/usr/bin/python3
"""Self-test for server.py: run with /usr/bin/python3 selftest.py.

Starts server.py as a subprocess, talks to it with the websockets client and
urllib, prints "selftest ok" and exits 0, or raises on the first failure.
"""

import asyncio
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
PYTHON = "/usr/bin/python3"
READY_RE = re.compile(r"^READY ws=(\d+) http=(\d+)\n$")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Server:
    def __init__(self, ws_port=0, http_port=0):
        self.proc = subprocess.Popen(
            [PYTHON, SERVER, "--ws-port", str(ws_port), "--http-port", str(http_port)],
            stdout=subprocess.PIPE,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        check(ready, "no READY line within 10 s")
        line = self.proc.stdout.readline().decode()
        m = READY_RE.match(line)
        check(m, f"bad READY line: {line!r}")
        self.ws_port, self.http_port = int(m.group(1)), int(m.group(2))

    def wait_exit(self, timeout=5):
        rc = self.proc.wait(timeout)
        rest = self.proc.stdout.read()
        check(rest == b"", f"unexpected extra stdout: {rest!r}")
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def http_call(port, method, path, body=None, headers=None):
    """Blocking HTTP request -> (status, parsed JSON or text)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, ctype, data = resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        status, ctype, data = err.code, err.headers.get("Content-Type", ""), err.read()
    if ctype.startswith("application/json"):
        return status, json.loads(data)
    return status, data.decode()


async def call(port, method, path, body=None, headers=None):
    # Off the loop thread, so open client websockets keep being serviced.
    return await asyncio.to_thread(http_call, port, method, path, body, headers)


def connect(ws_port, cid=None, path="/ws", **kw):
    url = f"ws://127.0.0.1:{ws_port}{path}"
    if cid is not None:
        url += f"?clientId={cid}"
    kw.setdefault("max_size", None)
    return websockets.connect(
        url, compression=None, ping_interval=None, close_timeout=1, open_timeout=5, **kw
    )


async def recv(ws, timeout=5):
    return await asyncio.wait_for(ws.recv(), timeout)


async def expect_closed(ws, timeout=5):
    """Read until the connection closes; return the ConnectionClosed error."""
    try:
        while True:
            await recv(ws, timeout)
    except ConnectionClosed as exc:
        return exc


async def scenario(srv):
    hp, wp = srv.http_port, srv.ws_port

    # status on connect, echo, recording
    c1 = await connect(wp, "c1")
    status = json.loads(await recv(c1))
    check(status["type"] == "status", f"first message: {status}")
    check(status["data"]["sid"] == "c1", f"sid: {status}")
    check(status["data"]["status"]["exec_info"]["queue_remaining"] == 0, "queue_remaining")

    echo = json.dumps({"type": "echo", "n": 1})
    await c1.send(echo)
    check(await recv(c1) == echo, "echo")
    await c1.send("hello")
    await c1.send(b"\x01\x02")

    anon = await connect(wp)  # no clientId: server makes one up
    sid = json.loads(await recv(anon))["data"]["sid"]
    check(re.fullmatch(r"[0-9a-f]{32}", sid), f"generated sid {sid!r}")
    await anon.close()

    # HTTP basics
    check(await call(hp, "GET", "/") == (200, "ok"), "GET /")
    st, body = await call(hp, "GET", "/nope")
    check(st == 404, f"GET /nope -> {st}")
    st, body = await call(hp, "POST", "/prompt", b"not json")
    check(st == 400 and "error" in body, f"bad prompt -> {st} {body}")
    st, body = await call(hp, "POST", "/prompt", b'{"client_id": "c1"}')
    check(st == 400 and "error" in body, f"prompt without prompt -> {st} {body}")

    # prompt flow
    st, body = await call(
        hp,
        "POST",
        "/prompt",
        json.dumps({"prompt": {"_steps": 2, "_delay_ms": 1}, "client_id": "c1"}).encode(),
        {"Content-Type": "application/json", "X-Test": "yes"},
    )
    check(st == 200, f"POST /prompt -> {st} {body}")
    pid = body["prompt_id"]
    check(body["node_errors"] == {} and isinstance(body["number"], int), f"prompt reply {body}")
    seen = []
    while True:
        msg = await recv(c1)
        if isinstance(msg, bytes):
            check(msg == struct.pack(">II", 1, 2) + b"PNGDATA", f"binary frame {msg!r}")
            seen.append("bin")
            continue
        obj = json.loads(msg)
        if obj["type"] != "status":
            check(obj["data"]["prompt_id"] == pid, f"prompt_id in {obj}")
        seen.append(obj["type"] if obj["type"] != "progress" else f"progress{obj['data']['value']}")
        if obj["type"] == "status":
            break
    want = ["execution_start", "executing", "progress1", "bin", "progress2",
            "executed", "execution_success", "status"]
    check(seen == want, f"prompt flow {seen}")
    st, hist = await call(hp, "GET", f"/history/{pid}")
    check(st == 200 and hist[pid]["status"]["completed"] is True, f"history {hist}")
    check(await call(hp, "GET", "/history/unknown") == (200, {}), "empty history")

    # recordings
    st, got = await call(hp, "GET", "/control/received?client=c1")
    check(got["messages"] == [echo, "hello", "bin:0102"], f"received {got}")
    st, got = await call(hp, "GET", "/control/requests")
    posts = [r for r in got["requests"] if r["method"] == "POST" and r["path"] == "/prompt"]
    check(len(posts) == 3, f"recorded prompt posts {posts}")
    check(posts[-1]["headers"].get("x-test") == "yes", f"lower-case headers {posts[-1]}")
    check(json.loads(posts[-1]["body"])["client_id"] == "c1", "recorded body")
    st, got = await call(hp, "GET", "/control/clients")
    check(got["clients"] == {"c1": 1}, f"clients {got}")

    # refuse 401 once, then a successful connect; wrong path is a 404
    st, got = await call(hp, "POST", "/control/refuse?status=401&count=1")
    check(st == 200, f"refuse -> {st} {got}")
    try:
        async with connect(wp, "c2"):
            raise AssertionError("refused handshake succeeded")
    except InvalidStatusCode as exc:
        check(exc.status_code == 401, f"refused with {exc.status_code}")
    try:
        async with connect(wp, "c2", path="/other"):
            raise AssertionError("wrong path accepted")
    except InvalidStatusCode as exc:
        check(exc.status_code == 404, f"wrong path -> {exc.status_code}")
    c2 = await connect(wp, "c2")
    await recv(c2)
    st, got = await call(hp, "GET", "/control/handshakes")
    paths = [(h["path"], h["query"]) for h in got["handshakes"]]
    check(paths[-3:] == [("/ws", "clientId=c2"), ("/other", "clientId=c2"), ("/ws", "clientId=c2")],
          f"handshakes {paths}")
    check("sec-websocket-key" in got["handshakes"][-1]["headers"], "handshake headers")

    # drop: abnormal closure, no close frame
    st, got = await call(hp, "POST", "/control/drop?client=c2")
    check(got == {"dropped": 1}, f"drop {got}")
    exc = await expect_closed(c2)
    check(exc.code == 1006 and exc.rcvd is None, f"drop seen as {exc!r}")

    # mute: pings go unanswered; unmute brings the pong
    st, got = await call(hp, "POST", "/control/mute?client=c1")
    check(got == {"muted": 1}, f"mute {got}")
    waiter = await c1.ping()
    try:
        await asyncio.wait_for(asyncio.shield(waiter), 1)
        raise AssertionError("muted connection answered a ping")
    except asyncio.TimeoutError:
        pass
    st, got = await call(hp, "POST", "/control/unmute?client=c1")
    check(got == {"unmuted": 1}, f"unmute {got}")
    await asyncio.wait_for(waiter, 2)

    # send text / binary
    st, got = await call(hp, "POST", "/control/send?client=c1", "héllo".encode())
    check(got == {"sent": 1} and await recv(c1) == "héllo", "control send text")
    st, got = await call(hp, "POST", "/control/send?client=c1&binary=1", b"\x00\xff")
    check(got == {"sent": 1} and await recv(c1) == b"\x00\xff", "control send binary")

    # close with a code
    c3 = await connect(wp, "c3")
    await recv(c3)
    st, got = await call(hp, "POST", "/control/close?client=c3&code=4001&reason=bye")
    check(got == {"closed": 1}, f"close {got}")
    exc = await expect_closed(c3)
    check(exc.rcvd is not None and (exc.rcvd.code, exc.rcvd.reason) == (4001, "bye"), f"close seen as {exc!r}")
    st, got = await call(hp, "POST", "/control/close?client=c1&code=1005")
    check(st == 400, "reserved close code rejected")

    # oversize: a client with a small max_size fails with 1009
    c4 = await connect(wp, "c4", max_size=1000)
    await recv(c4)
    st, got = await call(hp, "POST", "/control/oversize?client=c4&bytes=5000")
    exc = await expect_closed(c4)
    check(exc.sent is not None and exc.sent.code == 1009, f"oversize seen as {exc!r}")

    # chaos: p=1 aborts right after the first text message is recorded
    await call(hp, "POST", "/control/chaos?p=1&seed=7")
    c5 = await connect(wp, "c5")
    await recv(c5)
    await c5.send(json.dumps({"type": "echo"}))
    exc = await expect_closed(c5)
    check(exc.code == 1006, f"chaos seen as {exc!r}")
    await call(hp, "POST", "/control/chaos?p=0")
    st, got = await call(hp, "GET", "/control/received?client=c5")
    check(len(got["messages"]) == 1, f"chaos recorded {got}")

    # badutf8: client fails the connection with 1007
    st, got = await call(hp, "POST", "/control/badutf8?client=c1")
    check(got == {"sent": 1}, f"badutf8 {got}")
    exc = await expect_closed(c1)
    check(exc.sent is not None and exc.sent.code == 1007, f"badutf8 seen as {exc!r}")

    # reset
    await call(hp, "POST", "/control/reset")
    st, got = await call(hp, "GET", "/control/received?client=c1")
    check(got == {"messages": []}, f"after reset {got}")
    st, got = await call(hp, "GET", "/control/handshakes")
    check(got == {"handshakes": []}, f"handshakes after reset {got}")

    # shutdown closes open clients with 1001
    c6 = await connect(wp, "c6")
    await recv(c6)
    st, got = await call(hp, "POST", "/control/shutdown")
    check(got == {"shutdown": True}, f"shutdown {got}")
    exc = await expect_closed(c6)
    check(exc.rcvd is not None and exc.rcvd.code == 1001, f"shutdown seen as {exc!r}")


async def restarted(srv):
    ws = await connect(srv.ws_port, "again")
    check(json.loads(await recv(ws))["data"]["sid"] == "again", "status after restart")
    await ws.close()


def main():
    t0 = time.monotonic()
    srv = Server()
    try:
        asyncio.run(scenario(srv))
        rc = srv.wait_exit()
        check(rc == 0, f"exit code after /control/shutdown: {rc}")
    finally:
        srv.kill()

    # Same ports again, immediately.
    srv2 = Server(srv.ws_port, srv.http_port)
    try:
        check((srv2.ws_port, srv2.http_port) == (srv.ws_port, srv.http_port), "same ports")
        asyncio.run(restarted(srv2))
        srv2.proc.send_signal(signal.SIGTERM)
        rc = srv2.wait_exit()
        check(rc == 0, f"exit code after SIGTERM: {rc}")
    finally:
        srv2.kill()
    print(f"took {time.monotonic() - t0:.1f}s", file=sys.stderr)
    print("selftest ok")


if __name__ == "__main__":
    main()
