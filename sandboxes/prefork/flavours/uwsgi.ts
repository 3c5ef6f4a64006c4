import { cpus, hostname } from "node:os";
import { asctime } from "./logging.js";

/** The startup banner of uWSGI 2.0.21 (Debian), its essential lines, up to the app load. */
export function uwsgiBanner(options: {
  host: string;
  port: number;
  workers: number;
  harakiri: number;
  cache?: string;
  masterPid: number;
  /** The working directory shown: the app's folder when one is given. */
  cwd: string;
}): string {
  const lines = [
    `*** Starting uWSGI 2.0.21-debian (64bit) on [${asctime()}] ***`,
    "compiled with version: 12.2.0 on 19 May 2023 13:59:29",
    `nodename: ${hostname()}`,
    `detected number of CPU cores: ${cpus().length}`,
    `current working directory: ${options.cwd}`,
    "detected binary path: /usr/bin/uwsgi-core",
  ];
  if (options.harakiri > 0) {
    lines.push(
      " *** WARNING: you have enabled harakiri without post buffering. Slow upload could be rejected on post-unbuffered webservers *** ",
    );
  }
  lines.push("thunder lock: disabled (you can enable it with --thunder-lock)");
  if (options.cache) {
    const name = /(?:^|,)name=([^,]+)/.exec(options.cache)?.[1] ?? "cache";
    lines.push(
      `*** Cache "${name}" initialized: 6MB (key: 2136 bytes, keys: 213600 bytes, data: 6553600 bytes, bitmap: 0 bytes) preallocated ***`,
    );
  }
  lines.push(
    `uWSGI http bound on ${options.host}:${options.port} fd 4`,
    "*** Python threads support is disabled. You can enable it with --enable-threads ***",
    "your server socket listen backlog is limited to 100 connections",
    "your mercy for graceful operations on workers is 60 seconds",
    "*** Operational MODE: preforking ***",
  );
  return `${lines.join("\n")}\n`;
}

/** The line uWSGI prints once the app is imported (in the master). */
export function uwsgiAppReady(masterPid: number): string {
  return `WSGI app 0 (mountpoint='') ready in 0 seconds on interpreter 0x7fa83bf60018 pid: ${masterPid} (default app)\n*** uWSGI is running in multiple interpreter mode ***\n`;
}

/** The request log line, e.g. `[pid: 17079|app: 0|req: 1/1] 127.0.0.1 () {28 vars in 284 bytes} ...`. */
export function uwsgiRequestLine(r: {
  pid: number;
  workerRequests: number;
  totalRequests: number;
  remote: string;
  vars: number;
  varsBytes: number;
  startedAt: number;
  method: string;
  target: string;
  bytes: number;
  ms: number;
  version: string;
  status: number;
  headerCount: number;
  headerBytes: number;
}): string {
  return `[pid: ${r.pid}|app: 0|req: ${r.workerRequests}/${r.totalRequests}] ${r.remote} () {${r.vars} vars in ${r.varsBytes} bytes} [${asctime(new Date(r.startedAt))}] ${r.method} ${r.target} => generated ${r.bytes} bytes in ${Math.floor(r.ms)} msecs (${r.version} ${r.status}) ${r.headerCount} headers in ${r.headerBytes} bytes (1 switches on core 0)\n`;
}

/** The harakiri lines the master prints before killing a stuck worker. */
export function harakiriLines(r: {
  index: number;
  pid: number;
  remote: string;
  method: string;
  target: string;
  startedAt: number;
}): string {
  const t = asctime();
  return [
    `${t} - *** HARAKIRI ON WORKER ${r.index} (pid: ${r.pid}, try: 1) ***`,
    `${t} - HARAKIRI !!! worker ${r.index} status !!!`,
    `${t} - HARAKIRI [core 0] ${r.remote} - ${r.method} ${r.target} since ${Math.floor(r.startedAt / 1000)}`,
    `${t} - HARAKIRI !!! end of worker ${r.index} status !!!`,
    "",
  ].join("\n");
}
