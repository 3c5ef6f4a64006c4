"""Send one HTTP/1.1 GET over a plain TCP socket and print the raw reply.

No HTTP library is involved: the request is a few lines of text, and the
response is printed as it arrives, with the end of each header line
shown as \\r\\n so you can see where HTTP puts its line breaks.

    python3 raw_client.py                          # 127.0.0.1 8000 /
    python3 raw_client.py 127.0.0.1 8000 /hello.txt
"""

import socket
import sys


def main() -> None:
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
        return
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    path = sys.argv[3] if len(sys.argv) > 3 else "/"
    authority = f"[{host}]" if ":" in host else host  # IPv6 needs brackets

    # A request line, header lines, then an empty line; every line ends
    # in CRLF. "Connection: close" asks the server to hang up after its
    # response, so reading until the socket closes also works against an
    # HTTP/1.1 server that would otherwise keep the connection open.
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {authority}:{port}\r\n"
        "Connection: close\r\n"
        "\r\n"
    )

    response = b""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request.encode("ascii"))
        while chunk := sock.recv(4096):
            response += chunk

    if not response:
        print("(no response: the server closed the connection)")
        return

    # Status line and headers are text; the empty line ends them.
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        print(line.decode("latin-1") + "\\r\\n")
    print("\\r\\n")
    sys.stdout.flush()
    sys.stdout.buffer.write(body)  # the body is bytes: write them unchanged
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
