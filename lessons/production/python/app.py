"""The app behind the proxy: a plain WSGI app that shows what it was told.

    gunicorn -c gunicorn.conf.py app:app         # behind nginx.conf
    gunicorn -b 127.0.0.1:8000 app:app           # alone, to compare

GET /whoami prints the client address and scheme the app sees. Behind nginx,
REMOTE_ADDR is the proxy's (empty on a unix socket); the client is in
X-Forwarded-For, and wsgi.url_scheme is "https" only because Gunicorn trusted
nginx's X-Forwarded-Proto. GET /slow?ms=N waits, as a slow query would.
Anything under /static/ never reaches this app: nginx serves it from disk.
"""

import os
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/slow":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        ms = int(query.get("ms", ["1000"])[0])
        time.sleep(min(ms, 60_000) / 1000)
        body = f"slept {ms} ms in pid {os.getpid()}\n"
    elif path == "/whoami":
        body = "".join(f"{key} = {environ.get(key, '')!r}\n" for key in (
            "REMOTE_ADDR", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
            "HTTP_HOST", "wsgi.url_scheme",
        ))
    else:
        body = f"Hello from pid {os.getpid()}, through nginx or not\n"
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(data)))])
    return [data]
