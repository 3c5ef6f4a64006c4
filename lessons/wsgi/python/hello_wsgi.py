"""The smallest useful WSGI application (PEP 3333), and nothing else.

No framework, no import: a callable that takes environ and start_response,
calls start_response once with a status and headers, and returns an
iterable of bytestrings. Any WSGI server can run it:

    python3 hello_wsgi.py                       # wsgiref, port 8000
    gunicorn hello_wsgi:app                     # port 8000
    uwsgi --plugin python3,http --http 127.0.0.1:8400 --wsgi-file hello_wsgi.py
"""


def app(environ, start_response):
    # environ: a plain dict of CGI-style keys (REQUEST_METHOD, PATH_INFO,
    # QUERY_STRING, HTTP_*) plus the wsgi.* keys (wsgi.input, ...).
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "/")
    body = f"Hello! You sent {method} {path}\n".encode("utf-8")

    # start_response: the status as a string, the headers as a list of
    # (name, value) tuples of str. Nothing is sent yet: the server sends
    # them with the first non-empty bytestring of the body.
    start_response("200 OK", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])

    # The body: an iterable yielding zero or more bytestrings. A list of
    # one bytes object is the usual answer; a generator works too.
    return [body]


application = app  # the name uWSGI looks for unless told --callable app


def countdown(environ, start_response):
    """A second app: its body is a generator, sent piece by piece."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    for n in (3, 2, 1):
        yield f"{n}...\n".encode()
    yield b"liftoff\n"


def broken(environ, start_response):
    """A classic bug: a str in the body instead of bytes.

    gunicorn 20.1 raises TypeError "... is not a byte" after sending the
    status line; uWSGI 2.0 logs "Unhandled object from iterator" and sends
    an empty body. Either way the client has already got "200 OK".
    """
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["this is a str, not bytes\n"]


if __name__ == "__main__":
    from wsgiref.simple_server import make_server
    from wsgiref.validate import validator

    # validator() wraps an app and checks both sides follow PEP 3333:
    # serve validator(broken) instead and see it raise AssertionError.
    with make_server("127.0.0.1", 8000, validator(app)) as server:
        print("Serving hello_wsgi.app on http://127.0.0.1:8000/ (Ctrl+C stops)")
        server.serve_forever()
