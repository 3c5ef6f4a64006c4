import { isIP } from "node:net";
import { parseArgs } from "node:util";

export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
}

export interface ParsedFlags {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** The value of a string flag, or undefined when it was not given. */
  string(name: string): string | undefined;
}

/** The longest Unix socket path the OS takes: sun_path holds 108 bytes on Linux, 104 elsewhere, the last a NUL. */
export const MAX_UNIX_PATH = process.platform === "linux" ? 107 : 103;

/** Prints `prog: message` and the pointer to --help on stderr, exits 2 (like argparse). */
export function usageError(prog: string, message: string): never {
  process.stderr.write(`${prog}: ${message} (see --help)\n`);
  process.exit(2);
}

/**
 * node:util parseArgs, but every mistake (unknown flag, missing value, value given to a switch)
 * ends in one clear line naming the flag, and exit code 2.
 */
export function parseFlags(
  prog: string,
  argv: string[],
  spec: Record<string, FlagSpec>,
  maxPositionals: number,
): ParsedFlags {
  const run = () =>
    parseArgs({ args: argv, options: spec, allowPositionals: true, strict: false, tokens: true });
  let parsed: ReturnType<typeof run>;
  try {
    parsed = run();
  } catch (err) {
    usageError(prog, err instanceof Error ? err.message : String(err));
  }
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue;
    const known = spec[token.name];
    if (!known) usageError(prog, `unknown option '${token.rawName}'`);
    if (known.type === "string" && token.value === undefined) {
      usageError(prog, `option '${token.rawName}' needs a value`);
    }
    if (known.type === "boolean" && token.inlineValue) {
      usageError(prog, `option '${token.rawName}' takes no value`);
    }
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals];
    usageError(prog, `unexpected argument '${extra}'`);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    values[name] = Array.isArray(value) ? value.at(-1) : value;
  }
  return {
    values,
    positionals: parsed.positionals,
    string: (name) => (typeof values[name] === "string" ? (values[name] as string) : undefined),
  };
}

/** A TCP port: an integer 0..65535 (0 takes a free one). */
export function parsePort(prog: string, text: string): number {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed))
    usageError(prog, `invalid port '${text}': use a number from 0 to 65535`);
  const port = Number(trimmed);
  if (port > 65535) usageError(prog, `invalid port '${text}': use a number from 0 to 65535`);
  return port;
}

/** A switch given as on|off (true|false, yes|no, 1|0 are accepted too). */
export function parseOnOff(prog: string, flag: string, text: string): boolean {
  const value = text.trim().toLowerCase();
  if (["on", "true", "yes", "1"].includes(value)) return true;
  if (["off", "false", "no", "0"].includes(value)) return false;
  usageError(prog, `option '${flag}' takes on or off, not '${text}'`);
}

/**
 * The address to bind: IP literals as they are, `localhost` as 127.0.0.1 (as Python's
 * getaddrinfo gives it), other names through the resolver (first answer, the OS's order).
 */
export async function resolveBindHost(host: string): Promise<string> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(bare)) return bare;
  if (bare.toLowerCase() === "localhost") return "127.0.0.1";
  const { lookup } = await import("node:dns/promises");
  const answer = await lookup(bare, { verbatim: true });
  return answer.address;
}

export function isLoopback(address: string): boolean {
  if (address === "::1") return true;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

/** The one-line warning printed when a sandbox listens beyond this machine. */
export function exposureWarning(address: string): string {
  const where = address === "0.0.0.0" || address === "::" ? "all interfaces" : address;
  return `Warning: listening on ${where}: this server is reachable from other machines on your network.`;
}

/** The host as it goes in a URL: IPv6 in brackets. */
export function urlHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}
