/**
 * The small part of the `ws` package (8.x) the async sandbox and its tests use. The package
 * ships no types and @types/ws is not a dependency, so this declares what is called.
 */
declare module "ws" {
  import { EventEmitter } from "node:events";
  import type { IncomingMessage } from "node:http";
  import type { Duplex } from "node:stream";

  type RawData = Buffer | ArrayBuffer | Buffer[];

  export class WebSocket extends EventEmitter {
    static readonly CONNECTING: 0;
    static readonly OPEN: 1;
    static readonly CLOSING: 2;
    static readonly CLOSED: 3;
    constructor(address: string, options?: Record<string, unknown>);
    readonly readyState: 0 | 1 | 2 | 3;
    readonly bufferedAmount: number;
    send(data: string | Buffer, options?: { binary?: boolean }, cb?: (err?: Error) => void): void;
    send(data: string | Buffer, cb?: (err?: Error) => void): void;
    ping(data?: Buffer | string): void;
    close(code?: number, reason?: string | Buffer): void;
    terminate(): void;
    on(event: "message", listener: (data: RawData, isBinary: boolean) => void): this;
    on(event: "close", listener: (code: number, reason: Buffer) => void): this;
    on(event: "error", listener: (err: Error & { code?: string }) => void): this;
    on(event: "open", listener: () => void): this;
    on(event: "pong" | "ping", listener: (data: Buffer) => void): this;
    on(event: "unexpected-response", listener: (req: unknown, res: IncomingMessage) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    once(event: "open", listener: () => void): this;
    once(event: "close", listener: (code: number, reason: Buffer) => void): this;
    once(event: "error", listener: (err: Error & { code?: string }) => void): this;
    once(event: string, listener: (...args: unknown[]) => void): this;
  }

  export interface ServerOptions {
    noServer?: boolean;
    clientTracking?: boolean;
    maxPayload?: number;
    perMessageDeflate?: boolean;
    skipUTF8Validation?: boolean;
    autoPong?: boolean;
    allowSynchronousEvents?: boolean;
  }

  export class WebSocketServer extends EventEmitter {
    constructor(options: ServerOptions);
    handleUpgrade(
      req: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      cb: (ws: WebSocket, req: IncomingMessage) => void,
    ): void;
    on(event: "headers", listener: (headers: string[], req: IncomingMessage) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    close(cb?: () => void): void;
  }

  export default WebSocket;
}
