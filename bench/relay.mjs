/**
 * The least a front server written for Node can do, for reference in bench/proxy.mjs: read a
 * request head from a keep-alive client, open a connection to the upstream, send it a minimal
 * HTTP/1.0 request, read the answer to its close and pass its body on. No limits, no logs, no
 * timeouts, no headers of its own: what is left is Node's own cost per request.
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
      const body = answer.subarray(answer.indexOf("\r\n\r\n") + 4);
      client.write(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n`,
            "latin1",
          ),
          body,
        ]),
      );
    });
  });
});
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
