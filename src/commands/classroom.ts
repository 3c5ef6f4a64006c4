import { writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { resolve } from "node:path";
import type { ClassroomLink } from "../classroom/client.js";
import { hasMembership } from "../classroom/membership.js";
import type { RoomData } from "../classroom/room.js";
import { safeText } from "../course/control.js";
import type { ProgressStore } from "../progress/store.js";
import { openCourse } from "./common.js";
import { CliError, PROGRAM, shellArg, usageError } from "./errors.js";

export const DEFAULT_HOST_PORT = 8090;

export interface HostCommandOptions {
  port?: number;
  host?: string;
  data?: string;
  lessons?: string;
  json?: boolean;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function urlHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/** The addresses learners can use: this machine's network addresses when bound to all of them. */
export function reachableHosts(bound: string): string[] {
  if (bound !== "0.0.0.0" && bound !== "::") return [bound];
  const found: string[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.internal) continue;
      if (a.family === "IPv4" || (bound === "::" && !a.address.startsWith("fe80"))) {
        found.push(a.address);
      }
    }
  }
  return found.length > 0 ? found : ["127.0.0.1"];
}

/** The command to put on the projector; with a pack of the instructor's own, its folder too. */
function joinCommand(url: string, code: string, lessons?: string): string {
  const pack = lessons === undefined ? "" : ` --lessons ${shellWord(lessons)}`;
  return `${PROGRAM}${pack} --join ${url} --code ${code} --name "Your name"`;
}

function shellWord(text: string): string {
  return /^[\w./:@%+-]+$/.test(text) ? text : `"${text.replace(/(["\\$`])/g, "\\$1")}"`;
}

function clock(): string {
  return new Date().toTimeString().slice(0, 8);
}

async function loadOrCreateRoom(
  dataPath: string,
  lessons: string | undefined,
): Promise<{ room: RoomData; notice?: string }> {
  const { newRoom, readRoom } = await import("../classroom/room-file.js");
  const { outlineOf } = await import("../classroom/room.js");
  const outline = outlineOf(await openCourse(lessons));
  const loaded = readRoom(dataPath);
  if (loaded.kind === "ok") return { room: { ...loaded.room, course: outline } };
  if (loaded.kind === "newer") {
    throw new CliError(
      `${dataPath} was written by a newer learn-webservers (room version ${loaded.version}); update this one, or start a new room with --data ANOTHER-FILE`,
    );
  }
  if (loaded.kind === "missing") return { room: newRoom(outline) };
  const { renameSync } = await import("node:fs");
  const kept = `${dataPath}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  try {
    renameSync(dataPath, kept);
  } catch (error) {
    throw new CliError(
      `${dataPath} cannot be read (${loaded.reason}) nor moved aside (${(error as NodeJS.ErrnoException).code ?? String(error)}); move it away or give --data ANOTHER-FILE`,
    );
  }
  return {
    room: newRoom(outline),
    notice: `The room file could not be read (${loaded.reason}); it was kept as ${kept} and a new room was started.`,
  };
}

/** `classroom host`: the dashboard server, in the foreground until Ctrl+C. */
export async function hostCommand(opts: HostCommandOptions): Promise<void> {
  const { defaultRoomFile, writeRoomSync } = await import("../classroom/room-file.js");
  const { ClassroomHost } = await import("../classroom/host.js");
  const dataPath = resolve(opts.data ?? defaultRoomFile());
  const bind = opts.host ?? "127.0.0.1";
  const { room, notice } = await loadOrCreateRoom(dataPath, opts.lessons);
  if (notice) process.stderr.write(`${notice}\n`);
  try {
    // Written at once, so the code and the key stay the same from the first start on.
    writeRoomSync(dataPath, room);
  } catch (error) {
    throw new CliError(
      `cannot write the room file ${dataPath} (${(error as NodeJS.ErrnoException).code ?? String(error)}); give a writable place with --data FILE`,
    );
  }

  let saveWarned = false;
  const host = new ClassroomHost({
    room,
    dataPath,
    onJoin: (learner, count) => {
      if (!opts.json) {
        process.stdout.write(
          `${clock()} ${safeText(learner.name)} joined (${count} in the room)\n`,
        );
      }
    },
    onSaveError: (error) => {
      if (saveWarned) return;
      saveWarned = true;
      process.stderr.write(
        `The room could not be saved in ${dataPath} (${(error as NodeJS.ErrnoException).code ?? String(error)}); it is kept in memory. Free some space or fix the folder's permissions.\n`,
      );
    },
  });

  const port = opts.port ?? DEFAULT_HOST_PORT;
  let address: { port: number; address: string };
  try {
    address = await host.listen(port, bind);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      throw new CliError(
        `port ${port} is in use on ${bind}; choose another with --port N (--port 0 takes a free one)`,
      );
    }
    if (code === "EACCES") {
      throw new CliError(
        `port ${port} needs administrator rights here; choose one above 1023 with --port N`,
      );
    }
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
      throw new CliError(
        `${bind} is not an address of this machine; try --host 0.0.0.0 (every interface)`,
      );
    }
    throw error;
  }
  const urls = reachableHosts(bind).map((h) => `http://${urlHost(h)}:${address.port}`);
  const shareUrl = urls[0] as string;
  const localUrl = `http://${isLoopback(bind) ? urlHost(bind) : "127.0.0.1"}:${address.port}`;
  const instructorUrl = `${localUrl}/#key=${room.key}`;
  const joinCmd = joinCommand(shareUrl, room.code, opts.lessons);
  host.setJoinCommand(joinCmd);

  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        port: address.port,
        host: bind,
        url: shareUrl,
        urls,
        code: room.code,
        instructorUrl,
        join: joinCmd,
        data: dataPath,
        learners: room.learners.length,
      })}\n`,
    );
  } else {
    const n = room.learners.length;
    const lines = [
      `Classroom host for "${room.course.title}" (${room.course.lessons.length} lessons)`,
      `Room kept in ${dataPath}${n > 0 ? ` (${n} ${n === 1 ? "learner" : "learners"} so far)` : ""}`,
      "",
      "Learners join with (put this on the projector):",
      ...urls.map((u) => `  ${joinCommand(u, room.code, opts.lessons)}`),
      `Join code: ${room.code}`,
      "",
      "Your dashboard (keep this link to yourself: it holds the instructor key):",
      `  ${instructorUrl}`,
      "",
      `Export the room: the dashboard's Export CSV link, or ${PROGRAM} classroom export${opts.data ? ` --data ${shellArg(dataPath)}` : ""} --out room.csv`,
      isLoopback(bind)
        ? "Only this computer can reach it; for a room, start it with --host 0.0.0.0."
        : `Learners use ${urls.length > 1 ? "one of the addresses above (the one on the room's network)" : "the address above"}.`,
      "Ctrl+C stops the host; the room is kept.",
      "",
    ];
    process.stdout.write(lines.join("\n"));
  }
  if (!isLoopback(bind)) {
    process.stderr.write(
      `Warning: listening on ${bind === "0.0.0.0" || bind === "::" ? "all interfaces" : bind}: anyone on your network can reach this host. The join code is needed to post and the instructor key to read; stop it after the workshop.\n`,
    );
  }

  await new Promise<void>((done) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(1);
      stopping = true;
      void host.close().finally(() => {
        if (!opts.json) {
          const n = room.learners.length;
          process.stdout.write(
            `\nStopped. The room (${n} ${n === 1 ? "learner" : "learners"}) is kept in ${dataPath}\n`,
          );
        }
        done();
      });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    if (process.platform !== "win32") process.on("SIGHUP", stop);
  });
}

/** `classroom export`: the room file as CSV, on stdout or in `--out`. */
export async function exportCommand(opts: { data?: string; out?: string }): Promise<void> {
  const { defaultRoomFile, readRoom } = await import("../classroom/room-file.js");
  const { roomCsv } = await import("../classroom/csv.js");
  const dataPath = resolve(opts.data ?? defaultRoomFile());
  const loaded = readRoom(dataPath);
  if (loaded.kind === "missing") {
    throw new CliError(
      `there is no room in ${dataPath}; start one with: ${PROGRAM} classroom host${opts.data ? ` --data ${shellArg(dataPath)}` : ""}`,
    );
  }
  if (loaded.kind === "newer") {
    throw new CliError(
      `${dataPath} was written by a newer learn-webservers; update this one to export it`,
    );
  }
  if (loaded.kind === "unreadable") {
    throw new CliError(`${dataPath} cannot be read as a room (${loaded.reason})`);
  }
  const csv = roomCsv(loaded.room);
  if (opts.out === undefined || opts.out === "-") {
    process.stdout.write(csv);
    return;
  }
  try {
    writeFileSync(opts.out, csv, { mode: 0o600 });
  } catch (error) {
    throw new CliError(
      `cannot write ${opts.out} (${(error as NodeJS.ErrnoException).code ?? String(error)}); choose another --out`,
    );
  }
  const n = loaded.room.learners.length;
  process.stdout.write(`Wrote ${n} ${n === 1 ? "learner" : "learners"} to ${opts.out}\n`);
}

/** `classroom leave`: stop sending progress to the classroom host. */
export async function leaveCommand(): Promise<void> {
  const { leaveRoom } = await import("../classroom/client.js");
  const { progressHome } = await import("../progress/location.js");
  const left = leaveRoom(progressHome());
  if (!left) {
    process.stdout.write("You are not in a classroom; nothing to leave.\n");
    return;
  }
  const waiting = left.queue.length;
  process.stdout.write(
    `Left the classroom at ${left.url}${waiting > 0 ? ` (${waiting} unsent ${waiting === 1 ? "event" : "events"} dropped)` : ""}. Your own progress is kept.\n`,
  );
}

export interface JoinOptions {
  join?: string;
  code?: string;
  name?: string;
}

/** The usage mistakes in --join/--code/--name, before anything starts. */
export function checkJoinOptions(opts: JoinOptions): void {
  const given = [opts.join, opts.code, opts.name].filter((v) => v !== undefined).length;
  if (given > 0 && given < 3) {
    throw usageError(
      `--join, --code and --name go together, e.g. ${PROGRAM} --join http://192.168.1.20:${DEFAULT_HOST_PORT} --code K7PX3M --name "Ada"`,
    );
  }
}

export interface ClassroomSession {
  /** What the course map shows of the link: the join client, or a refusal that stands. */
  link: ClassroomLink;
  /** Stops the client after one last try to send; says so when events still wait. */
  stop(): Promise<void>;
}

/**
 * Starts sending progress to the classroom host when --join is given or this learner joined
 * before. Returns the session (stop it on exit), or undefined when not in a classroom.
 */
export async function startClassroom(
  opts: JoinOptions,
  progress: ProgressStore,
  say: (line: string) => void,
): Promise<ClassroomSession | undefined> {
  checkJoinOptions(opts);
  if (opts.join === undefined && !hasMembership(progress.home)) return undefined;
  const { JoinClient, classroomLine, describeMembership, joinRoom, readMembership } = await import(
    "../classroom/client.js"
  );
  let membership: ReturnType<typeof readMembership>;
  if (opts.join !== undefined && opts.code !== undefined && opts.name !== undefined) {
    try {
      membership = joinRoom(progress.home, { url: opts.join, code: opts.code, name: opts.name });
    } catch (error) {
      if (error instanceof Error && !(error as NodeJS.ErrnoException).code) {
        throw usageError(error.message);
      }
      throw new CliError(
        `cannot record the classroom in ${progress.home} (${(error as NodeJS.ErrnoException).code}); check that folder, or set LEARN_WEBSERVERS_HOME`,
      );
    }
    say(
      `Classroom: joining ${membership.url} as ${membership.name}; your progress goes to the instructor in the background (${PROGRAM} progress shows how it goes).`,
    );
  } else {
    membership = readMembership(progress.home);
    if (!membership) return undefined;
    if (membership.status.state === "refused") {
      say(describeMembership(membership));
      // Nothing is sent after a refusal, but the map keeps saying why until the learner acts.
      const refused = classroomLine(membership);
      return {
        link: { status: () => refused, subscribe: () => () => {} },
        stop: async () => {},
      };
    }
  }
  const client = new JoinClient(progress.home, membership, progress);
  client.start();
  return {
    link: client,
    stop: async () => {
      await client.stop();
      const m = client.membership;
      if (m.queue.length > 0 || m.status.state === "refused") say(describeMembership(m));
    },
  };
}

/** The classroom line for `progress`, or undefined when not in a classroom. */
export async function classroomStatus(
  home: string,
): Promise<{ line: string; json: Record<string, unknown> } | undefined> {
  if (!hasMembership(home)) return undefined;
  const { describeMembership, readMembership } = await import("../classroom/client.js");
  const m = readMembership(home);
  if (!m) return undefined;
  return {
    line: describeMembership(m),
    json: {
      url: m.url,
      name: m.name,
      joined: m.learner !== undefined,
      state: m.status.state,
      message: m.status.message ?? null,
      since: new Date(m.status.at).toISOString(),
      waiting: m.queue.length,
      lastSent: m.sentAt ? new Date(m.sentAt).toISOString() : null,
    },
  };
}
