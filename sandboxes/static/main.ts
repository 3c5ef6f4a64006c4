import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import {
  exposureWarning,
  isLoopback,
  parseFlags,
  parseOnOff,
  parsePort,
  resolveBindHost,
  urlHost,
  usageError,
} from "../shared/args.js";
import { flushEvents, requestEventsWanted, sendEvent } from "../shared/ipc.js";
import { installLifecycle } from "../shared/lifecycle.js";
import { bindErrorEvent, listenOnce } from "../shared/listen.js";
import { flushOutput, stderrOut } from "../shared/output.js";
import { Root } from "./files.js";
import { createStaticServer, LISTEN_BACKLOG, type StaticServer } from "./server.js";

const PROG = "static";
const FLAVOURS = ["http.server"];

const HELP = `usage: ${PROG} [-h] [-b ADDRESS] [-d DIRECTORY] [--port N] [--flavour http.server]
              [--threading on|off] [port]

python3 -m http.server (CPython 3.11), imitated byte for byte, but confined to the
served directory and listening on 127.0.0.1 unless told otherwise.

positional arguments:
  port                  bind to this port (default: 8000; 0 takes a free port)

options:
  -h, --help            show this help message and exit
  --port N              the same as the positional port
  -b, --bind ADDRESS    bind to this address (default: 127.0.0.1); --host is the same
  -d, --directory DIRECTORY
                        serve this directory (default: current directory)
  --flavour http.server
                        the server to imitate (only http.server)
  --threading on|off    on: a thread per connection, like the real CLI (default);
                        off: one connection at a time, like a plain HTTPServer
`;

const BIND_FRAMES = `Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "<frozen runpy>", line 88, in _run_code
  File "/usr/lib/python3.11/http/server.py", line 1309, in <module>
    test(
  File "/usr/lib/python3.11/http/server.py", line 1256, in test
    with ServerClass(addr, HandlerClass) as httpd:
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/socketserver.py", line 456, in __init__
    self.server_bind()
  File "/usr/lib/python3.11/http/server.py", line 1303, in server_bind
    return super().server_bind()
           ^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/http/server.py", line 136, in server_bind
    socketserver.TCPServer.server_bind(self)
  File "/usr/lib/python3.11/socketserver.py", line 472, in server_bind
    self.socket.bind(self.server_address)
`;

const RESOLVE_FRAMES = `Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "<frozen runpy>", line 88, in _run_code
  File "/usr/lib/python3.11/http/server.py", line 1309, in <module>
    test(
  File "/usr/lib/python3.11/http/server.py", line 1254, in test
    ServerClass.address_family, addr = _get_best_family(bind, port)
                                       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/http/server.py", line 1237, in _get_best_family
    infos = socket.getaddrinfo(
            ^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/socket.py", line 962, in getaddrinfo
    for res in _socket.getaddrinfo(host, port, family, type, proto, flags):
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
`;

/** The last line of Python's traceback for a failed bind, as on Linux. */
function bindErrorLine(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE":
      return "OSError: [Errno 98] Address already in use";
    case "EADDRNOTAVAIL":
      return "OSError: [Errno 99] Cannot assign requested address";
    case "EACCES":
      return "PermissionError: [Errno 13] Permission denied";
    default:
      return `OSError: [Errno ${Math.abs(err.errno ?? 0)}] ${err.message}`;
  }
}

async function fail(text: string, event: ReturnType<typeof bindErrorEvent>): Promise<never> {
  stderrOut.write(text);
  flushOutput();
  sendEvent(event);
  await flushEvents(500);
  process.exit(1);
}

async function main(): Promise<void> {
  const flags = parseFlags(
    PROG,
    process.argv.slice(2),
    {
      help: { type: "boolean", short: "h" },
      port: { type: "string" },
      bind: { type: "string", short: "b" },
      host: { type: "string" },
      directory: { type: "string", short: "d" },
      flavour: { type: "string" },
      threading: { type: "string" },
    },
    1,
  );
  if (flags.values.help) {
    process.stdout.write(HELP);
    return;
  }
  const flavour = flags.string("flavour") ?? "http.server";
  if (!FLAVOURS.includes(flavour)) {
    usageError(PROG, `unknown flavour '${flavour}': this sandbox imitates only http.server`);
  }
  const portFlag = flags.string("port");
  const portArg = flags.positionals[0];
  if (portFlag !== undefined && portArg !== undefined && portFlag !== portArg) {
    usageError(PROG, `two different ports given: --port ${portFlag} and ${portArg}`);
  }
  const portText = portFlag ?? portArg ?? "8000";
  const port = parsePort(PROG, portText);
  const hostText = flags.string("host") ?? flags.string("bind") ?? "127.0.0.1";
  const threadingText = flags.string("threading");
  const threading = threadingText === undefined || parseOnOff(PROG, "--threading", threadingText);
  const directory = resolve(flags.string("directory") ?? process.cwd());
  let rootReal: string;
  try {
    rootReal = realpathSync.native(directory);
  } catch {
    rootReal = directory;
  }

  let host: string;
  try {
    host = await resolveBindHost(hostText);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === "EAI_AGAIN" ? "EAI_AGAIN" : "ENOTFOUND";
    await fail(
      `${RESOLVE_FRAMES}socket.gaierror: [Errno -2] Name or service not known\n`,
      bindErrorEvent(code, port, hostText),
    );
    return;
  }

  let staticServer: StaticServer | undefined;
  installLifecycle({
    close: (reason) => staticServer?.close(reason === "stop" ? 500 : 0),
    onInterrupt: () => process.stdout.write("\nKeyboard interrupt received, exiting.\n"),
  });

  staticServer = createStaticServer({
    directory,
    root: new Root(rootReal, { base: directory }),
    threading,
    onRequest: requestEventsWanted() ? sendEvent : undefined,
  });

  let address: { address: string; port: number };
  try {
    address = await listenOnce(staticServer.server, { host, port, backlog: LISTEN_BACKLOG });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    await fail(
      `${BIND_FRAMES}${bindErrorLine(e)}\n`,
      bindErrorEvent(e.code, port, hostText, e.message),
    );
    return;
  }

  if (!isLoopback(address.address)) {
    stderrOut.write(`${exposureWarning(address.address)}\n`);
    flushOutput();
  }
  const url = `http://${urlHost(address.address)}:${address.port}/`;
  process.stdout.write(`Serving HTTP on ${address.address} port ${address.port} (${url}) ...\n`);
  sendEvent({
    type: "listening",
    sandbox: "static",
    flavour,
    pid: process.pid,
    host: address.address,
    port: address.port,
    url,
    directory,
    options: { threading },
  });
  process.on("uncaughtException", (err) => {
    stderrOut.write(
      `${"-".repeat(40)}\nUnexpected error in the sandbox (it keeps serving):\n${err.stack ?? err.message}\n${"-".repeat(40)}\n`,
    );
  });
}

void main();
