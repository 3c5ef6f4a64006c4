/**
 * libuv's TCP and pipe handles as Node's own `net` module uses them underneath (the `tcp_wrap`,
 * `pipe_wrap` and `stream_wrap` bindings), for the proxy's connections: a net.Socket (a duplex
 * stream with its states, buffers and events) costs more for each request than the proxy's
 * whole HTTP work. Undefined where the bindings are missing or differ, or with
 * `LEARN_WEBSERVERS_PROXY_NET_SOCKET=1`: then the proxy runs over net.Socket.
 */

import { getSystemErrorName } from "node:util";

export interface Handle {
  /** The descriptor (POSIX). */
  readonly fd: number;
  /** TCP: (req, address, port); a pipe: (req, path), as lib/net.js's internalConnect calls them. */
  connect(req: ConnectReq, address: string, port?: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  writeBuffer(req: WriteReq, data: Buffer): number;
  shutdown(req: ShutdownReq): number;
  readStart(): number;
  readStop(): number;
  close(callback?: () => void): void;
  setNoDelay?(enable: boolean): number;
  getpeername?(out: { address?: string; port?: number }): number;
  getsockname?(out: { address?: string; port?: number }): number;
  onread: (arrayBuffer: ArrayBuffer | undefined) => void;
}
export interface ConnectReq {
  oncomplete: (status: number) => void;
  address?: string;
  port?: number;
}
export interface WriteReq {
  handle: Handle;
  /** Kept alive with the request until libuv has written it. */
  buffer?: Buffer;
  oncomplete: (status: number) => void;
  async: boolean;
}
export interface ShutdownReq {
  handle: Handle;
  oncomplete: (status: number) => void;
}

export interface Bindings {
  TCP: new (type: number) => Handle;
  TCPConnectWrap: new () => ConnectReq;
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
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
  /** Set by a write: whether libuv has kept some of it to write later (then oncomplete comes). */
  lastWriteWasAsync: number;
  /** libuv's UV_EOF: what a read reports when the peer has shut its side. */
  eof: number;
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
      ShutdownWrap: Bindings["ShutdownWrap"];
      streamBaseState: Int32Array;
      kReadBytesOrError: number;
      kArrayBufferOffset: number;
      kLastWriteWasAsync: number;
    };
    const ok =
      typeof tcp.TCP === "function" &&
      typeof tcp.TCPConnectWrap === "function" &&
      typeof stream.WriteWrap === "function" &&
      typeof stream.ShutdownWrap === "function" &&
      stream.streamBaseState instanceof Int32Array &&
      typeof stream.kReadBytesOrError === "number" &&
      typeof stream.kArrayBufferOffset === "number" &&
      typeof stream.kLastWriteWasAsync === "number" &&
      typeof tcp.constants?.SOCKET === "number";
    if (!ok) return undefined;
    const b: Bindings = {
      TCP: tcp.TCP,
      TCPConnectWrap: tcp.TCPConnectWrap,
      WriteWrap: stream.WriteWrap,
      ShutdownWrap: stream.ShutdownWrap,
      SOCKET: tcp.constants.SOCKET,
      state: stream.streamBaseState,
      readBytes: stream.kReadBytesOrError,
      offset: stream.kArrayBufferOffset,
      lastWriteWasAsync: stream.kLastWriteWasAsync,
      eof: uvEof(binding),
    };
    const pipe = loadPipe(binding);
    if (pipe) b.pipe = pipe;
    return b;
  } catch {
    return undefined;
  }
}

function uvEof(binding: (name: string) => Record<string, unknown>): number {
  try {
    const eof = binding("uv").UV_EOF;
    if (typeof eof === "number") return eof;
  } catch {}
  return -4095;
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

export const bindings =
  process.env.LEARN_WEBSERVERS_PROXY_NET_SOCKET === "1" ? undefined : loadBindings();

/**
 * What a read callback (`handle.onread`) brought: the bytes, 0 for nothing this time, or libuv's
 * status, `b.eof` when the peer shut its side and another negative number on an error.
 */
export function readResult(b: Bindings, arrayBuffer: ArrayBuffer | undefined): Buffer | number {
  const n = b.state[b.readBytes] ?? 0;
  if (n <= 0) return n;
  return arrayBuffer ? Buffer.from(arrayBuffer, b.state[b.offset] ?? 0, n) : 0;
}

/** A libuv status as its error code: ECONNRESET, EPIPE, EOF... */
export function errorName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return "EIO";
  }
}
