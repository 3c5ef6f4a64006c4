import { existsSync } from "node:fs";
import { join } from "node:path";

/** Where a learner's classroom link is kept: beside progress.json, so it outlives the app. */
export const MEMBERSHIP_FILE = "classroom.json";

export function membershipPath(home: string): string {
  return join(home, MEMBERSHIP_FILE);
}

/** Cheap enough for start-up: the client is loaded only when this is true or --join is given. */
export function hasMembership(home: string): boolean {
  return existsSync(membershipPath(home));
}
