"""The demo app of the prefork labs: one WSGI callable, many routes.

It reads greeting.txt when it is imported: once per worker at boot, or
once in the master with gunicorn --preload (uWSGI loads it in the master
unless --lazy-apps). Run it on any WSGI server:

    gunicorn -w 2 app:app
    uwsgi --plugin python3,http --http 127.0.0.1:8400 --master \
          --processes 2 --wsgi-file app.py
    python3 app.py                     # wsgiref, one request at a time

Routes: /  /slow?ms=N  /cpu?ms=N  /hang  /crash  /environ
        /cache/set?greeting=hello  /cache/get?k=greeting  (uWSGI, --cache2)
"""

import os
import time
from pathlib import Path
from urllib.parse import parse_qs

try:
    import uwsgi  # importable only inside uWSGI
except ImportError:
    uwsgi = None

HERE = Path(__file__).resolve().parent
GREETING_FILE = HERE / "greeting.txt"
GREETING = (  # the first line of greeting.txt, read once per import
    GREETING_FILE.read_text().splitlines()[0]
    if GREETING_FILE.exists() else "Hello from a WSGI app!"
)
CACHE = "mycache"  # the name given to --cache2 name=mycache,items=100
print(f"[app.py imported in pid {os.getpid()}: {GREETING!r}]", flush=True)


def text(start_response, body, status="200 OK"):
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(data)))])
    return [data]  # WSGI: an iterable of bytestrings


def number(query, name, default):
    try:
        return max(0, int(query.get(name, [default])[0]))
    except ValueError:
        return default


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    pid = os.getpid()

    if path == "/":
        return text(start_response, f"{GREETING}\npid={pid}\n")
    if path == "/slow":  # blocks this worker, as any blocking call would
        ms = number(query, "ms", 1000)
        time.sleep(ms / 1000)
        return text(start_response, f"slept {ms} ms pid={pid}\n")
    if path == "/cpu":  # burns CPU: only more processes (cores) help
        ms = number(query, "ms", 200)
        end = time.process_time() + ms / 1000
        n = 0
        while time.process_time() < end:
            n += 1
        return text(start_response, f"burned {ms} ms of CPU pid={pid}\n")
    if path == "/hang":  # never answers: the server's timeout must act
        while True:
            time.sleep(3600)
    if path == "/crash":  # the worker process dies mid-request
        os._exit(1)
    if path == "/environ":
        lines = [f"{k} = {v!r}" for k, v in sorted(environ.items())]
        return text(start_response, "\n".join(lines) + "\n")
    if path.startswith("/cache/"):
        if uwsgi is None or not hasattr(uwsgi, "cache_get"):
            return text(start_response, "needs uWSGI with --cache2\n",
                        "501 Not Implemented")
        if path == "/cache/set":
            for key, values in query.items():
                uwsgi.cache_update(key, values[0].encode(), 0, CACHE)
            return text(start_response, f"set {sorted(query)} pid={pid}\n")
        if path == "/cache/get":
            key = query.get("k", ["greeting"])[0]
            value = uwsgi.cache_get(key, CACHE)
            return text(start_response, f"{key}={value!r} pid={pid}\n")
    return text(start_response, f"no route {path}\n", "404 Not Found")


application = app  # uWSGI looks for a callable named "application"


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    with make_server("127.0.0.1", 8000, app) as server:
        print("wsgiref on http://127.0.0.1:8000/ (Ctrl+C to stop)")
        server.serve_forever()
