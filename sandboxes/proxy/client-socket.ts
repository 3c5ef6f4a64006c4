/**
 * A client's connection to the proxy: what the proxy uses of a net.Socket, made on the libuv TCP
 * handle that the listening socket accepted (./handles.ts), so that a request costs no stream
 * machinery. A net.Socket fits the same interface, and is what the proxy uses where the handles
 * are not at hand.
 */

import { EventEmitter } from "node:events";
import type { Server } from "node:net";
import { type Bindings, type Handle, readResult } from "./handles.js";

export interface ClientSocket {
  readonly remoteAddress?: string | undefined;
  readonly localPort?: number | undefined;
  /** Bytes handed to write() that the kernel has not taken yet. */
  readonly writableLength: number;
  on(event: "data", listener: (data: Buffer) => void): unknown;
  /** `end`: the client shut its side. */
  on(event: "end" | "drain" | "close" | "error", listener: () => void): unknown;
  once(event: "end" | "drain" | "close" | "error", listener: () => void): unknown;
  off(event: "end" | "drain" | "close" | "error", listener: () => void): unknown;
  /** False once the bytes waiting reach the high-water mark: wait for `drain`. */
  write(data: Buffer | string): boolean;
  /** Shuts the sending side once what was written is sent; reading goes on. */
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
}

/** net.Socket's default high-water mark. */
const HIGH_WATER_MARK = 16 * 1024;

class HandleSocket extends EventEmitter implements ClientSocket {
  readonly #b: Bindings;
  readonly #handle: Handle;
  #pending = 0;
  #readEnded = false;
  #paused = false;
  #ending = false;
  #shutDown = false;
  #destroyed = false;
  #remote: string | undefined;
  #localPort: number | undefined;

  constructor(b: Bindings, handle: Handle) {
    super();
    this.#b = b;
    this.#handle = handle;
    handle.onread = (arrayBuffer) => this.#onRead(arrayBuffer);
    handle.setNoDelay?.(true);
    if (handle.readStart() < 0) this.destroy();
  }

  get remoteAddress(): string | undefined {
    if (this.#remote === undefined && !this.#destroyed) {
      const out: { address?: string } = {};
      if ((this.#handle.getpeername?.(out) ?? -1) === 0) this.#remote = out.address;
    }
    return this.#remote;
  }

  get localPort(): number | undefined {
    if (this.#localPort === undefined && !this.#destroyed) {
      const out: { port?: number } = {};
      if ((this.#handle.getsockname?.(out) ?? -1) === 0) this.#localPort = out.port;
    }
    return this.#localPort;
  }

  get writableLength(): number {
    return this.#pending;
  }

  #onRead(arrayBuffer: ArrayBuffer | undefined): void {
    if (this.#destroyed) return;
    const n = readResult(this.#b, arrayBuffer);
    if (typeof n !== "number") {
      this.emit("data", n);
      return;
    }
    if (n === 0) return;
    if (n !== this.#b.eof) {
      this.destroy();
      return;
    }
    this.#readEnded = true;
    this.#handle.readStop();
    this.emit("end");
    // Both sides are shut: nothing more can happen on this connection.
    if (this.#shutDown) this.destroy();
  }

  write(data: Buffer | string): boolean {
    if (this.#destroyed || this.#ending) return false;
    const buf = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    const b = this.#b;
    const req = new b.WriteWrap();
    req.handle = this.#handle;
    req.buffer = buf;
    req.async = false;
    const status = this.#handle.writeBuffer(req, buf);
    if (status < 0) {
      this.destroy();
      return false;
    }
    // Written whole at once, or kept by libuv for when the socket takes more (then oncomplete).
    if (b.state[b.lastWriteWasAsync]) {
      this.#pending += buf.length;
      req.oncomplete = (done) => {
        this.#pending -= buf.length;
        if (done < 0) this.destroy();
        else if (this.#pending === 0 && !this.#destroyed) this.emit("drain");
      };
    }
    return this.#pending < HIGH_WATER_MARK;
  }

  end(): void {
    if (this.#destroyed || this.#ending) return;
    this.#ending = true;
    const req = new this.#b.ShutdownWrap();
    req.handle = this.#handle;
    // libuv shuts the socket once the writes queued before it are done.
    req.oncomplete = (status) => {
      this.#shutDown = true;
      if (status < 0 || this.#readEnded) this.destroy();
    };
    if (this.#handle.shutdown(req) < 0) this.destroy();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#handle.close(() => this.emit("close"));
  }

  pause(): void {
    this.#paused = true;
    if (!this.#readEnded && !this.#destroyed) this.#handle.readStop();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#readEnded && !this.#destroyed && this.#handle.readStart() < 0) this.destroy();
  }
}

/**
 * Takes the connections `server` accepts as HandleSockets, given to `accept`, from the moment it
 * listens; false when the listening handle is not the one expected (then `server` goes on
 * making net.Sockets). `limit` stands for server.maxConnections: a connection beyond it is closed
 * at once, as Node does. The server no longer counts these connections (its `close` callback and
 * getConnections() do not wait for them): their owner keeps track of them. A failed accept
 * (EMFILE, say) drops that connection and the server goes on listening.
 */
export function acceptHandles(
  server: Server,
  b: Bindings,
  accept: (socket: ClientSocket) => void,
  open: () => number,
  limit: number,
): boolean {
  const listening = (server as unknown as { _handle?: { onconnection?: unknown } | null })._handle;
  if (!listening || typeof listening.onconnection !== "function") return false;
  listening.onconnection = (status: number, client: Handle | undefined) => {
    if (status < 0 || !client) return;
    if (open() >= limit) {
      client.close();
      return;
    }
    accept(new HandleSocket(b, client));
  };
  return true;
}
