"""Hold a half-sent request open, and time a second request meanwhile.

Against serve.py (threads) the second request is answered at once.
Against single_threaded.py it waits until the slow client finishes.

    python3 slow_client.py                     # 127.0.0.1 8000, hold 3 s
    python3 slow_client.py 127.0.0.1 8000 5
"""

import socket
import sys
import threading
import time
import urllib.request


def main() -> None:
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
        return
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    hold = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0

    # The slow client sends the request line and one header, but not the
    # empty line that ends the headers, so the server keeps waiting.
    slow = socket.create_connection((host, port))
    slow.sendall(b"GET / HTTP/1.1\r\nHost: slow\r\n")

    def finish_slow_request() -> None:
        time.sleep(hold)
        slow.sendall(b"\r\n")  # now the request is complete
        while slow.recv(4096):  # read the reply until the server closes
            pass
        slow.close()

    finisher = threading.Thread(target=finish_slow_request)
    finisher.start()
    time.sleep(0.2)  # let the server start reading the slow request

    start = time.monotonic()
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=60) as r:
        status = f"{r.status} {r.reason}"
    waited = time.monotonic() - start
    print(f"second request: {status} after {waited:.3f} s "
          f"(the slow client held its request for {hold:g} s)")
    finisher.join()


if __name__ == "__main__":
    main()
