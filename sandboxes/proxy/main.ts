/**
 * `learn-webservers sandbox proxy`: a front server in the manner of nginx 1.22 (static files,
 * buffering, round-robin with failover, a micro-cache), in front of the prefork sandbox it
 * starts itself or of the servers given with --upstream.
 */

import { lookup } from "node:dns/promises";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { createServer, isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import {
  exposureWarning,
  isLoopback,
  MAX_UNIX_PATH,
  resolveBindHost,
  urlHost,
} from "../shared/args.js";
import { flushEvents, onControl, requestEventsWanted, sendEvent } from "../shared/ipc.js";
import { installLifecycle } from "../shared/lifecycle.js";
import { bindErrorEvent, listenOnce } from "../shared/listen.js";
import { flushOutput, stderrOut } from "../shared/output.js";
import { type AppServer, SOCKET_DIR_ENV, startAppServers } from "./app-servers.js";
import { MicroCache } from "./cache.js";
import { HELP, parseConfig } from "./config.js";
import { errnoText, errorLine, startupLines } from "./nginx.js";
import { ProxyServer } from "./server.js";
import { parseUpstreamUrl, type Upstream, UpstreamPool } from "./upstream.js";

/** nginx tries to bind five times, half a second apart. */
const BIND_TRIES = 5;

/** A free loopback port for an app server, so its address is known even if it fails to boot. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A folder only this user can enter, for the sockets of `count` app servers: in the temporary
 * folder, or in /tmp when that one is missing or too deep for a socket path. Removed when the
 * proxy exits. Undefined when neither will do: the app servers then take ports only.
 */
function privateSocketDir(count: number): string | undefined {
  for (const base of new Set([tmpdir(), "/tmp"])) {
    const longest = join(base, "lws-proxy-XXXXXX", `app-${count}.sock`);
    if (Buffer.byteLength(longest) > MAX_UNIX_PATH) continue;
    try {
      const dir = mkdtempSync(join(base, "lws-proxy-"));
      process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
      return dir;
    } catch {}
  }
  return undefined;
}

async function exitWith(code: number): Promise<never> {
  flushOutput();
  await flushEvents(500);
  process.exit(code);
}

async function main(): Promise<void> {
  // Each request's objects live for the few milliseconds it is upstream. When a young-generation
  // collection happens to find many of them alive (a burst of connections), V8 starts to allocate
  // from those sites straight into the old generation for good, and every request then costs a
  // major collection's share: the proxy lost a sixth of its throughput to it, run to run at random.
  setFlagsFromString("--no-allocation-site-pretenuring");
  const config = parseConfig(process.argv.slice(2));
  if (config === "help") {
    process.stdout.write(HELP);
    return;
  }
  const events = requestEventsWanted();

  let host: string;
  try {
    host = await resolveBindHost(config.hostText);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === "EAI_AGAIN" ? "EAI_AGAIN" : "ENOTFOUND";
    stderrOut.write(
      errorLine(
        "emerg",
        `host not found in "${config.hostText}:${config.port}" of the "listen" directive`,
      ),
    );
    sendEvent(bindErrorEvent(code, config.port, config.hostText));
    return exitWith(1);
  }

  // As nginx does without a `resolver`, upstream names are looked up once, at start-up.
  for (const upstream of config.upstreams) {
    if (upstream.path !== undefined || isIP(upstream.host)) continue;
    try {
      upstream.address = (await lookup(upstream.host)).address;
    } catch {
      stderrOut.write(
        errorLine("emerg", `host not found in upstream "${upstream.host}:${upstream.port}"`),
      );
      sendEvent({
        type: "error",
        code: "ENOTFOUND",
        message: `Cannot resolve the upstream host name ${upstream.host}.`,
        hint: "Give the upstream as an IP address, e.g. --upstream http://127.0.0.1:8000.",
        fatal: true,
      });
      return exitWith(1);
    }
  }

  let proxy: ProxyServer | undefined;
  let appServers: AppServer[] = [];
  let upstreams: Upstream[] = config.upstreams;

  const lifecycle = installLifecycle({
    closeTimeoutMs: 1500,
    close: async (reason) => {
      const graceful = reason === "stop" || reason === "SIGQUIT";
      if (reason === "SIGTERM")
        stderrOut.write(errorLine("notice", "signal 15 (SIGTERM) received, exiting"));
      if (graceful) stderrOut.write(errorLine("notice", "gracefully shutting down"));
      await Promise.all([proxy?.close(graceful, 600), ...appServers.map((s) => s.stop(!graceful))]);
      stderrOut.write(errorLine("notice", "exit"));
    },
    onInterrupt: () => stderrOut.write(errorLine("notice", "signal 2 (SIGINT) received, exiting")),
    onHangup: () => {
      stderrOut.write(errorLine("notice", "signal 1 (SIGHUP) received, reconfiguring"));
      stderrOut.write(errorLine("notice", "reconfiguring"));
    },
  });
  if (process.platform !== "win32") {
    process.on("SIGQUIT", () => {
      if (lifecycle.stopping) process.exit(0);
      stderrOut.write(errorLine("notice", "signal 3 (SIGQUIT) received, shutting down"));
      void lifecycle.shutdown("SIGQUIT", 0);
    });
  }

  // The lab's master controls go to gunicorn: a worker's pid picks its app server, else the first
  // one still running takes them.
  onControl((control) => {
    if (control.type === "stop") return;
    const running = appServers.filter((s) => s.running);
    const owner =
      control.type === "kill-worker" && control.pid !== undefined
        ? running.find((s) => s.workers.has(control.pid as number))
        : undefined;
    (owner ?? running[0])?.control(control);
  });

  if (upstreams.length === 0) {
    const ports = await Promise.all(Array.from({ length: config.appServers }, freePort));
    // As the lesson's nginx.conf: Gunicorn on a Unix socket only the proxy uses, in a folder of
    // the proxy's own (its TCP port is for reaching it without the proxy).
    const socketDir =
      process.platform === "win32" ? undefined : privateSocketDir(config.appServers);
    const sockets = ports.map((_, i) =>
      socketDir === undefined ? undefined : join(socketDir, `app-${i + 1}.sock`),
    );
    upstreams = ports.map(
      (port, i) =>
        parseUpstreamUrl(
          sockets[i] !== undefined ? `unix:${sockets[i]}` : `http://127.0.0.1:${port}`,
        ) as Upstream,
    );
    try {
      appServers = await startAppServers(
        config.appServers,
        {
          // Without a lab watching, the app servers need not say anything per request either.
          ...(events ? {} : { LEARN_WEBSERVERS_EVENTS: "lifecycle" }),
          ...(socketDir !== undefined ? { [SOCKET_DIR_ENV]: socketDir } : {}),
        },
        (i) => [
          ...(sockets[i] !== undefined ? ["--bind", `unix:${sockets[i]}`] : []),
          "--bind",
          "127.0.0.1",
          "--port",
          String(ports[i]),
          ...config.appArgs,
        ],
        {
          onEvent: (event) => {
            // The app server's request event first: a proxy event waiting for its worker's pid
            // goes out right after it, so the lab gets the worker's side before the proxy's.
            sendEvent(event);
            if (event.type === "request") proxy?.noteUpstreamRequest(event);
          },
          onExit: (server, code, signal) => {
            const upstream = upstreams.find((u) => u.pid === server.pid);
            if (upstream) delete upstream.pid;
            proxy?.stateChanged();
            const how = signal ? `signal ${signal}` : `exit code ${code}`;
            sendEvent({
              type: "error",
              code: "EUPSTREAM",
              message: `The app server ${upstream?.url ?? ""} (pid ${server.pid}) stopped (${how}): requests it would answer go to the other upstreams, or get 502 Bad Gateway.`,
              hint: "Restart the proxy to start it again.",
              fatal: false,
            });
          },
        },
      );
    } catch (err) {
      stderrOut.write(errorLine("emerg", err instanceof Error ? err.message : String(err)));
      sendEvent({
        type: "error",
        code: "ENOAPP",
        message: "The proxy could not start its app server.",
        hint: "Build the project (npm run build), or give --upstream URL.",
        fatal: true,
      });
      return exitWith(1);
    }
    for (const [i, server] of appServers.entries()) {
      const upstream = upstreams[i];
      if (upstream && server.running) upstream.pid = server.pid;
    }
    if (lifecycle.stopping) return;
  }

  const pool = new UpstreamPool(upstreams, config.maxFails, config.failTimeoutMs);
  let staticReal = config.staticDir;
  try {
    staticReal = realpathSync.native(config.staticDir);
  } catch {}
  proxy = new ProxyServer({
    pool,
    staticRoot: { dir: config.staticDir, real: staticReal },
    ...(config.cacheSeconds > 0 ? { cache: new MicroCache(config.cacheSeconds * 1000) } : {}),
    maxBodyBytes: config.maxBodyBytes,
    connectTimeoutMs: config.connectTimeoutMs,
    readTimeoutMs: config.readTimeoutMs,
    clientHeaderTimeoutMs: config.clientHeaderTimeoutMs,
    clientBodyTimeoutMs: config.clientBodyTimeoutMs,
    keepaliveTimeoutMs: config.keepaliveTimeoutMs,
    events,
  });

  let address: { address: string; port: number } | undefined;
  const where = `${urlHost(host)}:${config.port}`;
  for (let attempt = 1; !address; attempt++) {
    try {
      address = await listenOnce(proxy.server, { host, port: config.port });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      stderrOut.write(
        errorLine("emerg", `bind() to ${where} failed ${errnoText(e.code ?? "EIO")}`),
      );
      if (attempt === 1) sendEvent(bindErrorEvent(e.code, config.port, host, e.message));
      if (e.code !== "EADDRINUSE" || attempt === BIND_TRIES) {
        if (e.code === "EADDRINUSE") stderrOut.write(errorLine("emerg", "still could not bind()"));
        await Promise.all(appServers.map((s) => s.stop(true)));
        return exitWith(1);
      }
      stderrOut.write(errorLine("notice", "try again to bind() after 500ms"));
      await new Promise((r) => setTimeout(r, 500));
      if (lifecycle.stopping) return;
    }
  }

  if (!isLoopback(address.address)) stderrOut.write(`${exposureWarning(address.address)}\n`);
  const url = `http://${urlHost(address.address)}:${address.port}/`;
  const upstreamList = upstreams.map((u) => u.url).join(", ");
  stderrOut.write(startupLines());
  stderrOut.write(
    errorLine(
      "notice",
      `proxy listening on ${url}: /static/ from ${config.staticDir}, the rest to ${upstreamList}`,
    ),
  );
  flushOutput();
  sendEvent({
    type: "listening",
    sandbox: "proxy",
    flavour: "nginx",
    pid: process.pid,
    host: address.address,
    port: address.port,
    url,
    ...(config.directory !== undefined ? { directory: config.directory } : {}),
    options: {
      ...config.shown,
      upstream: upstreams.map((u) => u.url).join(","),
      ...(appServers.length > 0 ? { direct: appServers.map((s) => s.directUrl).join(",") } : {}),
    },
  });
  if (events) sendEvent(proxy.upstreamsEvent());
}

process.on("uncaughtException", (err) => {
  stderrOut.write(
    errorLine("alert", `unexpected error (the proxy keeps running): ${err.stack ?? err.message}`),
  );
});

void main();
