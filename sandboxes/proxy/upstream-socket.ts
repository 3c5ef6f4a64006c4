/**
 * One connection to an upstream (TCP or a Unix socket), for one exchange: connect, write, read to
 * the end, close.
 *
 * A net.Socket (a duplex stream with its states, buffers and events) cost the proxy more than
 * its whole HTTP work for each upstream request, so the connection is made on libuv's TCP or pipe
 * handle directly, as net.Socket itself does underneath (Node's tcp_wrap, pipe_wrap and
 * stream_wrap bindings). Where those are not available the same interface runs over a net.Socket.
 */

import { writeSync } from "node:fs";
import { connect } from "node:net";
import { getSystemErrorName } from "node:util";

export interface UpstreamSocketEvents {
  onConnect(): void;
  onData(chunk: Buffer): void;
  /** The upstream closed its side (FIN). */
  onEnd(): void;
  /** A system error, by its code: ECONNREFUSED, ECONNRESET, EPIPE... */
  onError(code: string): void;
}

export interface UpstreamSocket {
  write(data: Buffer): void;
  close(): void;
}

/** Where to connect: an IP address and port, or the path of a Unix socket. */
export interface UpstreamTarget {
  address: string;
  port: number;
  path?: string;
}

interface Handle {
  /** The descriptor (POSIX). */
  readonly fd: number;
  /** TCP: (req, address, port); a pipe: (req, path), as lib/net.js's internalConnect calls them. */
  connect(req: ConnectReq, address: string, port?: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  writeBuffer(req: WriteReq, data: Buffer): number;
  readStart(): number;
  readStop(): number;
  close(callback?: () => void): void;
  onread: (arrayBuffer: ArrayBuffer | undefined) => void;
}
interface ConnectReq {
  oncomplete: (status: number) => void;
  address?: string;
  port?: number;
}
interface WriteReq {
  handle: Handle;
  /** Kept alive with the request until libuv has written it. */
  buffer?: Buffer;
  oncomplete: (status: number) => void;
  async: boolean;
}
interface Bindings {
  TCP: new (type: number) => Handle;
  TCPConnectWrap: new () => ConnectReq;
  WriteWrap: new () => WriteReq;
  SOCKET: number;
  /** libuv's pipe handle (a Unix socket), when pipe_wrap has what the proxy needs. */
  pipe?: {
    Pipe: new (type: number) => Handle;
    PipeConnectWrap: new () => ConnectReq;
    SOCKET: number;
  };
  state: Int32Array;
  readBytes: number;
  offset: number;
}

function loadBindings(): Bindings | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> })
      .binding;
    const tcp = binding("tcp_wrap") as {
      TCP: Bindings["TCP"];
      TCPConnectWrap: Bindings["TCPConnectWrap"];
      constants: { SOCKET: number };
    };
    const stream = binding("stream_wrap") as {
      WriteWrap: Bindings["WriteWrap"];
      streamBaseState: Int32Array;
      kReadBytesOrError: number;
      kArrayBufferOffset: number;
    };
    const ok =
      typeof tcp.TCP === "function" &&
      typeof tcp.TCPConnectWrap === "function" &&
      typeof stream.WriteWrap === "function" &&
      stream.streamBaseState instanceof Int32Array &&
      typeof stream.kReadBytesOrError === "number" &&
      typeof stream.kArrayBufferOffset === "number" &&
      typeof tcp.constants?.SOCKET === "number";
    if (!ok) return undefined;
    const b: Bindings = {
      TCP: tcp.TCP,
      TCPConnectWrap: tcp.TCPConnectWrap,
      WriteWrap: stream.WriteWrap,
      SOCKET: tcp.constants.SOCKET,
      state: stream.streamBaseState,
      readBytes: stream.kReadBytesOrError,
      offset: stream.kArrayBufferOffset,
    };
    const pipe = loadPipe(binding);
    if (pipe) b.pipe = pipe;
    return b;
  } catch {
    return undefined;
  }
}

function loadPipe(binding: (name: string) => Record<string, unknown>): Bindings["pipe"] {
  try {
    const pipe = binding("pipe_wrap") as {
      Pipe: NonNullable<Bindings["pipe"]>["Pipe"];
      PipeConnectWrap: NonNullable<Bindings["pipe"]>["PipeConnectWrap"];
      constants: { SOCKET: number };
    };
    const ok =
      typeof pipe.Pipe === "function" &&
      typeof pipe.PipeConnectWrap === "function" &&
      typeof pipe.constants?.SOCKET === "number";
    if (!ok) return undefined;
    return {
      Pipe: pipe.Pipe,
      PipeConnectWrap: pipe.PipeConnectWrap,
      SOCKET: pipe.constants.SOCKET,
    };
  } catch {
    return undefined;
  }
}

const bindings = process.env.LEARN_WEBSERVERS_PROXY_NET_SOCKET ? undefined : loadBindings();

function errorName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return "EIO";
  }
}

function handleSocket(
  b: Bindings,
  target: UpstreamTarget,
  ev: UpstreamSocketEvents,
): UpstreamSocket {
  const { address, port, path } = target;
  const pipe = path !== undefined ? b.pipe : undefined;
  const handle = pipe ? new pipe.Pipe(pipe.SOCKET) : new b.TCP(b.SOCKET);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    handle.readStop();
    handle.close();
  };
  const fail = (status: number) => {
    if (closed) return;
    close();
    ev.onError(errorName(status));
  };
  handle.onread = (arrayBuffer) => {
    if (closed) return;
    const n = b.state[b.readBytes] ?? 0;
    if (n > 0 && arrayBuffer) {
      ev.onData(Buffer.from(arrayBuffer, b.state[b.offset] ?? 0, n));
      return;
    }
    if (n === 0) return;
    if (errorName(n) === "EOF") {
      handle.readStop();
      ev.onEnd();
    } else fail(n);
  };
  const req = pipe ? new pipe.PipeConnectWrap() : new b.TCPConnectWrap();
  req.address = path ?? address;
  if (!pipe) req.port = port;
  let connected = false;
  /** What an early write could not put into a Unix socket yet: sent once connected. */
  let pending: Buffer | undefined;
  req.oncomplete = (status) => {
    if (closed) return;
    if (status < 0) return fail(status);
    connected = true;
    const err = handle.readStart();
    if (err < 0) return fail(err);
    ev.onConnect();
    if (pending) {
      const rest = pending;
      pending = undefined;
      writeHandle(rest);
    }
  };
  const err =
    pipe && path !== undefined
      ? handle.connect(req, path)
      : address.includes(":")
        ? handle.connect6(req, address, port)
        : handle.connect(req, address, port);
  if (err < 0) setImmediate(() => fail(err));
  const writeHandle = (data: Buffer) => {
    const w = new b.WriteWrap();
    w.handle = handle;
    w.buffer = data;
    w.async = false;
    w.oncomplete = (status) => {
      if (status < 0) fail(status);
    };
    const status = handle.writeBuffer(w, data);
    if (status < 0) setImmediate(() => fail(status));
  };
  return {
    write(data: Buffer) {
      if (closed) return;
      if (pipe && !connected) {
        // A Unix socket's connect() is done as it returns (libuv reports it a loop turn later):
        // the request goes into the socket now, so that the worker that accepts it finds it whole
        // rather than waiting for it. What is not written (a full buffer, or no connection: then
        // the connect's own callback says why) waits for the connection.
        try {
          const n = writeSync(handle.fd, data);
          if (n === data.length) return;
          pending = data.subarray(n);
        } catch {
          pending = data;
        }
        return;
      }
      writeHandle(data);
    },
    close,
  };
}

function streamSocket(target: UpstreamTarget, ev: UpstreamSocketEvents): UpstreamSocket {
  const socket =
    target.path !== undefined
      ? connect({ path: target.path })
      : connect({ host: target.address, port: target.port });
  let closed = false;
  socket.on("connect", () => ev.onConnect());
  socket.on("data", (chunk: Buffer) => ev.onData(chunk));
  socket.on("end", () => ev.onEnd());
  socket.on("error", (err: NodeJS.ErrnoException) => {
    if (!closed) ev.onError(err.code ?? "EIO");
  });
  return {
    write: (data) => {
      socket.write(data);
    },
    close: () => {
      closed = true;
      socket.destroy();
    },
  };
}

/** Opens a connection to `target.path` (a Unix socket), or else to its IP address and port. */
export function openUpstreamSocket(
  target: UpstreamTarget,
  events: UpstreamSocketEvents,
): UpstreamSocket {
  return bindings && (target.path === undefined || bindings.pipe)
    ? handleSocket(bindings, target, events)
    : streamSocket(target, events);
}
