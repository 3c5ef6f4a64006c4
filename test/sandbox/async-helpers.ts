import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { SandboxEvent } from "../../sandboxes/shared/protocol.js";
import { ROOT, sleep, watchChild } from "./helpers.js";

const BUILT = join(ROOT, "dist", "sandboxes", "async.js");
let copied: string | undefined;

/** The built sandbox, copied once so that a rebuild of dist/ cannot pull it away mid-run. */
export function asyncEntry(): string {
  if (copied) return copied;
  if (!existsSync(BUILT)) {
    throw new Error(`${BUILT} is missing: run node scripts/build.mjs (npm test does it first)`);
  }
  copied = join(mkdtempSync(join(tmpdir(), "lws-async-entry-")), "async.js");
  copyFileSync(BUILT, copied);
  return copied;
}

export function removeAsyncEntry(): void {
  if (copied) rmSync(dirname(copied), { recursive: true, force: true });
  copied = undefined;
}

export interface AsyncSandbox {
  child: ChildProcess;
  pid: number;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Every event received, each checked with the app's validator. */
  events: SandboxEvent[];
  invalid: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(test: () => boolean, ms?: number, what?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the sandbox with an IPC channel on port 0 and waits for its listening event. With
 * `ulimit`, it runs under `sh -c "ulimit -n N; exec node ..."` (POSIX only).
 */
export async function startAsync(
  args: string[],
  options: { ulimit?: number } = {},
): Promise<AsyncSandbox> {
  const entry = asyncEntry();
  const argv = [entry, "--port", "0", ...args];
  const child = options.ulimit
    ? spawn(
        "sh",
        ["-c", `ulimit -n ${options.ulimit} && exec "$0" "$@"`, process.execPath, ...argv],
        { stdio: ["ignore", "pipe", "pipe", "ipc"] },
      )
    : spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe", "ipc"] });
  const w = watchChild(child, 5000);
  const listening = await w.listening(8000);
  return {
    child,
    pid: listening.pid,
    port: listening.port,
    stdout: w.stdout,
    stderr: w.stderr,
    events: w.events,
    invalid: w.invalid,
    exited: w.exited,
    waitFor: w.waitFor,
    stop: w.stop,
  };
}

export const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
export const SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

export function upgradeRequest(port: number, extra = "", key = SAMPLE_KEY): string {
  return (
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** A client frame (masked unless `mask` is false). */
export function frame(opcode: number, payload: Buffer, mask = true): Buffer {
  const len = payload.length;
  const head: number[] = [0x80 | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 255);
  else throw new Error("frame too long for this helper");
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ (key[i % 4] as number)));
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** A raw connection that collects everything it receives. */
export interface RawConn {
  socket: Socket;
  data(): Buffer;
  closed: Promise<void>;
  waitFor(test: (data: Buffer) => boolean, ms?: number): Promise<Buffer>;
}

export function rawConnect(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let isClosed = false;
    const socket = connect(port, "127.0.0.1");
    const closed = new Promise<void>((res) => socket.on("close", () => res()));
    void closed.then(() => {
      isClosed = true;
    });
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", () => {});
    socket.once("connect", () =>
      resolve({
        socket,
        data: () => Buffer.concat(chunks),
        closed,
        waitFor: async (test, ms = 4000) => {
          const deadline = Date.now() + ms;
          for (;;) {
            const data = Buffer.concat(chunks);
            if (test(data)) return data;
            if (isClosed || Date.now() > deadline) {
              throw new Error(`not received; got ${JSON.stringify(data.toString("latin1"))}`);
            }
            await sleep(5);
          }
        },
      }),
    );
    socket.once("error", reject);
  });
}

/** Splits the bytes after the 101 head into server frames: [opcode, payload]. */
export function serverFrames(bytes: Buffer): [number, Buffer][] {
  const end = bytes.indexOf("\r\n\r\n");
  let rest = end >= 0 ? bytes.subarray(end + 4) : bytes;
  const frames: [number, Buffer][] = [];
  while (rest.length >= 2) {
    const opcode = (rest[0] as number) & 0x0f;
    let len = (rest[1] as number) & 0x7f;
    let offset = 2;
    if (len === 126) {
      len = rest.readUInt16BE(2);
      offset = 4;
    }
    if (rest.length < offset + len) break;
    frames.push([opcode, rest.subarray(offset, offset + len)]);
    rest = rest.subarray(offset + len);
  }
  return frames;
}

export function acceptOf(key: string): string {
  return createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
}

/** Open file descriptors of a process (Linux); undefined elsewhere. */
export function fdCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}
