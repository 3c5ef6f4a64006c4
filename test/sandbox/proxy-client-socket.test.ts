import { connect, createServer, type Server, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { acceptHandles, type ClientSocket } from "../../sandboxes/proxy/client-socket.js";
import { bindings } from "../../sandboxes/proxy/handles.js";

const servers: Server[] = [];
const clients: Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function until(test: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A loopback server whose connections come as HandleSockets, and one client connected to it. */
async function pair(): Promise<{ socket: ClientSocket; client: Socket; netSockets: () => number }> {
  const b = bindings;
  if (!b) throw new Error("libuv's handles are not at hand");
  const accepted: ClientSocket[] = [];
  let netSockets = 0;
  const server = createServer(() => {
    netSockets++;
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  expect(
    acceptHandles(
      server,
      b,
      (s) => accepted.push(s),
      () => accepted.length,
      1024,
    ),
  ).toBe(true);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const client = connect(port, "127.0.0.1");
  clients.push(client);
  client.on("error", () => {});
  await new Promise((r) => client.once("connect", r));
  await until(() => accepted.length === 1, "the accepted connection");
  const socket = accepted[0] as ClientSocket;
  return { socket, client, netSockets: () => netSockets };
}

describe.skipIf(!bindings)("a client's connection on libuv's TCP handle", () => {
  it("reads, sees the client's FIN, and closes once both sides are shut", async () => {
    const { socket, client, netSockets } = await pair();
    expect(socket).not.toBeInstanceOf(Socket);
    expect(netSockets()).toBe(0);
    expect(socket.remoteAddress).toBe("127.0.0.1");
    expect(socket.localPort).toBe(client.remotePort);
    let text = "";
    let ended = false;
    let closes = 0;
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    socket.on("end", () => {
      ended = true;
    });
    socket.on("close", () => {
      closes++;
    });
    client.end("hello");
    await until(() => ended, "the end event");
    expect(text).toBe("hello");
    let reply = "";
    client.on("data", (d: Buffer) => {
      reply += d.toString("latin1");
    });
    const clientEnded = new Promise((r) => client.once("end", r));
    expect(socket.write("bye")).toBe(true);
    socket.end();
    await clientEnded;
    expect(reply).toBe("bye");
    await until(() => closes > 0, "the close event");
    await new Promise((r) => setTimeout(r, 50));
    expect(closes).toBe(1);
    expect(socket.write("late")).toBe(false);
  });

  it("says when to wait for a client that does not read, drains, and pauses reading", async () => {
    const { socket, client } = await pair();
    client.pause();
    const chunk = Buffer.alloc(1 << 20, 97);
    let written = 0;
    while (written < 256) {
      written++;
      if (!socket.write(chunk)) break;
    }
    expect(written).toBeLessThan(256);
    expect(socket.writableLength).toBeGreaterThan(0);
    let drains = 0;
    socket.on("drain", () => {
      drains++;
    });
    let received = 0;
    client.on("data", (d: Buffer) => {
      received += d.length;
    });
    client.resume();
    await until(() => drains === 1, "the drain event");
    expect(socket.writableLength).toBe(0);
    await until(() => received === written * chunk.length, "every byte written");

    let got = 0;
    socket.on("data", (d: Buffer) => {
      got += d.length;
    });
    socket.pause();
    client.write("while paused");
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe(0);
    socket.resume();
    await until(() => got === "while paused".length, "the bytes sent while paused");
  });

  it("closes once when the client resets with writes still queued", async () => {
    const { socket, client } = await pair();
    client.pause();
    let closes = 0;
    let drains = 0;
    socket.on("close", () => {
      closes++;
    });
    socket.on("drain", () => {
      drains++;
    });
    const chunk = Buffer.alloc(1 << 20, 98);
    for (let i = 0; i < 256 && socket.write(chunk); i++);
    expect(socket.writableLength).toBeGreaterThan(0);
    client.resetAndDestroy();
    await until(() => closes > 0, "the close event");
    await new Promise((r) => setTimeout(r, 100));
    expect(closes).toBe(1);
    expect(drains).toBe(0);
    expect(socket.write(chunk)).toBe(false);
  });
});
