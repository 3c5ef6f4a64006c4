"""One WSGI app, every WSGI server of the course: the choice of server is
a command line, not a rewrite. From this folder:

    python3 wsgi_app.py                           # wsgiref: development only
    gunicorn -w 3 wsgi_app:app                    # Linux, macOS, WSL
    waitress-serve --listen=127.0.0.1:8080 wsgi_app:app    # Windows too
    uwsgi --plugin python3,http --http 127.0.0.1:8400 --master \\
          --processes 3 --wsgi-file wsgi_app.py   # looks for "application"
    granian --interface wsgi wsgi_app:app

Then: curl http://127.0.0.1:PORT/
      curl "http://127.0.0.1:PORT/slow?ms=1000"
/slow waits by blocking, as any WSGI app must: each waiting request holds a
worker (Gunicorn, uWSGI) or a thread (Waitress) until it returns.
"""

import os
import threading
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        time.sleep(int(query.get("ms", ["1000"])[0]) / 1000)
    body = (f"hello from {environ.get('SERVER_SOFTWARE', 'a WSGI server')}: "
            f"pid {os.getpid()}, thread {threading.current_thread().name}\n")
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(data)))])
    return [data]


application = app  # uWSGI's default callable name

if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    with make_server("127.0.0.1", 8000, app) as server:
        print("wsgiref on http://127.0.0.1:8000/ (one request at a time)")
        server.serve_forever()
