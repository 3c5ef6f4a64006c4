/**
 * One connection to an upstream (TCP or a Unix socket), for one exchange: connect, write, read to
 * the end, close. Made on libuv's TCP or pipe handle (./handles.ts), or over a net.Socket where
 * those are not at hand.
 */

import { writeSync } from "node:fs";
import { connect } from "node:net";
import { type Bindings, bindings, errorName, readResult } from "./handles.js";

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
    const n = readResult(b, arrayBuffer);
    if (typeof n !== "number") {
      ev.onData(n);
      return;
    }
    if (n === 0) return;
    if (n === b.eof) {
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
