"""A raw ASGI 3.0 app, no framework: the lab's routes, on any ASGI server.

    python3 -m uvicorn app:app                  # http://127.0.0.1:8000/
    python3 -m uvicorn app:app --workers 2      # two processes
    gunicorn -w 2 -k uvicorn.workers.UvicornWorker app:app
    hypercorn app:app    daphne app:app    granian --interface asgi app:app

Routes: /  the chat page     /ws  WebSocket echo, "all:TEXT" to everyone
        /sleep?ms=N  awaits   /block?ms=N  blocks the loop (time.sleep)
        /poll?ms=N  long poll /stats  JSON   /hello  "hello"

The server calls app(scope, receive, send) once per connection: for HTTP,
once per request; for a WebSocket, once for the whole connection; and once
per process with scope["type"] == "lifespan", at startup.
"""

import asyncio
import json
import os
import time
from pathlib import Path
from urllib.parse import parse_qs

PAGE = (Path(__file__).parent / "chat.html").read_text()
PAGE = PAGE.replace("{server}", "Uvicorn")
TEXT = b"text/plain; charset=utf-8"
HTML = b"text/html; charset=utf-8"
JSON = b"application/json"


def compact(value):
    """JSON as Starlette's JSONResponse writes it: no spaces."""
    return json.dumps(value, separators=(",", ":")).encode()


class State:
    """This process's shared state: every connection runs on the same loop."""

    sockets = {}  # number -> the send() of an open WebSocket
    opened = 0
    messages = 0
    waiting = set()  # futures of the long polls waiting for a message
    loop_delay_ms = None  # measured from startup to shutdown (lifespan)
    monitor = None


async def app(scope, receive, send):
    if scope["type"] == "http":
        await http(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket(scope, receive, send)
    elif scope["type"] == "lifespan":
        await lifespan(receive, send)


# ---- lifespan: once per process, before the first request and after the last

async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Start what the requests will share: a DB pool, or this monitor.
            State.monitor = asyncio.create_task(watch_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            State.monitor.cancel()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def watch_loop():
    """How late a 20 ms timer fires: the event-loop delay, for /stats."""
    State.loop_delay_ms = 0.0
    while True:
        start = time.monotonic()
        await asyncio.sleep(0.02)
        late = (time.monotonic() - start - 0.02) * 1000
        State.loop_delay_ms = max(late, State.loop_delay_ms * 0.9)


# ---- HTTP: one call per request

async def respond(send, status, body, content_type=TEXT):
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [  # bytes, lower-case names; Uvicorn adds date and server
            (b"content-length", str(len(body)).encode()),
            (b"content-type", content_type),
        ],
    })
    await send({"type": "http.response.body", "body": body})


def millis(scope, default, limit):
    query = parse_qs(scope["query_string"].decode())
    raw = query.get("ms", [str(default)])[0]
    return int(raw) if raw.isdigit() and int(raw) <= limit else None


async def http(scope, receive, send):
    path = scope["path"]
    if scope["method"] != "GET":
        return await respond(send, 405, b"Method Not Allowed")
    if path == "/":
        return await respond(send, 200, PAGE.encode(), HTML)
    if path == "/hello":
        return await respond(send, 200, b"hello")
    if path == "/sleep":
        ms = millis(scope, 1000, 60_000)
        if ms is None:
            return await respond(send, 400, b"Bad Request")
        await asyncio.sleep(ms / 1000)  # other connections run meanwhile
        return await respond(send, 200, f"slept {ms} ms\n".encode())
    if path == "/block":
        ms = millis(scope, 1000, 10_000)
        if ms is None:
            return await respond(send, 400, b"Bad Request")
        time.sleep(ms / 1000)  # the mistake: the whole process stops
        body = f"blocked the event loop for {ms} ms\n"
        return await respond(send, 200, body.encode())
    if path == "/poll":
        return await poll(scope, receive, send)
    if path == "/stats":
        delay = State.loop_delay_ms  # None with --lifespan off
        stats = {
            "pid": os.getpid(),
            "websockets": len(State.sockets),
            "polls": len(State.waiting),
            "messages": State.messages,
            "loopDelayMs": delay if delay is None else round(delay, 2),
        }
        return await respond(send, 200, compact(stats), JSON)
    await respond(send, 404, b"Not Found")  # /ws too, unless it is an upgrade


async def poll(scope, receive, send):
    """Long polling: the next chat message, or after ?ms= a timeout."""
    ms = millis(scope, 30_000, 120_000)
    if ms is None:
        return await respond(send, 400, b"Bad Request")
    await receive()  # http.request: the (empty) body of the GET
    arrived = asyncio.get_running_loop().create_future()
    State.waiting.add(arrived)
    gone = asyncio.create_task(receive())  # http.disconnect: the client left
    try:
        done, _ = await asyncio.wait({arrived, gone}, timeout=ms / 1000,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        State.waiting.discard(arrived)
        gone.cancel()
    if arrived in done:
        text, sender = arrived.result()
        body = {"message": text, "from": sender}
    elif gone in done:
        return  # nobody left to answer
    else:
        body = {"message": None, "timeout": True}
    await respond(send, 200, compact(body), JSON)


# ---- WebSocket: one call for the whole connection

async def websocket(scope, receive, send):
    message = await receive()  # {"type": "websocket.connect"}
    # Uvicorn does not check Origin: an app that uses cookies must, e.g.
    # if origin not in ALLOWED: await send({"type": "websocket.close"}) -> 403
    await send({"type": "websocket.accept"})
    State.opened += 1
    number = State.opened
    State.sockets[number] = send
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:  # binary: echoed as it came
                echo = {"type": "websocket.send", "bytes": message["bytes"]}
                await send(echo)
                continue
            text = message.get("text") or ""
            if text.startswith("all:"):
                out = {"type": "websocket.send",
                       "text": "broadcast " + text[4:]}
                for other in list(State.sockets.values()):
                    try:
                        await other(out)
                    except Exception:  # that client is closing: skip it
                        pass
            else:
                await send({"type": "websocket.send", "text": "echo " + text})
            State.messages += 1
            for waiter in State.waiting:
                if not waiter.done():
                    waiter.set_result((text, number))
    finally:
        State.sockets.pop(number, None)
