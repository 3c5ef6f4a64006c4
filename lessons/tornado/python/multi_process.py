"""One process per CPU, the two ways Tornado's docs give (Tornado 6.2, Linux).

    python3 multi_process.py fork        # fork_processes: parent, N children
    python3 multi_process.py reuse-port  # run it N times: N copies, one port

Then ask which process answers (the kernel picks one per connection):
    for i in 1 2 3 4 5 6; do curl -s http://127.0.0.1:8888/stats; echo; done

Each process has its own memory, so its own Chat.clients: a broadcast from a
client of one process never reaches the clients of another. A real chat needs
a channel between the processes (a message broker, a database).

Stopping the fork version: Ctrl+C signals the whole process group. A TERM
to the parent alone left its children running here (Tornado 6.2): a
process manager such as systemd stops the whole group.
"""

import asyncio
import sys

import tornado.netutil
import tornado.process
from tornado.httpserver import HTTPServer
from tornado.options import parse_command_line

from app import make_app, start_monitor

PORT = 8888


def fork():
    """Binds first, then forks: every child inherits the listening socket."""
    sockets = tornado.netutil.bind_sockets(PORT, address="127.0.0.1")
    # 0 means one child per CPU; the parent only restarts children that die.
    # Nothing may touch an IOLoop before this line: each child makes its own.
    task_id = tornado.process.fork_processes(0)
    print(f"child {task_id} started", flush=True)

    async def post_fork_main():
        start_monitor()
        server = HTTPServer(make_app())
        server.add_sockets(sockets)
        await asyncio.Event().wait()

    asyncio.run(post_fork_main())


def reuse_port():
    """Each copy binds the port with SO_REUSEPORT; the kernel balances."""

    async def main():
        start_monitor()
        make_app().listen(PORT, address="127.0.0.1", reuse_port=True)
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "fork"
    sys.argv[1:] = sys.argv[2:]
    parse_command_line()  # Tornado's log format and --logging
    fork() if mode == "fork" else reuse_port()
