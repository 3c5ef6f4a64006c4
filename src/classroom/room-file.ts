import { mkdirSync, readFileSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../atomic-write.js";
import { progressHome } from "../progress/location.js";
import { newJoinCode, newSecret } from "./protocol.js";
import { type CourseOutline, ROOM_VERSION, type RoomData, roomSchema } from "./room.js";

export const ROOM_FILE = "classroom-room.json";

/** Where the host keeps the room unless `--data` says otherwise: beside the progress file. */
export function defaultRoomFile(): string {
  return join(progressHome(), ROOM_FILE);
}

export type RoomLoad =
  | { kind: "ok"; room: RoomData }
  | { kind: "missing" }
  | { kind: "newer"; version: number }
  | { kind: "unreadable"; reason: string };

export function readRoom(path: string): RoomLoad {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "missing" };
    return { kind: "unreadable", reason: code ?? String(error) };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: "unreadable", reason: "it is not valid JSON" };
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version > ROOM_VERSION) return { kind: "newer", version };
  const parsed = roomSchema.safeParse(raw);
  if (!parsed.success) return { kind: "unreadable", reason: "it is not a classroom room file" };
  return { kind: "ok", room: parsed.data as RoomData };
}

export function newRoom(course: CourseOutline, now = Date.now()): RoomData {
  return {
    version: ROOM_VERSION,
    code: newJoinCode(),
    key: newSecret(),
    createdAt: now,
    course,
    learners: [],
  };
}

function serialize(room: RoomData): string {
  return `${JSON.stringify(room)}\n`;
}

/** Writes the room at once: temporary file, fsync, rename. Only the owner may read it. */
export function writeRoomSync(path: string, room: RoomData): void {
  writeFileAtomic(path, serialize(room), 0o600);
}

/**
 * Saves the room in the background, at most one write at a time: changes made while a write runs
 * are written by the next one, `delayMs` after it.
 */
export class RoomWriter {
  readonly #path: string;
  readonly #room: () => RoomData;
  readonly #delayMs: number;
  readonly #onError: (error: unknown) => void;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;

  constructor(
    path: string,
    room: () => RoomData,
    onError: (error: unknown) => void,
    delayMs = 100,
  ) {
    this.#path = path;
    this.#room = room;
    this.#onError = onError;
    this.#delayMs = delayMs;
  }

  /** Something changed: write it soon. */
  touch(): void {
    this.#dirty = true;
    if (this.#timer || this.#writing) return;
    this.#timer = setTimeout(() => this.#run(), this.#delayMs);
  }

  #run(): void {
    this.#timer = undefined;
    if (!this.#dirty) return;
    this.#dirty = false;
    const text = serialize(this.#room());
    this.#writing = this.#write(text)
      .catch((error: unknown) => this.#onError(error))
      .finally(() => {
        this.#writing = undefined;
        if (this.#dirty) this.touch();
      });
  }

  async #write(text: string): Promise<void> {
    mkdirSync(dirname(this.#path), { recursive: true });
    const tmp = `${this.#path}.tmp-${process.pid}`;
    try {
      const handle = await open(tmp, "w", 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.#path);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /** Waits for a write in progress, then writes what is still unsaved, synchronously. */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    if (this.#dirty) {
      this.#dirty = false;
      writeRoomSync(this.#path, this.#room());
    }
  }
}
