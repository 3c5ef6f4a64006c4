"""Serve the folder ./site on 127.0.0.1:8000, as `python3 -m http.server -b 127.0.0.1 -d site` does."""
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

handler = functools.partial(SimpleHTTPRequestHandler, directory="site")

with ThreadingHTTPServer(("127.0.0.1", 8000), handler) as httpd:
    print("Serving on http://127.0.0.1:8000/")
    httpd.serve_forever()
