import { Command, CommanderError, Help, InvalidArgumentError } from "commander";
import { defaultLessonsDir } from "../paths.js";
import { progressFileForHelp } from "../progress/location.js";
import { formatError, PROGRAM } from "./errors.js";

interface GlobalOptions {
  lessons?: string;
  plain?: boolean;
  join?: string;
  code?: string;
  name?: string;
}

const COMMANDS = [
  "list",
  "lesson",
  "lab",
  "exam",
  "sandbox",
  "progress",
  "validate",
  "doctor",
  "classroom",
  "help",
];

/** How each command reads in the main help, where every command's line must fit 80 columns. */
const SHORT_TERMS: Record<string, string> = {
  list: "list [--json]",
  lesson: "lesson <id>",
  lab: "lab <id> [--port N]",
  exam: "exam [--plain]",
  sandbox: "sandbox <name> [--port N] [...]",
  progress: "progress [--json] [--summary]",
  "progress reset": "progress reset [id] [--yes]",
  validate: "validate [DIR]",
  doctor: "doctor [--json]",
  "classroom host": "classroom host [--host H]",
  "classroom export": "classroom export [--out FILE]",
  "classroom leave": "classroom leave",
  help: "help [command]",
};

function parsePort(value: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 0 && n <= 65535)) {
    throw new InvalidArgumentError("Expected a port number from 0 to 65535 (0 takes a free port).");
  }
  return n;
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Commander's errors become one line that points at the right --help. */
function oneLineErrors(cmd: Command): void {
  const path = commandPath(cmd);
  cmd.configureOutput({
    outputError: (str, write) => {
      const message = str
        .replace(/^error:\s*/, "")
        .replace(/\s*\n\s*/g, " ")
        .trim()
        .replace(/\.$/, "");
      write(`${PROGRAM}: ${message}; see '${path} --help'\n`);
    },
  });
  for (const sub of cmd.commands) oneLineErrors(sub);
}

function rejectExtraCommand(cmd: Command, known: string[]): void {
  const extra = cmd.args[0];
  if (extra === undefined) return;
  cmd.error(`unknown command '${extra}' (commands: ${known.join(", ")})`, {
    code: "commander.unknownCommand",
    exitCode: 2,
  });
}

const EXAMPLES = `
Examples:
  npx learn-webservers                       open the course map
  learn-webservers list --json               lessons and scores, for scripts
  learn-webservers lesson http-basics        open a lesson
  learn-webservers lab http-basics --port 8000
                                             its lab, serving on port 8000
  learn-webservers sandbox static --port 8000 --directory .
                                             like python3 -m http.server 8000
  learn-webservers progress reset --yes      forget all progress
  learn-webservers validate ./my-pack        check a lesson pack you wrote
  learn-webservers --lessons ./my-pack       take the course from your pack
  learn-webservers --plain                   numbered menus (screen readers)
  learn-webservers classroom host --host 0.0.0.0
                                             the instructor's view of a room
  learn-webservers --join http://192.168.1.20:8090 --code K7PX3M --name "Ada"
                                             take the course in that classroom`;

function afterHelp(): string {
  return `${EXAMPLES}

Sandbox flags (--port N, --host H, --flavour F, ...) are the sandbox's own and
pass straight to it: learn-webservers sandbox static --help lists them.
Plain mode is also chosen when stdin or stdout is not a terminal, or TERM=dumb.
Keys: press ? in the app for all of them (arrows or j/k move, Enter opens,
Esc or q goes back, digits run experiments, Ctrl+C leaves).
Progress is stored in ${progressFileForHelp()}
(set LEARN_WEBSERVERS_HOME to keep it elsewhere; lab workspaces are beside it).
Built-in lessons: ${defaultLessonsDir()}
NO_COLOR=1 turns colours off.`;
}

export function buildProgram(): Command {
  const program = new Command(PROGRAM);
  program
    .description(
      "A terminal course on Python web servers, with live labs that behave like the real servers.\nWithout a command, opens the course map.",
    )
    .usage("[--lessons DIR] [--plain] [command] [options]")
    .enablePositionalOptions()
    .exitOverride()
    .option("--lessons <dir>", "use the lesson pack in DIR")
    .option("--plain", "numbered menus, no colour or cursor movement")
    .option("--join <url>", "send progress to the classroom host at URL")
    .option("--code <code>", "the classroom's join code")
    .option("--name <name>", "your name on the instructor's dashboard")
    .version(__VERSION__, "-V, --version", "print the version and exit")
    .helpOption("-h, --help", "show this help")
    .helpCommand(false);

  const lessonsOption = "use the lesson pack in DIR (also accepted before the command)";

  program
    .command("list")
    .description("lessons, status (new/in progress/done), best quiz")
    .usage("[--json] [--lessons DIR]")
    .option("--json", "print a JSON array of {id, title, state, pagesRead, pageCount, ...}")
    .option("--lessons <dir>", lessonsOption)
    .action(async (_opts, cmd: Command) => {
      const { listCommand } = await import("./list.js");
      await listCommand(cmd.optsWithGlobals());
    });

  program
    .command("lesson")
    .description("open the course at a lesson")
    .usage("<id> [--plain] [--lessons DIR]")
    .argument("<id>", "the lesson's id, as shown by list")
    .option("--plain", "line-by-line mode")
    .option("--lessons <dir>", lessonsOption)
    .action(async (id: string, _opts, cmd: Command) => {
      const { interactive } = await import("./interactive.js");
      const o = cmd.optsWithGlobals<GlobalOptions>();
      await interactive({ ...o, start: { lessonId: id, screen: "reader" } });
    });

  program
    .command("lab")
    .description("straight into a lesson's lab (a live server)")
    .usage("<id> [--port N] [--host H] [--plain] [--lessons DIR]")
    .argument("<id>", "the lesson's id, as shown by list")
    .option("--port <n>", "the port the lab's server listens on (default: a free one)", parsePort)
    .option("--host <host>", "the address it binds (default: 127.0.0.1)")
    .option("--plain", "line-by-line mode")
    .option("--lessons <dir>", lessonsOption)
    .action(async (id: string, _opts, cmd: Command) => {
      const { interactive } = await import("./interactive.js");
      const o = cmd.optsWithGlobals<GlobalOptions & { port?: number; host?: string }>();
      await interactive({ ...o, start: { lessonId: id, screen: "lab" } });
    });

  program
    .command("exam")
    .description("the final exam, open at any time")
    .usage("[--plain] [--lessons DIR]")
    .option("--plain", "line-by-line mode")
    .option("--lessons <dir>", lessonsOption)
    .action(async (_opts, cmd: Command) => {
      const { examCommand } = await import("./exam.js");
      await examCommand(cmd.optsWithGlobals<GlobalOptions>());
    });

  const sandbox = program
    .command("sandbox")
    .description("run a sandbox server in the foreground")
    .usage("<name> [--port N] [--host H] [--flavour F] [...]")
    .argument("[name]", "which sandbox, e.g. static")
    .argument("[args...]", "passed to the sandbox as they are; <name> --help lists them")
    .helpOption(false)
    .passThroughOptions()
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      "after",
      `
Every argument after <name> goes to the sandbox; Ctrl+C stops it.
Examples:
  learn-webservers sandbox static --port 8000 --directory ./site
  learn-webservers sandbox static --help`,
    )
    .action(async (name: string | undefined, args: string[]) => {
      const { sandboxCommand } = await import("./sandbox.js");
      await sandboxCommand(name, args, () => sandbox.outputHelp());
    });

  const progress = program
    .command("progress")
    .description("where progress is stored, and how far you are")
    .usage("[--json] [--summary [FILE]] [--lessons DIR]")
    .option("--json", "print {path, lessons: [...], last} as JSON")
    .option(
      "--summary [file]",
      "write your completion summary (Markdown) to FILE, or beside progress.json",
    )
    .option("--lessons <dir>", lessonsOption)
    .allowExcessArguments()
    .action(async (_opts, cmd: Command) => {
      rejectExtraCommand(cmd, ["reset"]);
      const { progressCommand } = await import("./progress.js");
      await progressCommand(cmd.optsWithGlobals());
    });
  progress
    .command("reset")
    .description("forget one lesson's progress, or all of it")
    .usage("[id] [--yes] [--lessons DIR]")
    .argument("[id]", "only this lesson")
    .option("-y, --yes", "do not ask; needed when stdin is not a terminal")
    .option("--lessons <dir>", lessonsOption)
    .action(async (id: string | undefined, _opts, cmd: Command) => {
      const { resetCommand } = await import("./progress.js");
      await resetCommand(id, cmd.optsWithGlobals());
    });

  program
    .command("validate")
    .description("check a lesson pack (file:line: message)")
    .usage("[DIR]")
    .argument("[dir]", "the pack's folder (default: --lessons, or the built-in lessons)")
    .action(async (dir: string | undefined, _opts, cmd: Command) => {
      const { validateCommand } = await import("./validate.js");
      await validateCommand(dir ?? cmd.optsWithGlobals<GlobalOptions>().lessons);
    });

  program
    .command("doctor")
    .description("check this machine before a workshop")
    .usage("[--json] [--plain] [--lessons DIR]")
    .option("--json", "print JSON: [{check, status: ok|warn|fail, found, fix?}, ...]")
    .option("--plain", "no colour")
    .option("--lessons <dir>", lessonsOption)
    .addHelpText(
      "after",
      `
One line per check, with the fix for each warning or problem: ok; warn (the
course works, a lab may not); FAIL (it blocks the course); info (optional).
Checks: Node >= 20; the terminal (80x24 or more, colour, NO_COLOR); a free port
on 127.0.0.1, and whether 8000 and 5000 are free; the progress folder is
writable (LEARN_WEBSERVERS_HOME moves it); the open-file limit (21000 for the
10,000-connection experiment); file-system events in a temporary folder (else
dev-reload polls); the built sandboxes; and, as info only, python3 and the real
servers (gunicorn, uwsgi, flask, django, tornado, uvicorn).
Exit status: 0 ready, 1 something blocks the course, 2 usage mistake.
Examples:
  learn-webservers doctor
  learn-webservers doctor --json > report.json    for an instructor's summary`,
    )
    .action(async (_opts, cmd: Command) => {
      const { doctorCommand } = await import("./doctor.js");
      await doctorCommand(cmd.optsWithGlobals());
    });

  const classroom = program
    .command("classroom")
    .description("run a workshop: the instructor's live dashboard, its export")
    .usage("host|export|leave [options]")
    .helpCommand(false)
    .addHelpText(
      "after",
      `
Learners join from their terminal:
  learn-webservers --join URL --code CODE --name NAME [lesson <id>|lab <id>]
Their progress (pages, labs, missions, quizzes, where they are) then goes to the
host in the background; the course never waits for it. See docs/CLASSROOM.md.`,
    );
  classroom
    .command("host")
    .description("the instructor's live dashboard of a workshop")
    .usage("[--port N] [--host H] [--data FILE] [--lessons DIR] [--json]")
    .option("--port <n>", "the port to listen on (default: 8090; 0 takes a free one)", parsePort)
    .option("--host <host>", "the address to bind (default: 127.0.0.1; 0.0.0.0 for a room)")
    .option("--data <file>", "the room file (default: classroom-room.json beside your progress)")
    .option("--lessons <dir>", "the lesson pack the room takes (for the pace view)")
    .option("--json", "print one JSON line {port, url, code, instructorUrl, ...} instead")
    .addHelpText(
      "after",
      `
The room (join code, instructor key, every learner) is kept in the data file and
written atomically, so a restart keeps it; delete the file for a new room.
Examples:
  learn-webservers classroom host                     this computer only
  learn-webservers classroom host --host 0.0.0.0      the room's network can join`,
    )
    .action(async (_opts, cmd: Command) => {
      const { hostCommand } = await import("./classroom.js");
      await hostCommand(cmd.optsWithGlobals());
    });
  classroom
    .command("export")
    .description("the room as CSV (one row per learner)")
    .usage("[--data FILE] [--out FILE]")
    .option("--data <file>", "the room file (default: classroom-room.json beside your progress)")
    .option("--out <file>", "write the CSV there (default: print it)")
    .action(async (_opts, cmd: Command) => {
      const { exportCommand } = await import("./classroom.js");
      await exportCommand(cmd.opts());
    });
  classroom
    .command("leave")
    .description("stop sending your progress to a classroom")
    .usage("")
    .action(async () => {
      const { leaveCommand } = await import("./classroom.js");
      await leaveCommand();
    });

  program.hook("preAction", (_program, action) => {
    const o = action.optsWithGlobals<GlobalOptions>();
    if (o.join === undefined && o.code === undefined && o.name === undefined) return;
    const name = action.name();
    if (action !== program && !["lesson", "lab", "exam"].includes(name)) {
      action.error(
        `--join, --code and --name open the course in a classroom; use them without a command, or with lesson, lab or exam`,
        { code: "commander.usage", exitCode: 2 },
      );
    }
  });

  program
    .command("help")
    .description("show a command's help")
    .usage("[command]")
    .argument("[command...]", "e.g. lab, or progress reset")
    .action((path: string[]) => {
      let cmd = program;
      for (const name of path) {
        const sub = cmd.commands.find((c) => c.name() === name);
        if (!sub) {
          const known = cmd.commands.map((c) => c.name());
          return cmd.error(`unknown command '${name}' (commands: ${known.join(", ")})`, {
            code: "commander.unknownCommand",
            exitCode: 2,
          });
        }
        cmd = sub;
      }
      cmd.outputHelp();
    });

  program
    .allowExcessArguments()
    .addHelpText("after", afterHelp)
    .configureHelp({
      visibleCommands(this: Help, cmd: Command): Command[] {
        return Help.prototype.visibleCommands
          .call(this, cmd)
          .flatMap((c) =>
            c === progress ? [c, ...c.commands] : c === classroom ? c.commands : [c],
          );
      },
      subcommandTerm: (c) => SHORT_TERMS[commandPath(c).replace(`${PROGRAM} `, "")] ?? c.name(),
    })
    .action(async (_opts, cmd: Command) => {
      rejectExtraCommand(cmd, COMMANDS);
      const { interactive } = await import("./interactive.js");
      await interactive(cmd.opts<GlobalOptions>());
    });

  oneLineErrors(program);
  return program;
}

const CLOSED_OUTPUT = new Set(["EPIPE", "EIO", "ERR_STREAM_DESTROYED"]);

/** A closed stdout (piped into head, a closed terminal) ends the program quietly, through the one exit path. */
function quietOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (!CLOSED_OUTPUT.has(err.code ?? "")) throw err;
      void import("../lab/supervisor.js").then((s) => s.shutdown(0));
    });
  }
}

export async function main(argv: string[]): Promise<void> {
  quietOnClosedOutput();
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const { text, exitCode } = formatError(err);
    process.stderr.write(text);
    process.exitCode = exitCode;
  }
}
