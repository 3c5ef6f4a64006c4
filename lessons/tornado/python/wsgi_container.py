"""A WSGI app on Tornado's HTTP server, through WSGIContainer (Tornado 6.2).

    python3 wsgi_container.py              # http://127.0.0.1:8889/

Tornado's docs: "WSGI is a *synchronous* interface, while Tornado's
concurrency model is based on single-threaded *asynchronous* execution.
Many of Tornado's distinguishing features are not available in WSGI mode,
including efficient long-polling and websockets."

Here the WSGI app runs on the event loop's own thread, one call at a time:
10 requests to /sleep?ms=1000 at once take about 10 s, as /block does in
app.py. The same app on gunicorn -w 4 takes about 3 s; on app.py's
async /sleep, 1 s. Tornado 6.3 added WSGIContainer(app, executor=...) to run
the app on a thread pool; that helps, but WebSockets stay out of reach.
"""

import asyncio
import time
from urllib.parse import parse_qs

import tornado.httpserver
import tornado.wsgi
from tornado.options import parse_command_line


def wsgi_app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if environ["PATH_INFO"] == "/sleep":
        ms = int(query.get("ms", ["1000"])[0])
        time.sleep(ms / 1000)  # a WSGI app can only wait by blocking
        body = f"slept {ms} ms\n".encode()
    else:
        body = b"hello from a WSGI app\n"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


async def main():
    parse_command_line()
    container = tornado.wsgi.WSGIContainer(wsgi_app)
    server = tornado.httpserver.HTTPServer(container)
    server.listen(8889, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
