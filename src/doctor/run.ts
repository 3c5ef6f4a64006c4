import {
  defaultPortsCheck,
  fsEventsCheck,
  loopbackCheck,
  nodeCheck,
  openFilesCheck,
  progressFolderCheck,
  sandboxesCheck,
  terminalCheck,
  terminalInfo,
} from "./checks.js";
import { probePython, pythonResults } from "./python.js";
import { type CheckResult, fail } from "./report.js";

/** How long a file-system event may take to arrive, and python3 to answer. */
export const FS_EVENT_WAIT_MS = 1000;
export const PYTHON_TIMEOUT_MS = 1500;

/** A check that throws is reported as a problem of that check, not as a crash of the doctor. */
async function guarded(check: string, run: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail(
      check,
      `the check itself failed (${message})`,
      "report this as a bug in learn-webservers",
    );
  }
}

/** Every check, run at once; the results come back in a fixed order, blocking checks first. */
export async function runChecks(opts: { lessons?: string } = {}): Promise<CheckResult[]> {
  const [loopback, ports, progress, openFiles, fsEvents, sandboxes, python] = await Promise.all([
    guarded("loopback", loopbackCheck),
    guarded("default-ports", defaultPortsCheck),
    guarded("progress-folder", () => progressFolderCheck()),
    guarded("open-files", openFilesCheck),
    guarded("fs-events", () => fsEventsCheck(FS_EVENT_WAIT_MS)),
    guarded("sandboxes", () => sandboxesCheck(opts.lessons)),
    probePython(PYTHON_TIMEOUT_MS).then((outcome) => pythonResults(outcome, PYTHON_TIMEOUT_MS)),
  ]);
  return [
    nodeCheck(),
    terminalCheck(terminalInfo()),
    loopback,
    ports,
    progress,
    sandboxes,
    openFiles,
    fsEvents,
    ...python,
  ];
}
