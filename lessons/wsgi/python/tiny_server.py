"""The other half of the contract: a tiny WSGI server, for reading only.

It does what gunicorn's or uWSGI's workers do for each request, without
the speed, safety and process management: parse the request, build
environ, call the app with a start_response, send the status and headers
when the first non-empty bytestring arrives, send the body, close.

One request at a time, no keep-alive, no request body limits: never use
it for anything but learning. Any WSGI app runs on it:

    python3 tiny_server.py hello_wsgi:app        # port 8000
    python3 tiny_server.py app:app 8001
"""

import importlib
import socket
import sys


def serve(app, port):
    listener = socket.create_server(("127.0.0.1", port))
    print(f"tiny_server on http://127.0.0.1:{port}/ (Ctrl+C stops)")
    while True:
        conn, (host, client_port) = listener.accept()
        with conn:
            handle(app, conn, host, client_port, port)


def handle(app, conn, host, client_port, port):
    stream = conn.makefile("rb")
    request_line = stream.readline().decode("iso-8859-1").rstrip("\r\n")
    try:
        method, target, version = request_line.split(" ")
    except ValueError:
        return  # not HTTP: just hang up
    path, _, query = target.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": version,
        "REMOTE_ADDR": host,
        "REMOTE_PORT": str(client_port),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": stream,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    while True:  # headers: "Name: value" lines up to an empty line
        line = stream.readline().decode("iso-8859-1").rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        key = name.strip().upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value.strip()
        else:
            environ["HTTP_" + key] = value.strip()

    response = {}
    sent = []

    def start_response(status, headers, exc_info=None):
        if exc_info and sent:
            raise exc_info[1].with_traceback(exc_info[2])
        response["status"], response["headers"] = status, headers

    def send(data):
        if not sent:  # the status line and headers go with the first bytes
            head = f"HTTP/1.0 {response['status']}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in response["headers"])
            conn.sendall(head.encode("iso-8859-1") + b"\r\n")
            sent.append(True)
        conn.sendall(data)

    result = app(environ, start_response)
    try:
        for data in result:
            if not isinstance(data, bytes):
                raise TypeError(f"WSGI body must be bytes, got {type(data)}")
            if data:
                send(data)
        if not sent:
            send(b"")  # an empty body: the headers still go out
    finally:
        if hasattr(result, "close"):
            result.close()  # PEP 3333: always call close() if it exists
    print(f'{host} "{request_line}" {response["status"][:3]}', flush=True)


def main():
    spec = sys.argv[1] if len(sys.argv) > 1 else "hello_wsgi:app"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    module_name, _, attr = spec.partition(":")
    sys.path.insert(0, ".")
    app = getattr(importlib.import_module(module_name), attr or "application")
    try:
        serve(app, port)
    except KeyboardInterrupt:
        print()


if __name__ == "__main__":
    main()
