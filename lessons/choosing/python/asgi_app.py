"""One ASGI app, every ASGI server of the course. From this folder:

    python3 -m uvicorn asgi_app:app               # Uvicorn
    python3 -m uvicorn asgi_app:app --workers 2
    hypercorn asgi_app:app                        # Hypercorn
    daphne asgi_app:app                           # Daphne (python3 -m daphne)
    granian --interface asgi asgi_app:app         # Granian (default: RSGI)

Then: curl http://127.0.0.1:8000/
      curl "http://127.0.0.1:8000/slow?ms=1000"
/slow awaits, so ten of them at once take about 1 s on one process.
"""

import asyncio
import os
from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] == "lifespan":  # startup, shutdown: nothing to do
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] != "http":
        return  # no WebSockets in this one: see the asgi-uvicorn lesson
    if scope["path"] == "/slow":
        query = parse_qs(scope["query_string"].decode())
        await asyncio.sleep(int(query.get("ms", ["1000"])[0]) / 1000)
    server = scope.get("server") or ("?", 0)
    body = (f"hello from an ASGI server on {server[0]}:{server[1]}, "
            f"pid {os.getpid()}\n")
    data = body.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
