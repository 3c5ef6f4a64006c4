"""Serve one folder to this machine only, with a thread per request.

Much what `python3 -m http.server --bind 127.0.0.1 --directory DIR PORT`
does, written out: a ThreadingHTTPServer (Python 3.7+) and the
SimpleHTTPRequestHandler that maps URL paths to files in DIR.

    python3 serve.py                 # the current folder, port 8000
    python3 serve.py ~/site 9000
"""

import os
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    directory = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    if not os.path.isdir(directory):
        sys.exit(f"{directory}: not a folder")

    # The server creates a new handler object for every request;
    # partial() fills in the directory argument (added in 3.7) each time.
    handler = partial(SimpleHTTPRequestHandler, directory=directory)

    # "127.0.0.1": only programs on this machine can connect.
    # ("" would mean all interfaces, the command line's default.)
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        print(f"Serving {directory} at http://127.0.0.1:{port}/")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            print("\nStopped.")


if __name__ == "__main__":
    main()
