import type { ProxyEvent, SandboxEvent, UpstreamsEvent } from "../../sandboxes/shared/protocol.js";

/** Request paths kept for the view, newest last. */
export const PATHS_KEPT = 50;

/** What the proxy view shows, folded from the proxy sandbox's events. */
export interface ProxyView {
  /** The last requests' paths through the proxy, oldest first. */
  paths: ProxyEvent[];
  upstreams?: UpstreamsEvent;
  routes: { static: number; proxied: number; cache: number; error: number };
  /** Changes whenever anything above does. */
  version: number;
}

/** Folds the `proxy` and `upstreams` events of one proxy sandbox. */
export class ProxyModel {
  #paths: ProxyEvent[] = [];
  #upstreams: UpstreamsEvent | undefined;
  #routes = { static: 0, proxied: 0, cache: 0, error: 0 };
  #version = 0;

  get version(): number {
    return this.#version;
  }

  reset(): void {
    this.#paths = [];
    this.#upstreams = undefined;
    this.#routes = { static: 0, proxied: 0, cache: 0, error: 0 };
    this.#version++;
  }

  /** Takes one event; true when the view changed. */
  push(event: SandboxEvent): boolean {
    if (event.type === "proxy") {
      const paths = [...this.#paths, event];
      this.#paths = paths.length > PATHS_KEPT ? paths.slice(-PATHS_KEPT) : paths;
      this.#routes = { ...this.#routes, [event.route]: this.#routes[event.route] + 1 };
    } else if (event.type === "upstreams") {
      this.#upstreams = event;
    } else {
      return false;
    }
    this.#version++;
    return true;
  }

  view(): ProxyView {
    return {
      paths: this.#paths,
      ...(this.#upstreams ? { upstreams: this.#upstreams } : {}),
      routes: this.#routes,
      version: this.#version,
    };
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function ms(n: number | undefined): string {
  if (n === undefined) return "?";
  if (n >= 1000) return `${(n / 1000).toFixed(2)} s`;
  if (n >= 10) return `${Math.round(n)} ms`;
  return `${n.toFixed(1)} ms`;
}

/** ":41234" for a loopback upstream, "app-1.sock" for a Unix socket, the whole address otherwise. */
export function shortUpstream(url: string): string {
  if (url.startsWith("unix:")) return url.slice(url.lastIndexOf("/") + 1) || url;
  const m = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(url);
  return m ? `:${m[2]}` : url.replace(/^http:\/\//, "");
}

/**
 * One request's path as a line: how long the client took to send it (the proxy waits for all of
 * it before it involves an upstream), where it went, how long that took, and the status.
 * `200 GET /slow  client 2.01 s ▸ proxy ▸ :41234 worker 4242 1.00 s ▸ client 0.2 ms`
 */
export function pathLine(p: ProxyEvent): string {
  const hops: string[] = [`client ${ms(p.readMs)}`, "proxy"];
  if (p.route === "static") hops.push("static file");
  else if (p.route === "cache") hops.push("cache");
  for (const a of p.attempts) {
    if (a.outcome === "ok") {
      const took = a.doneMs !== undefined ? a.doneMs - a.chosenMs : undefined;
      const worker = p.worker !== undefined ? ` worker ${p.worker}` : "";
      hops.push(`${shortUpstream(a.upstream)}${worker} ${ms(took)}`);
    } else {
      hops.push(`${shortUpstream(a.upstream)} ${a.outcome}`);
    }
  }
  const last = p.attempts.at(-1);
  const lastDone = last?.doneMs ?? p.readMs;
  hops.push(`client ${ms(Math.max(0, p.sentMs - lastDone))}`);
  const cache = p.cache ? ` ${p.cache}` : "";
  return `${p.status}${cache} ${p.method} ${p.target}  ${hops.join(" ▸ ")}`;
}

/** "2 clients (1 sending) · :41234 up, 1 busy, 12 requests · cache 3 hits, 2 misses". */
export function upstreamsLine(view: ProxyView, now?: number): string {
  const u = view.upstreams;
  if (!u) return "no request yet";
  const parts = [
    `${u.clients.open} client${u.clients.open === 1 ? "" : "s"}${u.clients.reading > 0 ? ` (${u.clients.reading} still sending)` : ""}`,
  ];
  for (const up of u.upstreams) {
    const left =
      up.downUntil !== undefined ? Math.ceil((up.downUntil - (now ?? u.at)) / 1000) : undefined;
    // Past fail_timeout the proxy tries it again with the next request it sends there.
    const state =
      up.state !== "down"
        ? "up"
        : left === undefined
          ? "DOWN"
          : left > 0
            ? `DOWN, retried in ${left} s`
            : "DOWN, retried next";
    parts.push(`${shortUpstream(up.upstream)} ${state}, ${up.active} busy, ${up.requests} req`);
  }
  if (u.cache) {
    const { hits, misses, expired } = u.cache;
    parts.push(
      `cache ${plural(hits, "hit")}, ${plural(misses, "miss", "misses")}${expired > 0 ? `, ${expired} expired` : ""}`,
    );
  }
  return parts.join(" · ");
}
