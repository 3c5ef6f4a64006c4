import { constants, readFileSync } from "node:fs";
import { lstat, mkdir, realpath, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { SandboxEvent } from "../../sandboxes/shared/protocol.js";
import { safeText } from "../course/control.js";
import { packageRoot } from "../paths.js";
import { LAB_USER_AGENT_PREFIX } from "./missions.js";
import { optionFlags } from "./options.js";
import type {
  Exchange,
  Experiment,
  ExperimentEvent,
  ExperimentProgress,
  ExperimentResult,
} from "./types.js";
import type { EventWatch } from "./watch.js";
import { killWorkerAction, signalAction, type WorkerContext } from "./worker-actions.js";

function labVersion(): string {
  if (typeof __VERSION__ === "string") return __VERSION__;
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

export const LAB_USER_AGENT = `${LAB_USER_AGENT_PREFIX}${labVersion()}`;

export const REQUEST_TIMEOUT_MS = 5_000;
export const RAW_TIMEOUT_MS = 3_000;
const BODY_SHOWN_BYTES = 2_048;
const SLOW_CLIENT_GAP_MS = 150;

type Values = Record<string, string | number | boolean>;

export interface ExperimentContext {
  baseUrl: string;
  host: string;
  port: number;
  workspace: string;
  restart: (options: Record<string, string | number | boolean>) => Promise<void>;
  /** The options the sandbox runs with now (the lab's, with a restart's merged over them). */
  options?: Record<string, string | number | boolean>;
  /** The sandbox's events from now on; absent where nobody is listening. */
  watch?: () => EventWatch;
  /** Present when the sandbox has a master and workers. */
  workers?: WorkerContext & { countOption: string };
  /** The first app server behind a proxy, when the sandbox is one. */
  upstream?: { host: string; port: number };
}

/** The event the mission checker sees for a result. */
export function toExperimentEvent(result: ExperimentResult): ExperimentEvent {
  return {
    type: "experiment",
    id: result.experimentId,
    ok: result.ok,
    summary: result.summary,
    values: result.values,
  };
}

/**
 * Runs one experiment. Never throws: a failure is a result with ok false that says what to try.
 * The summary and note quote what the server sent, so their control characters are made visible;
 * the exchange keeps the bytes as they were, for the front ends to show line by line.
 */
export async function runExperiment(
  exp: Experiment,
  ctx: ExperimentContext,
  onProgress?: (p: ExperimentProgress) => void,
): Promise<ExperimentResult> {
  const result = await run(exp, ctx, onProgress);
  const { exchange } = result;
  return {
    ...result,
    summary: safeText(result.summary),
    ...(exchange?.note !== undefined
      ? { exchange: { ...exchange, note: safeText(exchange.note) } }
      : {}),
  };
}

async function run(
  exp: Experiment,
  ctx: ExperimentContext,
  onProgress?: (p: ExperimentProgress) => void,
): Promise<ExperimentResult> {
  const action = exp.action;
  try {
    switch (action.kind) {
      case "request":
        return await requestAction(exp.id, action, ctx);
      case "raw":
        return await rawAction(exp.id, action.send, ctx);
      case "burst":
        return await burstAction(exp.id, action, ctx, onProgress);
      case "slow-client":
        return await slowClientAction(exp.id, action, ctx);
      case "write-file":
        return await writeFileAction(exp.id, action, ctx);
      case "restart":
        return await restartAction(exp.id, action.options, ctx);
      case "signal":
        return ctx.workers
          ? await signalAction(exp.id, action.signal, ctx.workers)
          : failed(exp.id, noWorkers(action.kind));
      case "kill-worker":
        return ctx.workers
          ? await killWorkerAction(exp.id, action.signal, ctx.workers)
          : failed(exp.id, noWorkers(action.kind));
      case "websocket":
        return await (await import("./ws-actions.js")).websocketAction(
          exp.id,
          action,
          wsTarget(ctx),
        );
      case "ws-load":
        return await (await import("./ws-actions.js")).wsLoadAction(
          exp.id,
          action,
          wsTarget(ctx),
          onProgress,
        );
      case "poll-vs-ws":
        return await (await import("./ws-actions.js")).pollVsWsAction(
          exp.id,
          action,
          wsTarget(ctx),
        );
    }
  } catch (err) {
    return failed(exp.id, describeError(err, ctx));
  }
}

function wsTarget(ctx: ExperimentContext) {
  return { host: ctx.host, port: ctx.port, hostPort: hostPort(ctx), userAgent: LAB_USER_AGENT };
}

function noWorkers(kind: string): string {
  return `"${kind}" needs a sandbox with a master and workers; this lab's has none. The lesson pack is at fault: run learn-webservers validate on it.`;
}

function failed(experimentId: string, summary: string, exchange?: Exchange): ExperimentResult {
  return { experimentId, ok: false, summary, values: {}, ...(exchange ? { exchange } : {}) };
}

function hostPort(ctx: ExperimentContext): string {
  return `${ctx.host.includes(":") ? `[${ctx.host}]` : ctx.host}:${ctx.port}`;
}

export function describeError(err: unknown, ctx: ExperimentContext): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = hostPort(ctx);
  switch (code) {
    case "ECONNREFUSED":
      return `Nothing is listening on ${where} (connection refused): the server is restarting or has stopped. Look at its log; if it stopped, press s to start it again.`;
    case "ETIMEDOUT":
      return `No answer from ${where} in time. The server may be busy with another client: wait a moment and retry.`;
    case "ECONNRESET":
    case "EPIPE":
      return `The server on ${where} dropped the connection (${code}). Look at its log for the reason, then retry.`;
    default: {
      const message = err instanceof Error ? err.message : String(err);
      return `The experiment failed: ${message}`;
    }
  }
}

function timeoutError(): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error("timed out");
  err.code = "ETIMEDOUT";
  return err;
}

// ---- raw socket exchanges -------------------------------------------------------------------

interface Received {
  data: Buffer;
  /** The server closed (or reset) the connection. */
  closed: boolean;
  timedOut: boolean;
  /** From the first byte written to the end of the exchange. */
  ms: number;
}

interface ExchangeOptions {
  timeoutMs: number;
  /** True once the data holds a whole answer, so a kept-alive connection need not be waited out. */
  complete?: (data: Buffer) => boolean;
}

/**
 * Connects, writes `payload`, reads until the server closes, `complete` says done, or the
 * timeout. Rejects only when nothing could be exchanged at all.
 */
function exchangeBytes(
  host: string,
  port: number,
  payload: Buffer,
  opts: ExchangeOptions,
): Promise<Received> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let start = 0;
    let settled = false;
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => finish(false, true), opts.timeoutMs);
    function data(): Buffer {
      return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
    }
    function finish(closed: boolean, timedOut: boolean, error?: NodeJS.ErrnoException): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error && size === 0 && start === 0) {
        reject(error);
        return;
      }
      resolvePromise({ data: data(), closed, timedOut, ms: start ? performance.now() - start : 0 });
    }
    socket.on("connect", () => {
      start = performance.now();
      socket.write(payload);
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (opts.complete?.(data())) finish(false, false);
    });
    socket.on("end", () => finish(true, false));
    socket.on("close", () => finish(true, false));
    socket.on("error", (err: NodeJS.ErrnoException) => finish(true, false, err));
  });
}

interface Head {
  statusLine: string;
  version: string;
  status: number;
  reason: string;
  headers: [string, string][];
  /** Index of the first body byte. */
  bodyStart: number;
}

function findHeadEnd(data: Buffer, from = 0): { end: number; bodyStart: number } | undefined {
  const crlf = data.indexOf("\r\n\r\n", from, "latin1");
  const lf = data.indexOf("\n\n", from, "latin1");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { end: lf, bodyStart: lf + 2 };
  return undefined;
}

const STATUS_LINE = /^(HTTP\/\d(?:\.\d)?) (\d{3})(?: (.*))?$/;

function parseHead(data: Buffer, from = 0): Head | undefined {
  const found = findHeadEnd(data, from);
  if (!found) return undefined;
  const lines = data.toString("latin1", from, found.end).split(/\r?\n/);
  const match = STATUS_LINE.exec(lines[0] ?? "");
  if (!match) return undefined;
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return {
    statusLine: lines[0] ?? "",
    version: match[1] ?? "",
    status: Number(match[2]),
    reason: match[3] ?? "",
    headers,
    bodyStart: found.bodyStart,
  };
}

function header(head: Head, name: string): string | undefined {
  const lower = name.toLowerCase();
  return head.headers.find(([k]) => k.toLowerCase() === lower)?.[1];
}

function hasNoBody(head: Head, method: string): boolean {
  return method === "HEAD" || head.status === 204 || head.status === 304 || head.status < 200;
}

/** Where this response's body ends, if its headers say; undefined means "at close". */
function bodyEnd(data: Buffer, head: Head, method: string): number | undefined {
  if (hasNoBody(head, method)) return head.bodyStart;
  const length = header(head, "content-length");
  if (length !== undefined && /^\d+$/.test(length)) return head.bodyStart + Number(length);
  if (/chunked/i.test(header(head, "transfer-encoding") ?? "")) {
    const last = data.indexOf("0\r\n\r\n", head.bodyStart, "latin1");
    return last >= 0 ? last + 5 : Number.POSITIVE_INFINITY;
  }
  return undefined;
}

function responseComplete(method: string): (data: Buffer) => boolean {
  return (data) => {
    const head = parseHead(data);
    if (!head) return false;
    const end = bodyEnd(data, head, method);
    return end !== undefined && data.length >= end;
  };
}

const TEXT_TYPE =
  /^(text\/|application\/(json|javascript|xml|xhtml\+xml|x-www-form-urlencoded)|image\/svg)/i;

function looksBinary(body: Buffer, contentType: string | undefined): boolean {
  if (contentType && TEXT_TYPE.test(contentType)) return false;
  if (contentType && /^(image|audio|video|font)\/|octet-stream|zip|pdf/i.test(contentType))
    return true;
  const sample = body.subarray(0, 4096);
  if (sample.includes(0)) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(
      sample.subarray(0, Math.max(0, sample.length - 3)),
    );
    return false;
  } catch {
    return true;
  }
}

function showBody(body: Buffer, contentType: string | undefined): string {
  if (body.length === 0) return "";
  if (looksBinary(body, contentType)) return `<${body.length} bytes of binary data>`;
  if (body.length <= BODY_SHOWN_BYTES) return body.toString("utf8");
  const shown = body
    .subarray(0, BODY_SHOWN_BYTES)
    .toString("utf8")
    .replace(/\uFFFD+$/, "");
  return `${shown}\n… (${body.length - BODY_SHOWN_BYTES} more bytes not shown)`;
}

interface ParsedResponse {
  head: Head;
  body: Buffer;
  text: string;
}

/** Splits received bytes into responses; `rest` is whatever could not be read as one. */
function parseResponses(
  data: Buffer,
  method: string,
): { responses: ParsedResponse[]; rest: Buffer } {
  const responses: ParsedResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const head = parseHead(data, at);
    if (!head) break;
    const end = Math.min(bodyEnd(data, head, method) ?? data.length, data.length);
    const body = data.subarray(head.bodyStart, end);
    const headText = data.toString("latin1", at, head.bodyStart);
    responses.push({ head, body, text: headText + showBody(body, header(head, "content-type")) });
    at = end;
  }
  return { responses, rest: data.subarray(at) };
}

function showReceived(data: Buffer, method: string): { text: string; responses: ParsedResponse[] } {
  const { responses, rest } = parseResponses(data, method);
  let text = responses.map((r) => r.text).join(responses.length > 1 ? "\n" : "");
  if (rest.length > 0) text += (text ? "\n" : "") + showBody(rest, undefined);
  return { text, responses };
}

// ---- request --------------------------------------------------------------------------------

export function buildRequest(
  method: string,
  path: string,
  headers: Record<string, string> | undefined,
  body: string | undefined,
  ctx: { host: string; port: number },
): string {
  const hostHeader = `${ctx.host.includes(":") ? `[${ctx.host}]` : ctx.host}:${ctx.port}`;
  const extra = new Map<string, [string, string]>();
  for (const [k, v] of Object.entries(headers ?? {})) extra.set(k.toLowerCase(), [k, v]);
  const lines = [`${method} ${path} HTTP/1.1`];
  for (const [k, v] of [
    ["Host", hostHeader],
    ["User-Agent", LAB_USER_AGENT],
    ["Accept", "*/*"],
  ] as const) {
    const own = extra.get(k.toLowerCase());
    extra.delete(k.toLowerCase());
    lines.push(own ? `${own[0]}: ${own[1]}` : `${k}: ${v}`);
  }
  for (const [k, v] of extra.values()) lines.push(`${k}: ${v}`);
  if (body !== undefined && !extra.has("content-length") && !extra.has("transfer-encoding")) {
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n${body ?? ""}`;
}

interface HttpExchange {
  request: string;
  received: Received;
  shown: string;
  head?: Head;
  body: Buffer;
}

async function httpExchange(
  method: string,
  path: string,
  headers: Record<string, string> | undefined,
  body: string | undefined,
  ctx: ExperimentContext,
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<HttpExchange> {
  const request = buildRequest(method, path, headers, body, ctx);
  const received = await exchangeBytes(ctx.host, ctx.port, Buffer.from(request, "utf8"), {
    timeoutMs,
    complete: responseComplete(method),
  });
  const { text, responses } = showReceived(received.data, method);
  const first = responses[0];
  return {
    request,
    received,
    shown: text,
    ...(first ? { head: first.head } : {}),
    body: first?.body ?? Buffer.alloc(0),
  };
}

function noAnswer(x: HttpExchange, ctx: ExperimentContext, seconds: number): string {
  if (x.received.data.length > 0) {
    return `The server on ${hostPort(ctx)} answered with something that is not an HTTP response.`;
  }
  return x.received.timedOut
    ? `No answer from ${hostPort(ctx)} within ${seconds} s. The server may be busy with another client: wait a moment and retry.`
    : `Empty reply: the server on ${hostPort(ctx)} closed the connection after ${(x.received.ms / 1000).toFixed(2)} s without sending a byte (curl says "Empty reply from server"). Look at its log for the reason.`;
}

function ms(n: number): number {
  return Math.round(n * 10) / 10;
}

function seconds(n: number): string {
  return `${(n / 1000).toFixed(2)} s`;
}

async function requestAction(
  id: string,
  action: Extract<Experiment["action"], { kind: "request" }>,
  ctx: ExperimentContext,
): Promise<ExperimentResult> {
  const headers = { ...action.headers };
  let note: string | undefined;
  if (action.useLastModifiedFrom !== undefined) {
    const from = action.useLastModifiedFrom;
    const first = await httpExchange("GET", from, undefined, undefined, ctx);
    if (!first.head) {
      return failed(id, noAnswer(first, ctx, REQUEST_TIMEOUT_MS / 1000), {
        request: first.request,
        response: first.shown,
      });
    }
    const lastModified = header(first.head, "last-modified");
    if (lastModified === undefined) {
      return failed(
        id,
        `GET ${from} answered ${first.head.status} without a Last-Modified header, so there is no date to send back as If-Modified-Since.`,
        { request: first.request, response: first.shown },
      );
    }
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "if-modified-since")) {
      headers["If-Modified-Since"] = lastModified;
    }
    note = `GET ${from} first, which answered Last-Modified: ${lastModified}; that date is sent back as If-Modified-Since.`;
  }
  const timeoutMs = action.timeoutMs ?? REQUEST_TIMEOUT_MS;
  let x: HttpExchange;
  try {
    x = await httpExchange(action.method, action.path, headers, action.body, ctx, timeoutMs);
  } catch (err) {
    if (action.expect !== "refused" || (err as NodeJS.ErrnoException).code !== "ECONNREFUSED")
      throw err;
    return {
      experimentId: id,
      ok: true,
      summary: `Connection refused, as expected: nothing listens on ${hostPort(ctx)} right now`,
      values: { status: 0, refused: true },
    };
  }
  if (action.expect === "refused") {
    return {
      experimentId: id,
      ok: false,
      summary: `A refused connection was expected, but the server answered${x.head ? `: ${x.head.statusLine}` : ""}`,
      exchange: { request: x.request, response: x.shown },
      values: { status: x.head?.status ?? 0, refused: false },
    };
  }
  const exchange: Exchange = { request: x.request, response: x.shown, ...(note ? { note } : {}) };
  if (!x.head) {
    const empty = x.received.data.length === 0 && !x.received.timedOut;
    if (!empty) return failed(id, noAnswer(x, ctx, timeoutMs / 1000), exchange);
    const values: Values = { status: 0, empty: true, ms: ms(x.received.ms) };
    if (action.expect !== "empty") return { ...failed(id, noAnswer(x, ctx, 0), exchange), values };
    return {
      experimentId: id,
      ok: true,
      summary: `Empty reply, as expected: the server closed the connection after ${seconds(x.received.ms)} without sending a byte`,
      exchange,
      values,
    };
  }
  if (action.expect === "empty") {
    return {
      experimentId: id,
      ok: false,
      summary: `An empty reply was expected, but the server answered: ${x.head.statusLine}`,
      exchange,
      values: { status: x.head.status, empty: false, ms: ms(x.received.ms) },
    };
  }
  const values: Values = { status: x.head.status, bytes: x.body.length, ms: ms(x.received.ms) };
  const summary = `${x.head.statusLine}: ${x.body.length} bytes of body in ${Math.round(x.received.ms)} ms`;
  return { experimentId: id, ok: true, summary, exchange, values };
}

// ---- raw ------------------------------------------------------------------------------------

/** Turns `\r`, `\n`, `\t`, `\0`, `\\` and `\xHH` escapes into bytes; other text is UTF-8. */
export function unescapeBytes(text: string): Buffer {
  const parts: Buffer[] = [];
  const escapes = /\\(r|n|t|0|\\|x[0-9a-fA-F]{2})/g;
  let last = 0;
  for (const m of text.matchAll(escapes)) {
    parts.push(Buffer.from(text.slice(last, m.index), "utf8"));
    const e = m[1] ?? "";
    const byte =
      e === "r"
        ? 13
        : e === "n"
          ? 10
          : e === "t"
            ? 9
            : e === "0"
              ? 0
              : e === "\\"
                ? 92
                : Number.parseInt(e.slice(1), 16);
    parts.push(Buffer.from([byte]));
    last = m.index + m[0].length;
  }
  parts.push(Buffer.from(text.slice(last), "utf8"));
  return Buffer.concat(parts);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

async function rawAction(
  id: string,
  send: string,
  ctx: ExperimentContext,
): Promise<ExperimentResult> {
  const payload = unescapeBytes(send.replaceAll("127.0.0.1:PORT", hostPort(ctx)));
  const method = /^([A-Z]+) /.exec(payload.toString("latin1"))?.[1] ?? "GET";
  const received = await exchangeBytes(ctx.host, ctx.port, payload, { timeoutMs: RAW_TIMEOUT_MS });
  const { text, responses } = showReceived(received.data, method);
  const values: Values = { bytes: received.data.length, responses: responses.length };
  const first = responses[0];
  if (first) values.status = first.head.status;
  const how = received.timedOut
    ? `the connection was still open after ${RAW_TIMEOUT_MS / 1000} s`
    : "then the server closed the connection";
  let summary: string;
  if (received.data.length === 0) {
    summary = received.timedOut
      ? `No answer within ${RAW_TIMEOUT_MS / 1000} s: the server is still waiting for the rest of the request.`
      : "The server closed the connection without answering.";
  } else if (first) {
    summary = `${plural(responses.length, "response")} (${first.head.statusLine}${responses.length > 1 ? ", …" : ""}), ${plural(received.data.length, "byte")}; ${how}`;
  } else {
    summary = `${plural(received.data.length, "byte")} that are not an HTTP response; ${how}`;
  }
  return {
    experimentId: id,
    ok: true,
    summary,
    exchange: { request: payload.toString("utf8"), response: text },
    values,
  };
}

// ---- burst ----------------------------------------------------------------------------------

/** A burst's requests may wait behind each other in the server's queue far longer than one. */
const BURST_REQUEST_TIMEOUT_MS = 30_000;

interface BurstPass {
  total: number;
  good: number;
  errors: number;
  elapsed: number;
  rps: number;
  outcomes: Map<string, number>;
  /** Distinct worker pids that answered, when the sandbox says which. */
  workers: number;
}

async function burstPass(
  action: Extract<Experiment["action"], { kind: "burst" }>,
  ctx: ExperimentContext,
  onProgress: ((done: number) => void) | undefined,
): Promise<BurstPass> {
  const total = action.count;
  const agent = new http.Agent({ keepAlive: false, maxSockets: action.concurrency });
  const outcomes = new Map<string, number>();
  const watch = ctx.watch?.();
  let next = 0;
  let done = 0;
  let errors = 0;
  let good = 0;
  onProgress?.(done);

  const one = () =>
    new Promise<string>((resolveOne) => {
      const req = http.request({
        host: ctx.host,
        port: ctx.port,
        path: action.path,
        method: "GET",
        agent,
        headers: { "User-Agent": LAB_USER_AGENT, Accept: "*/*" },
        timeout: BURST_REQUEST_TIMEOUT_MS,
      });
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => resolveOne(String(res.statusCode)));
        res.on("error", (err: NodeJS.ErrnoException) => resolveOne(`!${err.code ?? "error"}`));
      });
      req.on("timeout", () => req.destroy(timeoutError()));
      req.on("error", (err: NodeJS.ErrnoException) => resolveOne(`!${err.code ?? "error"}`));
      req.end();
    });

  const start = performance.now();
  const client = async () => {
    while (next < total) {
      next++;
      const outcome = await one();
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (outcome.startsWith("!")) errors++;
      else if (Number(outcome) < 400) good++;
      done++;
      onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(action.concurrency, total) }, client));
  const elapsed = performance.now() - start;
  agent.destroy();
  let workers = 0;
  if (watch) {
    const answered = (e: SandboxEvent) => e.type === "request" && e.path === pathOnly(action.path);
    const seen = () => watch.events.filter(answered).length;
    if (seen() < good) await watch.settle(answered, 150, 1_000);
    const pids = new Set<number>();
    for (const e of watch.events) {
      if (e.type === "request" && answered(e) && e.worker !== undefined) pids.add(e.worker);
    }
    workers = pids.size;
    watch.stop();
  }
  const rps = Math.round((total / Math.max(elapsed / 1000, 0.001)) * 10) / 10;
  return { total, good, errors, elapsed, rps, outcomes, workers };
}

function pathOnly(target: string): string {
  const q = target.indexOf("?");
  return q >= 0 ? target.slice(0, q) : target;
}

/** `workers`: the sandbox runs worker processes (a development server's threads are not named). */
function describePass(pass: BurstPass, workers: boolean): string {
  const sorted = [...pass.outcomes.entries()].sort((a, b) => b[1] - a[1]);
  const statuses = sorted.filter(([k]) => !k.startsWith("!"));
  const failures = sorted.filter(([k]) => k.startsWith("!"));
  const parts: string[] = [];
  if (statuses.length === 1 && failures.length === 0) parts.push(`all ${statuses[0]?.[0]}`);
  else for (const [status, n] of statuses) parts.push(`${n} × ${status}`);
  for (const [code, n] of failures) parts.push(`${n} failed (${code.slice(1)})`);
  if (workers && pass.workers > 0) parts.push(`${plural(pass.workers, "worker")} answered`);
  return parts.join(", ");
}

function rpsText(rps: number): string {
  return rps >= 100 ? String(Math.round(rps)) : rps.toFixed(1);
}

function passFailed(id: string, pass: BurstPass, ctx: ExperimentContext): ExperimentResult {
  const code = [...pass.outcomes.keys()].find((k) => k.startsWith("!"))?.slice(1);
  return {
    experimentId: id,
    ok: false,
    summary: describeError(Object.assign(new Error(code ?? "failed"), { code }), ctx),
    values: { requests: pass.total, ok: 0, failed: pass.total, errors: pass.errors },
  };
}

async function burstAction(
  id: string,
  action: Extract<Experiment["action"], { kind: "burst" }>,
  ctx: ExperimentContext,
  onProgress?: (p: ExperimentProgress) => void,
): Promise<ExperimentResult> {
  const total = action.count;
  if (action.workers !== undefined)
    return compareWorkers(id, action, action.workers, ctx, onProgress);
  const pass = await burstPass(action, ctx, (done) =>
    onProgress?.({ done, total, label: `${done} of ${total} requests` }),
  );
  const values: Values = {
    requests: total,
    ok: pass.good,
    failed: total - pass.good,
    errors: pass.errors,
    rps: pass.rps,
    ms: Math.round(pass.elapsed),
    seconds: Math.round(pass.elapsed / 10) / 100,
    ...(ctx.workers ? { workers: pass.workers } : {}),
  };
  if (pass.errors === total) return { ...passFailed(id, pass, ctx), values };
  const summary = `${total} requests in ${seconds(pass.elapsed)} (${rpsText(pass.rps)} req/s), ${describePass(pass, ctx.workers !== undefined)}`;
  return { experimentId: id, ok: true, summary, values };
}

/** The same burst once per worker count, the server restarted with each; then as it was. */
async function compareWorkers(
  id: string,
  action: Extract<Experiment["action"], { kind: "burst" }>,
  counts: number[],
  ctx: ExperimentContext,
  onProgress?: (p: ExperimentProgress) => void,
): Promise<ExperimentResult> {
  const option = ctx.workers?.countOption;
  if (!option) return failed(id, noWorkers("burst with workers"));
  const before = { ...(ctx.options ?? {}) };
  const total = action.count * counts.length;
  const values: Values = {};
  const parts: string[] = [];
  try {
    for (const [i, n] of counts.entries()) {
      onProgress?.({
        done: i * action.count,
        total,
        label: `restarting with ${plural(n, "worker")}`,
      });
      await ctx.restart({ ...before, [option]: n });
      const pass = await burstPass(action, ctx, (done) =>
        onProgress?.({
          done: i * action.count + done,
          total,
          label: `${plural(n, "worker")}: ${done} of ${action.count}`,
        }),
      );
      if (pass.errors === action.count) return passFailed(id, pass, ctx);
      values[`rps-${n}`] = pass.rps;
      values[`seconds-${n}`] = Math.round(pass.elapsed / 10) / 100;
      parts.push(`${plural(n, "worker")}: ${rpsText(pass.rps)} req/s (${seconds(pass.elapsed)})`);
    }
  } finally {
    await ctx.restart(before).catch(() => {});
  }
  const first = Number(values[`rps-${counts[0]}`]);
  const last = Number(values[`rps-${counts.at(-1)}`]);
  const speedup = first > 0 ? Math.round((last / first) * 100) / 100 : 0;
  values.speedup = speedup;
  return {
    experimentId: id,
    ok: true,
    summary: `${parts.join(" · ")}; ${speedup}x`,
    values,
  };
}

// ---- slow client ----------------------------------------------------------------------------

function sleep(msToWait: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msToWait));
}

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolveSocket, reject) => {
    const socket = net.connect({ host, port });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolveSocket(socket);
    });
    socket.once("error", reject);
  });
}

async function slowClientAction(
  id: string,
  action: Extract<Experiment["action"], { kind: "slow-client" }>,
  server: ExperimentContext,
): Promise<ExperimentResult> {
  let ctx = server;
  if (action.target === "upstream") {
    if (!server.upstream) {
      return failed(
        id,
        '"target: upstream" needs a proxy in front of an app server; this lab\'s sandbox is not one. The lesson pack is at fault: run learn-webservers validate on it.',
      );
    }
    ctx = {
      ...server,
      ...server.upstream,
      baseUrl: `http://${server.upstream.host}:${server.upstream.port}`,
    };
  }
  // Connection: close, so that once answered it ends at once, behind a proxy that keeps
  // connections alive too.
  const partial = `GET / HTTP/1.1\r\nHost: ${hostPort(ctx)}\r\nUser-Agent: ${LAB_USER_AGENT}\r\nConnection: close\r\n`;
  const slow = await connect(ctx.host, ctx.port);
  slow.on("error", () => {});
  slow.resume();
  const slowClosed = new Promise<void>((r) => slow.once("close", () => r()));
  slow.write(partial);

  let releasedAt = Number.POSITIVE_INFINITY;
  const release = (async () => {
    await sleep(action.holdMs);
    releasedAt = performance.now();
    slow.write("\r\n");
    await Promise.race([slowClosed, sleep(RAW_TIMEOUT_MS)]);
    slow.destroy();
  })();

  await sleep(SLOW_CLIENT_GAP_MS);
  const sentAt = performance.now();
  let second: HttpExchange;
  let answeredAt: number;
  try {
    second = await httpExchange(
      "GET",
      action.path,
      undefined,
      undefined,
      ctx,
      action.holdMs + REQUEST_TIMEOUT_MS,
    );
    answeredAt = performance.now();
  } finally {
    await release;
  }
  const exchange: Exchange = {
    request: second.request,
    response: second.shown,
    note: `Client A sent ${JSON.stringify(partial)} (no blank line, so the request never ends) and held it for ${action.holdMs} ms${action.target === "upstream" ? `, straight to the app server on ${hostPort(ctx)} with no proxy in between` : ""}. This is client B's request, sent ${SLOW_CLIENT_GAP_MS} ms after A's, to the same address.`,
  };
  if (!second.head)
    return failed(id, noAnswer(second, ctx, (action.holdMs + REQUEST_TIMEOUT_MS) / 1000), exchange);
  const waited = answeredAt - sentAt;
  const blocked = answeredAt >= releasedAt;
  const summary = blocked
    ? `second request waited ${seconds(waited)} behind the slow client`
    : `answered in ${Math.round(waited)} ms while the slow client was still sending`;
  return {
    experimentId: id,
    ok: true,
    summary,
    exchange,
    values: {
      waitedMs: Math.round(waited),
      status: second.head.status,
      blocked,
      holdMs: action.holdMs,
    },
  };
}

// ---- write-file and restart -----------------------------------------------------------------

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * Writes a file inside the workspace, never through a link: the target must not be a symbolic
 * link, and the deepest folder on its way that exists must resolve inside the workspace before
 * any folder is made.
 */
async function writeFileAction(
  id: string,
  action: Extract<Experiment["action"], { kind: "write-file" }>,
  ctx: ExperimentContext,
): Promise<ExperimentResult> {
  const root = await realpath(ctx.workspace);
  const target = resolve(root, action.file);
  const refuse = (why: string) =>
    failed(
      id,
      `Refused to write ${action.file}: ${why}. The lesson pack's experiment is at fault: run learn-webservers validate on the pack.`,
    );
  if (!isInside(root, target)) return refuse("it is outside the lab's workspace");

  let existing = dirname(target);
  while (existing !== root && (await lstatOrUndefined(existing)) === undefined) {
    existing = dirname(existing);
  }
  if (existing !== root && !isInside(root, await realpath(existing))) {
    return refuse("a folder on its way is a link that leads outside the lab's workspace");
  }
  if ((await lstatOrUndefined(target))?.isSymbolicLink()) {
    return refuse("it is a symbolic link in the workspace, and the lab writes only plain files");
  }

  await mkdir(dirname(target), { recursive: true });
  const parent = await realpath(dirname(target));
  if (parent !== root && !isInside(root, parent)) {
    return refuse("it is outside the lab's workspace");
  }
  const bytes = Buffer.byteLength(action.content);
  await writeFile(target, action.content, {
    flag: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW,
  });
  return {
    experimentId: id,
    ok: true,
    summary: `Wrote ${plural(bytes, "byte")} to ${target}`,
    values: { bytes },
  };
}

async function restartAction(
  id: string,
  options: Record<string, string | number | boolean>,
  ctx: ExperimentContext,
): Promise<ExperimentResult> {
  await ctx.restart(options);
  const shown = optionFlags(options);
  return {
    experimentId: id,
    ok: true,
    summary: `Restarted the sandbox${shown ? ` with ${shown}` : ""}`,
    values: {},
  };
}
