/**
 * The least a front server written for Node can do, for reference in bench/proxy.mjs: read a
 * request head from a keep-alive client (one request at a time, as wrk sends them), open a
 * connection to the upstream, send it a minimal HTTP/1.0 request, read the answer to its close
 * and pass its status and body on. No limits, no logs, no timeouts, no headers of its own: what
 * is left is Node's own cost per request, so its throughput is about the most a Node front
 * server reaches on the machine.
 * Usage: node bench/relay.mjs PORT UPSTREAM_PORT
 */
import { connect, createServer } from "node:net";

const [port, upstreamPort] = process.argv.slice(2).map(Number);

const server = createServer({ noDelay: true }, (client) => {
  let pending = Buffer.alloc(0);
  client.on("error", () => {});
  client.on("data", (data) => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    const end = pending.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = pending.toString("latin1", 0, end);
    pending = pending.subarray(end + 4);
    const target = head.slice(head.indexOf(" ") + 1, head.indexOf(" ", head.indexOf(" ") + 1));
    const chunks = [];
    const upstream = connect(upstreamPort, "127.0.0.1");
    upstream.on("connect", () =>
      upstream.write(`GET ${target} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
    );
    upstream.on("data", (chunk) => chunks.push(chunk));
    upstream.on("error", () => client.destroy());
    upstream.on("end", () => {
      upstream.destroy();
      const answer = Buffer.concat(chunks);
      const headEnd = answer.indexOf("\r\n\r\n");
      const status = /^HTTP\/1\.[01] (\d{3}[^\r\n]*)/.exec(answer.toString("latin1", 0, 64))?.[1];
      if (headEnd < 0 || status === undefined) {
        client.destroy();
        return;
      }
      const body = answer.subarray(headEnd + 4);
      client.write(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n`,
            "latin1",
          ),
          body,
        ]),
      );
    });
  });
});
server.on("error", (err) => {
  console.error(`relay: cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
