"""The handlers of app.py: the lab's routes, written for Tornado 6.2.

    /             the chat page (chat.html), which opens a WebSocket to /ws
    /ws           WebSocket: "all:TEXT" goes to every client as
                  "broadcast TEXT", anything else comes back as "echo TEXT"
    /sleep?ms=N   waits N ms without blocking (await asyncio.sleep)
    /block?ms=N   blocks the whole event loop for N ms (time.sleep)
    /poll?ms=N    long polling: the next chat message, or a timeout
    /stats        clients, waiting polls, messages, event-loop delay
    /hello        "hello"

Everything here runs on one thread, the IOLoop's: a handler that awaits lets
the others run; a handler that blocks stops them all.
"""

import asyncio
import datetime
import os
import time
from pathlib import Path

import tornado.locks
import tornado.web
import tornado.websocket
from tornado.options import options

PAGE = (Path(__file__).parent / "chat.html").read_text()
PAGE = PAGE.replace("{server}", "Tornado")


def millis(handler, default, limit):
    """?ms=N as an int from 0 to limit; a bad value is a 400."""
    try:
        ms = int(handler.get_query_argument("ms", str(default)))
    except ValueError:
        raise tornado.web.HTTPError(400)
    if not 0 <= ms <= limit:
        raise tornado.web.HTTPError(400)
    return ms


class Chat:
    """Shared by every handler: one process, one loop, one copy."""

    clients = set()  # open ChatSocket objects
    messages = 0
    last = None  # (text, client number) of the latest message
    arrived = tornado.locks.Condition()  # long polls wait on it
    polls = 0

    @classmethod
    def received(cls, text, sender):
        cls.messages += 1
        cls.last = (text, sender)
        cls.arrived.notify_all()  # wakes every waiting /poll


class PageHandler(tornado.web.RequestHandler):
    def get(self):
        self.write(PAGE)


class ChatSocket(tornado.websocket.WebSocketHandler):
    # Tornado's check_origin(): an Origin whose host is not Host gets a 403.
    opened = 0

    def open(self):
        ChatSocket.opened += 1
        self.number = ChatSocket.opened
        Chat.clients.add(self)

    def on_message(self, message):
        if isinstance(message, bytes):  # binary frames: echoed as they came
            self.write_message(message, binary=True)
            return
        if message.startswith("all:"):
            for client in list(Chat.clients):  # broadcast: one write each
                client.write_message("broadcast " + message[4:])
        else:
            self.write_message("echo " + message)
        Chat.received(message, self.number)

    def on_close(self):
        Chat.clients.discard(self)


class SleepHandler(tornado.web.RequestHandler):
    async def get(self):
        ms = millis(self, 1000, 60_000)
        await asyncio.sleep(ms / 1000)  # the loop serves others meanwhile
        self.write(f"slept {ms} ms\n")


class BlockHandler(tornado.web.RequestHandler):
    async def get(self):
        ms = millis(self, 1000, 10_000)
        time.sleep(ms / 1000)  # the mistake: nothing else runs meanwhile
        self.write(f"blocked the event loop for {ms} ms\n")


class PollHandler(tornado.web.RequestHandler):
    async def get(self):
        ms = millis(self, options.poll_timeout * 1000, 120_000)
        before = Chat.messages
        Chat.polls += 1
        try:
            # wait() gives False at the timeout; the connection stays open
            timeout = datetime.timedelta(milliseconds=ms)
            arrived = await Chat.arrived.wait(timeout)
        finally:
            Chat.polls -= 1
        if arrived and Chat.messages > before and Chat.last is not None:
            text, sender = Chat.last
            self.write({"message": text, "from": sender})
        else:
            self.write({"message": None, "timeout": True})


class LoopMonitor:
    """How late the loop runs a 20 ms timer: the event-loop delay."""

    worst = 0.0

    @classmethod
    async def run(cls):
        while True:
            start = time.monotonic()
            await asyncio.sleep(0.02)
            late = (time.monotonic() - start - 0.02) * 1000
            cls.worst = max(late, cls.worst * 0.9)  # old spikes fade away


class StatsHandler(tornado.web.RequestHandler):
    def get(self):
        self.write({
            "pid": os.getpid(),
            "websockets": len(Chat.clients),
            "polls": Chat.polls,
            "messages": Chat.messages,
            "loopDelayMs": round(LoopMonitor.worst, 2),
        })


class HelloHandler(tornado.web.RequestHandler):
    def get(self):
        self.write("hello")


ROUTES = [
    (r"/", PageHandler),
    (r"/ws", ChatSocket),
    (r"/sleep", SleepHandler),
    (r"/block", BlockHandler),
    (r"/poll", PollHandler),
    (r"/stats", StatsHandler),
    (r"/hello", HelloHandler),
]
