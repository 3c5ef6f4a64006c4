"""The same server as serve.py, but one request at a time.

HTTPServer handles each connection to the end before it accepts the next
one. A client that connects and sends only half a request therefore
holds up everybody else. Try it with slow_client.py.

    python3 single_threaded.py                 # the current folder, port 8000
"""

import os
import sys
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler


def main() -> None:
    directory = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    if not os.path.isdir(directory):
        sys.exit(f"{directory}: not a folder")

    handler = partial(SimpleHTTPRequestHandler, directory=directory)

    # The only change from serve.py: HTTPServer, not ThreadingHTTPServer.
    with HTTPServer(("127.0.0.1", port), handler) as httpd:
        print(f"Serving {directory} at http://127.0.0.1:{port}/ (no threads)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            print("\nStopped.")


if __name__ == "__main__":
    main()
