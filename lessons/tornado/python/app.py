"""The tornado lesson's app, for Tornado 6.2 (chat.py has the handlers).

    python3 app.py                          # http://127.0.0.1:8888/
    python3 app.py --port=8001 --poll_timeout=10

Tornado prints no banner: the first line you see is the first request's,
    [I 261126 10:13:47 web:2293] 200 GET / (127.0.0.1) 1.61ms
(the lab's server adds one "Listening on" line, so that its address shows).
Open http://127.0.0.1:8888/ in two browser tabs and chat between them.

One process, one thread, one event loop (asyncio's, since Tornado 5.0).
To use every core, run one process per CPU: see multi_process.py.
A second copy of this file on the same port fails with
OSError: [Errno 98] Address already in use.
"""

import asyncio

import tornado.web
from tornado.options import define, options, parse_command_line

from chat import ROUTES, LoopMonitor

define("port", default=8888, type=int, help="the port to listen on")
define("poll_timeout", default=30, type=int, help="seconds /poll waits")


def make_app():
    return tornado.web.Application(
        ROUTES,
        websocket_max_message_size=10 * 1024 * 1024,  # the default: 10 MiB
        websocket_ping_interval=None,  # the default: no pings
    )


def start_monitor():
    """Measures the event-loop delay for /stats while the loop runs."""
    task = asyncio.get_running_loop().create_task(LoopMonitor.run())
    LoopMonitor.task = task  # keep a reference, or the task may be collected
    return task


async def main():
    parse_command_line()  # --port=N, --logging=debug, ... and the log format
    start_monitor()
    make_app().listen(options.port, address="127.0.0.1")
    await asyncio.Event().wait()

if __name__ == "__main__":
    asyncio.run(main())
