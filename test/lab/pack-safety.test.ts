import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { findControl } from "../../src/course/control.js";
import { type Experiment, experimentSchema, type Lab, labSchema } from "../../src/course/schema.js";
import { type ExperimentContext, runExperiment } from "../../src/lab/experiments.js";
import { matches, REGEX_INPUT_MAX } from "../../src/lab/missions.js";
import { LabSession } from "../../src/lab/session.js";
import {
  liveSandboxes,
  type SandboxLog,
  SandboxStartError,
  sandboxArgs,
  startSandbox,
  stopAll,
} from "../../src/lab/supervisor.js";
import { prepareWorkspace } from "../../src/lab/workspace.js";
import { sandboxAssets } from "../../src/paths.js";
import { ProgressStore } from "../../src/progress/store.js";

const OSC_CLIPBOARD = "\x1b]52;c;aGVsbG8=\x07";
const temps: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), "lw-safety-"));
  temps.push(dir);
  return dir;
}

afterEach(async () => {
  await stopAll();
});
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function exp(action: Record<string, unknown>, id = "exp"): Experiment {
  return experimentSchema.parse({ key: 1, id, title: id, explain: "x", action });
}

/** A lab as a pack would give it, after the schema (the loader's own checks are skipped). */
function labWith(fields: Partial<Lab>): Lab {
  return {
    ...labSchema.parse({
      sandbox: "static",
      intro: "x",
      experiments: [
        { key: 1, id: "get", title: "GET /", explain: "x", action: { kind: "request", path: "/" } },
      ],
      missions: [{ id: "m", title: "m", hint: "h", when: { event: "listening" } }],
    }),
    ...fields,
  };
}

describe("sandboxArgs (S1)", () => {
  it("puts the app's own flags last, after the lab's options", () => {
    expect(
      sandboxArgs({
        sandbox: "static",
        port: 8000,
        host: "127.0.0.1",
        directory: "/w",
        flavour: "http.server",
        options: { threading: false },
      }),
    ).toEqual([
      "--threading",
      "off",
      "--port",
      "8000",
      "--host",
      "127.0.0.1",
      "--directory",
      "/w",
      "--flavour",
      "http.server",
    ]);
  });

  it.each(["port", "host", "bind", "b", "directory", "d", "flavour", "help", "h"])(
    "refuses a lab option named %s",
    (key) => {
      let error: unknown;
      try {
        sandboxArgs({ sandbox: "static", directory: "/w", options: { [key]: "x" } });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(SandboxStartError);
      expect((error as SandboxStartError).message).toBe(
        `The lab asks the static sandbox for the option "${key}", which only the app sets.`,
      );
      expect((error as SandboxStartError).hint).toMatch(/lesson pack is at fault.*validate/);
    },
  );

  it("refuses an option name that could smuggle a flag in", () => {
    expect(() => sandboxArgs({ sandbox: "static", options: { "host=0.0.0.0": "on" } })).toThrow(
      /is not an option name/,
    );
  });

  it("a lab asking for directory / and host 0.0.0.0 fails to start and serves nothing", async () => {
    const home = temp();
    const session = new LabSession({
      lessonId: "evil",
      lab: labWith({ options: { host: "0.0.0.0", directory: "/" } }),
      progress: ProgressStore.open({ home }),
    });
    await session.start();
    const snap = session.snapshot();
    expect(snap.state).toBe("failed");
    expect(snap.error?.message).toMatch(/option "host", which only the app sets/);
    expect(snap.error?.hint).toMatch(/lesson pack is at fault/);
    expect(liveSandboxes()).toEqual([]);
    await session.stop();
  });

  it("a restart experiment asking for directory / fails and leaves no sandbox serving it", async () => {
    const home = temp();
    const session = new LabSession({
      lessonId: "evil-restart",
      lab: labWith({
        experiments: [
          {
            key: 1,
            id: "restart",
            title: "restart",
            explain: "x",
            action: { kind: "restart", options: { directory: "/" } },
          },
        ],
      }),
      progress: ProgressStore.open({ home }),
    });
    await session.start();
    expect(session.snapshot().state).toBe("listening");
    const result = await session.runExperiment(1);
    expect(result?.ok).toBe(false);
    expect(result?.summary).toMatch(/only the app sets/);
    expect(liveSandboxes()).toEqual([]);
    await session.stop();
  });
});

describe("workspace templates (S2)", () => {
  it("a workspace that climbs out of the sandbox's folder is refused at run time", async () => {
    const home = temp();
    const secret = join(temp(), "secret");
    mkdirSync(secret);
    writeFileSync(join(secret, "key.txt"), "top secret\n");
    const session = new LabSession({
      lessonId: "climb",
      lab: labWith({ workspace: relative(sandboxAssets("static"), secret) }),
      progress: ProgressStore.open({ home }),
    });
    await session.start();
    const snap = session.snapshot();
    expect(snap.state).toBe("failed");
    expect(snap.error?.message).toMatch(
      /is not a folder of the sandbox's; the lesson pack is at fault/,
    );
    expect(existsSync(join(home, "workspaces", "climb", "key.txt"))).toBe(false);
    expect(liveSandboxes()).toEqual([]);
    await session.stop();
  });

  it("copies a template without its symbolic links", () => {
    const root = temp();
    const outside = join(root, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "secret.txt"), "top secret\n");
    const template = join(root, "template");
    mkdirSync(join(template, "sub"), { recursive: true });
    writeFileSync(join(template, "index.html"), "<h1>hi</h1>\n");
    writeFileSync(join(template, "sub", "page.html"), "<p>page</p>\n");
    symlinkSync(join(outside, "secret.txt"), join(template, "secret.txt"));
    symlinkSync(outside, join(template, "sub", "outside"));
    const dest = prepareWorkspace("links", template, join(root, "workspaces"));
    expect(readdirSync(dest).sort()).toEqual(["index.html", "sub"]);
    expect(readdirSync(join(dest, "sub"))).toEqual(["page.html"]);
  });
});

describe("write-file (S4)", () => {
  function context(workspace: string): ExperimentContext {
    return {
      baseUrl: "http://127.0.0.1:1",
      host: "127.0.0.1",
      port: 1,
      workspace,
      restart: async () => {},
    };
  }

  it("refuses to write through a symbolic link at the target", async () => {
    const root = temp();
    const workspace = join(root, "workspace");
    mkdirSync(workspace);
    const outside = join(root, "outside.txt");
    writeFileSync(outside, "keep me\n");
    symlinkSync(outside, join(workspace, "notes.txt"));
    const result = await runExperiment(
      exp({ kind: "write-file", file: "notes.txt", content: "overwritten\n" }),
      context(workspace),
    );
    expect(result.ok).toBe(false);
    expect(result.summary).toMatch(/^Refused to write notes\.txt: it is a symbolic link/);
    expect(result.summary).toMatch(/lesson pack.*at fault.*learn-webservers validate/);
    expect(readFileSync(outside, "utf8")).toBe("keep me\n");
  });

  it("checks a linked folder before making any folder outside the workspace", async () => {
    const root = temp();
    const workspace = join(root, "workspace");
    mkdirSync(workspace);
    const outside = join(root, "outside");
    mkdirSync(outside);
    symlinkSync(outside, join(workspace, "site"));
    const result = await runExperiment(
      exp({ kind: "write-file", file: "site/deeper/x.txt", content: "x\n" }),
      context(workspace),
    );
    expect(result.ok).toBe(false);
    expect(result.summary).toMatch(/leads outside the lab's workspace/);
    expect(existsSync(join(outside, "deeper"))).toBe(false);
  });

  it("still writes plain files, making their folders", async () => {
    const workspace = temp();
    const result = await runExperiment(
      exp({ kind: "write-file", file: "a/b/c.txt", content: "hello\n" }),
      context(workspace),
    );
    expect(result.ok).toBe(true);
    expect(readFileSync(join(workspace, "a", "b", "c.txt"), "utf8")).toBe("hello\n");
  });
});

describe("server text reaches the terminal escaped (S3)", () => {
  async function rawServer(
    response: string,
  ): Promise<{ port: number; close: () => Promise<void> }> {
    const server = net.createServer((socket) => {
      socket.once("data", () => socket.end(response));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    return { port, close: () => new Promise((r) => server.close(() => r())) };
  }

  it("the summary built from a status line, and the note quoting Last-Modified", async () => {
    const server = await rawServer(
      `HTTP/1.0 200 OK${OSC_CLIPBOARD}\r\nLast-Modified: Mon${OSC_CLIPBOARD}\r\nContent-Length: 0\r\n\r\n`,
    );
    try {
      const ctx: ExperimentContext = {
        baseUrl: `http://127.0.0.1:${server.port}`,
        host: "127.0.0.1",
        port: server.port,
        workspace: temp(),
        restart: async () => {},
      };
      const plain = await runExperiment(exp({ kind: "request", path: "/" }), ctx);
      expect(plain.ok).toBe(true);
      expect(findControl(plain.summary)).toBeUndefined();
      expect(plain.summary).toContain("HTTP/1.0 200 OK\\x1b]52;c;aGVsbG8=\\x07");
      const raw = await runExperiment(
        exp({ kind: "raw", send: "GET / HTTP/1.0\\r\\n\\r\\n" }),
        ctx,
      );
      expect(findControl(raw.summary)).toBeUndefined();
      const dated = await runExperiment(
        exp({ kind: "request", path: "/", useLastModifiedFrom: "/" }),
        ctx,
      );
      expect(dated.exchange?.note).toContain("Mon\\x1b]52");
      expect(findControl(dated.exchange?.note ?? "")).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it("the sandbox's stderr, in its log lines and in the hint of a failed start", async () => {
    const s = startSandbox({ sandbox: "static", flavour: `x${OSC_CLIPBOARD}` });
    const logs: SandboxLog[] = [];
    s.on("log", (line) => logs.push(line));
    const error = await s.ready.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(SandboxStartError);
    const hint = (error as SandboxStartError).hint ?? "";
    expect(hint).toContain("unknown flavour 'x\\x1b]52;c;aGVsbG8=\\x07'");
    expect(findControl(hint)).toBeUndefined();
    await s.stop();
    expect(logs.some((l) => l.text.includes("\\x1b]52"))).toBe(true);
    for (const line of logs) expect(findControl(line.text)).toBeUndefined();
  });
});

describe("mission regexes (S5)", () => {
  it("see at most the first 2 KB of a value", () => {
    const long = `${"a".repeat(REGEX_INPUT_MAX + 100)}b`;
    expect(matches(long, { regex: "b$" })).toBe(false);
    expect(matches(`${"a".repeat(100)}b`, { regex: "b$" })).toBe(true);
  });

  it("a long learner-controlled value cannot stall the check", () => {
    const started = performance.now();
    expect(matches("a".repeat(40_000), { regex: "a*b" })).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
