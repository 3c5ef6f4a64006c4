import { randomBytes } from "node:crypto";
import net from "node:net";

/** A frame the server sent, as the inspector shows it. */
export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** The frame's header bytes (before the payload). */
  header: Buffer;
}

export const OPCODES: Record<number, string> = {
  0: "continuation",
  1: "text",
  2: "binary",
  8: "close",
  9: "ping",
  10: "pong",
};

/** A client frame: FIN set, masked as RFC 6455 requires of clients. */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, 0x80 | len])
      : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([head, mask, body]);
}

/** Takes whole frames off the front of `data`; returns them and what is left. */
export function parseFrames(data: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  while (data.length - at >= 2) {
    const b0 = data[at] ?? 0;
    const b1 = data[at + 1] ?? 0;
    let len = b1 & 0x7f;
    let headerLen = 2;
    if (len === 126) {
      if (data.length - at < 4) break;
      len = data.readUInt16BE(at + 2);
      headerLen = 4;
    } else if (len === 127) {
      if (data.length - at < 10) break;
      len = Number(data.readBigUInt64BE(at + 2));
      headerLen = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const maskLen = masked ? 4 : 0;
    if (data.length - at < headerLen + maskLen + len) break;
    const header = data.subarray(at, at + headerLen + maskLen);
    let payload = data.subarray(at + headerLen + maskLen, at + headerLen + maskLen + len);
    if (masked) {
      const mask = data.subarray(at + headerLen, at + headerLen + 4);
      payload = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
    }
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload, header });
    at += headerLen + maskLen + len;
  }
  return { frames, rest: data.subarray(at) };
}

export function hex(bytes: Buffer, max = 8): string {
  const shown = [...bytes.subarray(0, max)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return bytes.length > max ? `${shown} …` : shown;
}

export interface UpgradeReply {
  /** The response head as sent, without the blank line. */
  head: string;
  status: number;
  headers: Record<string, string>;
  /** What followed the head: a refusal's body, or the first frames. */
  rest: Buffer;
}

export interface OpenOptions {
  host: string;
  port: number;
  path: string;
  hostHeader: string;
  userAgent: string;
  origin?: string;
  timeoutMs: number;
}

/** The upgrade request this client sends, as text, with a fresh key. */
export function upgradeRequest(opts: OpenOptions, key: string): string {
  return [
    `GET ${opts.path} HTTP/1.1`,
    `Host: ${opts.hostHeader}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    ...(opts.origin !== undefined ? [`Origin: ${opts.origin}`] : []),
    `User-Agent: ${opts.userAgent}`,
    "",
    "",
  ].join("\r\n");
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const lines = text.split("\r\n");
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

/**
 * A WebSocket client small enough to show every byte: it writes the upgrade request itself,
 * reads the reply head, then sends masked text frames and reads the server's frames.
 */
export class RawWebSocket {
  readonly socket: net.Socket;
  readonly key: string;
  readonly request: string;
  #buffer: Buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #closed = false;
  readonly frames: Frame[] = [];
  #onFrame: ((frame: Frame, at: number) => void) | undefined;

  private constructor(socket: net.Socket, key: string, request: string) {
    this.socket = socket;
    this.key = key;
    this.request = request;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      if (this.#onFrame) this.pump();
      this.#wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits for more bytes, the close, or the deadline; false on the deadline. */
  #more(deadline: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  static connect(opts: OpenOptions): Promise<RawWebSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: opts.host, port: opts.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }));
      }, opts.timeoutMs);
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        const key = randomBytes(16).toString("base64");
        const request = upgradeRequest(opts, key);
        const ws = new RawWebSocket(socket, key, request);
        socket.write(request);
        resolve(ws);
      });
    });
  }

  /** Reads the reply head (and, for a refusal, its body up to Content-Length or the close). */
  async reply(timeoutMs: number): Promise<UpgradeReply | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = this.#buffer.subarray(0, end).toString("latin1");
        const { status, headers } = parseHead(head);
        this.#buffer = this.#buffer.subarray(end + 4);
        if (status !== 101) {
          const length = Number(headers["content-length"] ?? Number.NaN);
          while (
            (Number.isNaN(length) || this.#buffer.length < length) &&
            (await this.#more(deadline))
          ) {}
        }
        const rest = this.#buffer;
        if (status !== 101) this.#buffer = Buffer.alloc(0);
        return { head, status, headers, rest };
      }
      if (!(await this.#more(deadline))) return undefined;
    }
  }

  /** Sends one masked text frame; returns its bytes. */
  sendText(text: string): Buffer {
    const frame = clientFrame(0x1, Buffer.from(text, "utf8"));
    this.socket.write(frame);
    return frame;
  }

  /** From now on, every frame as it arrives (after the reply head was read). */
  listen(onFrame: (frame: Frame, at: number) => void): void {
    this.#onFrame = onFrame;
    this.pump();
  }

  /** Takes the whole frames received so far off the buffer. */
  pump(): void {
    const { frames, rest } = parseFrames(this.#buffer);
    this.#buffer = rest;
    for (const frame of frames) {
      this.frames.push(frame);
      this.#onFrame?.(frame, performance.now());
    }
  }

  /** Waits until `count` frames arrived in all, the close, or the deadline. */
  async framesUntil(count: number, timeoutMs: number): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    this.pump();
    while (this.frames.length < count && (await this.#more(deadline))) this.pump();
    this.pump();
    return this.frames;
  }

  /** Sends a close frame (1000) and waits a moment for the server's. */
  async close(timeoutMs = 1_000): Promise<Frame | undefined> {
    if (!this.#closed) {
      const code = Buffer.alloc(2);
      code.writeUInt16BE(1000);
      this.socket.write(clientFrame(0x8, code));
      const before = this.frames.length;
      await this.framesUntil(before + 1, timeoutMs);
    }
    this.socket.destroy();
    return this.frames.find((f) => f.opcode === 8);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
