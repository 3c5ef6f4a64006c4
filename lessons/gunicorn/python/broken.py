"""An app that fails at import time, as when a setting or a database is
missing. Each worker imports it and dies; gunicorn gives up:

    gunicorn -w 2 broken:app
    ... [ERROR] Exception in worker process
    ... RuntimeError: cannot reach the database
    ... [INFO] Shutting down: Master
    ... [INFO] Reason: Worker failed to boot.       (exit code 3)

With --preload the master imports it itself, prints the traceback and
"Error: cannot reach the database", and exits (code 1) before forking.
"""

raise RuntimeError("cannot reach the database")


def app(environ, start_response):  # never reached
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"unreachable\n"]
