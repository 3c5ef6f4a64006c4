import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { type CheckResult, info } from "./report.js";

/** The real servers a learner may run beside the labs: import name, pip name, command (if any). */
export const REAL_SERVERS = [
  { name: "gunicorn", pip: "gunicorn", command: "gunicorn" },
  { name: "uwsgi", pip: "uwsgi", command: "uwsgi" },
  { name: "flask", pip: "flask", command: "flask" },
  { name: "django", pip: "django", command: "django-admin" },
  { name: "tornado", pip: "tornado", command: undefined },
  { name: "uvicorn", pip: "uvicorn", command: "uvicorn" },
] as const;

/**
 * Asks python3 for its version and, without importing anything (Django or Tornado would take
 * a while), whether each server is installed: its distribution's version, else whether the
 * module can be found. uWSGI's module exists only inside the uwsgi binary, so only its
 * distribution counts.
 */
const PROBE = `
import json, platform, importlib.util as u
try:
    import importlib.metadata as m
except Exception:
    m = None
out = {"version": platform.python_version(), "servers": {}}
for name, dist in ${JSON.stringify(REAL_SERVERS.map((s) => [s.name, s.pip]))}:
    v = None
    if m is not None:
        try:
            v = m.version(dist)
        except Exception:
            v = None
    found = v is not None
    if not found and name != "uwsgi":
        try:
            found = u.find_spec(name) is not None
        except Exception:
            found = False
    out["servers"][name] = {"found": found, "version": v}
print(json.dumps(out))
`;

export interface PythonProbe {
  kind: "ok";
  command: string;
  version: string;
  servers: Record<string, { found: boolean; version: string | null }>;
}

export type PythonOutcome =
  | PythonProbe
  | { kind: "missing"; command: string; reason: string }
  | { kind: "timeout"; command: string }
  | { kind: "error"; command: string; reason: string };

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: NodeJS.ErrnoException;
  timedOut: boolean;
}

/**
 * Runs a command to its end or for `timeoutMs`, whichever is first. On time, the command (and,
 * on Unix, everything it started) is killed and the result comes back at once, so a hung
 * interpreter, or a child of it keeping the pipes open, cannot stall the doctor.
 */
export function runBounded(command: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const unix = process.platform !== "win32";
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      detached: unix,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
      windowsHide: true,
    });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const settle = (r: Omit<RunResult, "stdout" | "stderr">): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, stdout, stderr });
    };
    const timer = setTimeout(() => {
      try {
        if (unix && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        else child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
      settle({ code: null, timedOut: true });
    }, timeoutMs);
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.once("error", (error: NodeJS.ErrnoException) =>
      settle({ code: null, error, timedOut: false }),
    );
    child.once("close", (code) => settle({ code, timedOut: false }));
  });
}

/** The first executable called `name` on PATH. */
export function onPath(name: string, path = process.env.PATH ?? ""): string | undefined {
  const names = process.platform === "win32" ? [`${name}.exe`, `${name}.cmd`, name] : [name];
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    for (const n of names) {
      const candidate = join(dir, n);
      try {
        accessSync(candidate, constants.X_OK);
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // Not here.
      }
    }
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0]?.trim() ?? "";
}

export async function probePython(timeoutMs: number): Promise<PythonOutcome> {
  const command = process.platform === "win32" && !onPath("python3") ? "python" : "python3";
  const r = await runBounded(command, ["-c", PROBE], timeoutMs);
  if (r.timedOut) return { kind: "timeout", command };
  if (r.error) {
    return r.error.code === "ENOENT"
      ? { kind: "missing", command, reason: "not found on PATH" }
      : { kind: "error", command, reason: r.error.code ?? r.error.message };
  }
  if (r.code !== 0) {
    // A pyenv shim or a Windows store alias with no interpreter behind it says why on stderr.
    const reason = firstLine(r.stderr) || `exit status ${r.code}`;
    return r.code === 127 || r.code === 9009
      ? { kind: "missing", command, reason }
      : { kind: "error", command, reason };
  }
  try {
    const parsed = JSON.parse(firstLine(r.stdout)) as Omit<PythonProbe, "kind" | "command">;
    return { kind: "ok", command, version: parsed.version, servers: parsed.servers };
  } catch {
    return { kind: "error", command, reason: `unexpected output: ${firstLine(r.stdout)}` };
  }
}

/** The python3 line and one line per real server: information only, never a problem. */
export function pythonResults(outcome: PythonOutcome, timeoutMs: number): CheckResult[] {
  const results: CheckResult[] = [];
  const optional = "optional: the labs imitate the servers, so the course does not need it";
  switch (outcome.kind) {
    case "ok": {
      const where = onPath(outcome.command);
      results.push(
        info(
          "python3",
          `Python ${outcome.version} (${where ?? outcome.command}), to run the lessons' Python scripts yourself`,
        ),
      );
      break;
    }
    case "missing":
      results.push(
        info(
          "python3",
          `${outcome.command} not found (${outcome.reason}); ${optional}, but the lessons' Python scripts need Python 3 from https://www.python.org`,
        ),
      );
      break;
    case "timeout":
      results.push(
        info(
          "python3",
          `${outcome.command} did not answer within ${timeoutMs / 1000} s, so the real servers were looked for on PATH only; ${optional}`,
        ),
      );
      break;
    case "error":
      results.push(
        info("python3", `${outcome.command} could not be asked (${outcome.reason}); ${optional}`),
      );
      break;
  }
  for (const server of REAL_SERVERS) {
    const known = outcome.kind === "ok" ? outcome.servers[server.name] : undefined;
    const command = server.command ? onPath(server.command) : undefined;
    let found: string;
    if (known?.found) {
      const version = known.version ? ` ${known.version}` : "";
      found = `${server.name}${version} installed for ${outcome.command}, to compare side by side with its lab`;
    } else if (command) {
      found = `${server.name} on PATH (${command}), to compare side by side with its lab`;
    } else {
      found = `${server.name} not installed (optional, for side-by-side comparison: pip install ${server.pip})`;
    }
    results.push(info(server.name, found));
  }
  return results;
}
