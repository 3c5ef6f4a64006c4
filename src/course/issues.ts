import { type Document, isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";
import { type core, z } from "zod";

export type Path = readonly PropertyKey[];

export interface LineMessage {
  line: number;
  message: string;
}

/** A parsed YAML text that can tell the line of any node; `lineOffset` shifts lines for embedded YAML. */
export class YamlSource {
  readonly data: unknown;
  readonly syntaxErrors: LineMessage[];
  private readonly doc: Document;
  private readonly counter = new LineCounter();

  constructor(
    text: string,
    private readonly lineOffset = 0,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.counter, prettyErrors: true });
    const lastLine = Math.max(1, text.trimEnd().split("\n").length);
    const seenLines = new Set<number>();
    this.syntaxErrors = [];
    for (const error of this.doc.errors) {
      // Errors found at the end of the text point past it; the last line is where to look.
      const line = Math.min(error.linePos?.[0].line ?? 1, lastLine);
      // One error per line: the parser often reports a second, consequential one.
      if (seenLines.has(line)) continue;
      seenLines.add(line);
      this.syntaxErrors.push({
        line: line + lineOffset,
        message: `YAML syntax error: ${firstLine(error.message)}`,
      });
    }
    let data: unknown;
    if (this.syntaxErrors.length === 0) {
      try {
        data = this.doc.toJS();
      } catch (error) {
        this.syntaxErrors.push({
          line: 1 + lineOffset,
          message: `YAML error: ${firstLine(error instanceof Error ? error.message : String(error))}`,
        });
      }
    }
    this.data = data;
  }

  private lineAt(offset: number): number {
    return this.counter.linePos(offset).line + this.lineOffset;
  }

  /** Line of the node at `path`, or of its nearest existing parent. */
  lineOf(path: Path): number {
    for (let n = path.length; n > 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return this.lineAt(node.range[0]);
    }
    const root = this.doc.contents;
    return root?.range ? this.lineAt(root.range[0]) : 1 + this.lineOffset;
  }

  /** Line of the key `key` in the mapping at `path`. */
  keyLineOf(path: Path, key: string): number {
    const node = path.length === 0 ? this.doc.contents : this.doc.getIn(path, true);
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && String(pair.key.value) === key && pair.key.range) {
          return this.lineAt(pair.key.range[0]);
        }
      }
    }
    return this.lineOf(path);
  }
}

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?\s*$/, "");
}

export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(seg)))
      out += out ? `.${String(seg)}` : String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

function prefix(path: Path): string {
  return path.length > 0 ? `${formatPath(path)}: ` : "";
}

export function valueAt(data: unknown, path: Path): unknown {
  let value = data;
  for (const seg of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[seg];
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === undefined || value === null) return "nothing";
  if (typeof value === "string") {
    const shown = value.length > 40 ? `${value.slice(0, 37)}...` : value;
    return JSON.stringify(shown);
  }
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

const TYPE_NAMES: Record<string, string> = {
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "true/false",
  object: "a mapping",
  array: "a list",
  record: "a mapping",
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

function orList(items: string[]): string {
  const unique = [...new Set(items)];
  if (unique.length <= 1) return unique[0] ?? "";
  return `${unique.slice(0, -1).join(", ")} or ${unique.at(-1)}`;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    if (
      s instanceof z.ZodOptional ||
      s instanceof z.ZodDefault ||
      s instanceof z.ZodNullable ||
      s instanceof z.ZodPrefault ||
      s instanceof z.ZodReadonly
    ) {
      s = s.unwrap() as z.ZodType;
    } else if (s instanceof z.ZodPipe) {
      s = s.in as z.ZodType;
    } else {
      return s;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function pickOption(schema: z.ZodType, data: unknown): z.ZodType {
  const s = unwrap(schema);
  if (s instanceof z.ZodDiscriminatedUnion) {
    const key = s.def.discriminator;
    const value = isPlainObject(data) ? data[key] : undefined;
    for (const option of s.options as z.ZodType[]) {
      const o = unwrap(option);
      const literal = o instanceof z.ZodObject ? o.shape[key] : undefined;
      if (literal instanceof z.ZodLiteral && literal.values.has(value as core.util.Literal)) {
        return o;
      }
    }
    return s;
  }
  if (s instanceof z.ZodUnion && isPlainObject(data)) {
    const object = (s.options as z.ZodType[]).map(unwrap).find((o) => o instanceof z.ZodObject);
    return object ?? s;
  }
  return s;
}

/** The schema that describes the value at `path`, following unions by the data. */
export function schemaAt(schema: z.ZodType, path: Path, data: unknown): z.ZodType | undefined {
  let s: z.ZodType = schema;
  let d = data;
  for (const seg of path) {
    const here = pickOption(s, d);
    if (here instanceof z.ZodObject) {
      const next = here.shape[String(seg)] as z.ZodType | undefined;
      if (!next) return undefined;
      s = next;
    } else if (here instanceof z.ZodArray) {
      s = here.element as z.ZodType;
    } else if (here instanceof z.ZodRecord) {
      s = here.valueType as z.ZodType;
    } else {
      return undefined;
    }
    d = valueAt(d, [seg]);
  }
  return pickOption(s, d);
}

function fieldsOf(schema: z.ZodType, path: Path, data: unknown): string[] {
  const s = schemaAt(schema, path, data);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

/** Fields of an object schema that have no default and are not optional. */
function requiredFields(schema: z.ZodType): string[] {
  const s = unwrap(schema);
  if (!(s instanceof z.ZodObject)) return [];
  return Object.entries(s.shape as Record<string, z.ZodType>)
    .filter(([, field]) => !field.safeParse(undefined).success)
    .map(([name]) => name);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

function suggest(unknown: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of known) {
    const d = name.toLowerCase() === unknown.toLowerCase() ? 0 : editDistance(unknown, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function isTypeMismatchAtRoot(issues: readonly core.$ZodIssue[]): boolean {
  return issues.every(
    (issue) =>
      issue.path.length === 0 &&
      (issue.code === "invalid_type" ||
        (issue.code === "invalid_union" &&
          issue.errors.length > 0 &&
          issue.errors.every((branch) => isTypeMismatchAtRoot(branch)))),
  );
}

function expectedTypes(issues: readonly core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === "invalid_type") return [typeName(issue.expected)];
    if (issue.code === "invalid_union") return issue.errors.flatMap((b) => expectedTypes(b));
    return [];
  });
}

interface Located {
  path: Path;
  /** When set, the problem is about this key of the mapping at `path`. */
  key?: string;
  message: string;
}

function explain(issue: core.$ZodIssue, schema: z.ZodType, data: unknown, what: string): Located[] {
  const path = issue.path;
  const value = valueAt(data, path);
  const missing = value === undefined && path.length > 0;
  const field = String(path.at(-1));
  const parent = path.slice(0, -1);
  const here = prefix(path);

  switch (issue.code) {
    case "invalid_type": {
      const expected = typeName(issue.expected);
      if (missing) {
        return [
          {
            path: parent,
            message: `${prefix(parent)}missing field "${field}" (expected ${expected})`,
          },
        ];
      }
      if (path.length === 0 && (value === null || value === undefined)) {
        const fields = requiredFields(schema);
        const wanted = fields.length > 0 ? ` (it needs ${fields.join(", ")})` : "";
        return [{ path, message: `${what} is empty${wanted}` }];
      }
      let hint = "";
      if (typeof value === "string" && issue.expected === "number" && value.trim() !== "") {
        if (!Number.isNaN(Number(value)))
          hint = ` (quotes make it text; write ${value} without them)`;
      }
      if (
        typeof value === "string" &&
        issue.expected === "boolean" &&
        /^(true|false)$/.test(value)
      ) {
        hint = ` (quotes make it text; write ${value} without them)`;
      }
      return [{ path, message: `${here}expected ${expected}, got ${describe(value)}${hint}` }];
    }
    case "unrecognized_keys": {
      const known = fieldsOf(schema, path, data);
      return issue.keys.map((key) => {
        const guess = suggest(key, known);
        const help = guess
          ? `did you mean "${guess}"?`
          : known.length > 0
            ? `expected one of: ${known.join(", ")}`
            : "remove it";
        return { path, key, message: `${here}unknown field "${key}" (${help})` };
      });
    }
    case "invalid_union": {
      if (issue.errors.length === 0) {
        const options = (issue as { options?: unknown[] }).options ?? [];
        const list = options.map((o) => String(o)).join(", ");
        if (missing) {
          return [
            {
              path: parent,
              message: `${prefix(parent)}missing field "${field}" (expected one of: ${list})`,
            },
          ];
        }
        return [{ path, message: `${here}${describe(value)} is not one of: ${list}` }];
      }
      const nearMiss = issue.errors.find((branch) => !isTypeMismatchAtRoot(branch));
      if (nearMiss) {
        return nearMiss.flatMap((inner) =>
          explain(
            { ...inner, path: [...path, ...inner.path] } as core.$ZodIssue,
            schema,
            data,
            what,
          ),
        );
      }
      const expected = orList(expectedTypes(issue.errors.flat()));
      if (missing) {
        return [
          {
            path: parent,
            message: `${prefix(parent)}missing field "${field}" (expected ${expected})`,
          },
        ];
      }
      return [{ path, message: `${here}expected ${expected}, got ${describe(value)}` }];
    }
    case "invalid_value": {
      const values = issue.values.map((v) => (typeof v === "string" ? v : String(v)));
      const wanted = values.length === 1 ? values[0] : `one of: ${values.join(", ")}`;
      if (missing) {
        return [
          {
            path: parent,
            message: `${prefix(parent)}missing field "${field}" (expected ${wanted})`,
          },
        ];
      }
      if (values.length === 1) {
        return [{ path, message: `${here}expected ${wanted}, got ${describe(value)}` }];
      }
      return [{ path, message: `${here}${describe(value)} is not ${wanted}` }];
    }
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const limit = String(small ? issue.minimum : issue.maximum);
      if (issue.origin === "string" && typeof value === "string") {
        if (small && limit === "1") return [{ path, message: `${here}must not be empty` }];
        const length = Array.from(value).length;
        return [
          {
            path,
            message: `${here}${length} characters is too ${small ? "short" : "long"} (${small ? "at least" : "at most"} ${limit})`,
          },
        ];
      }
      if (issue.origin === "array" && Array.isArray(value)) {
        const items = (n: string) => `${n} ${n === "1" ? "item" : "items"}`;
        return [
          {
            path,
            message: small
              ? `${here}needs at least ${items(limit)}, has ${value.length}`
              : `${here}has ${value.length} items (at most ${limit})`,
          },
        ];
      }
      if (issue.origin === "number" && typeof value === "number") {
        const bound = small
          ? issue.inclusive
            ? `at least ${limit}`
            : `more than ${limit}`
          : issue.inclusive
            ? `at most ${limit}`
            : `less than ${limit}`;
        return [
          { path, message: `${here}${value} is too ${small ? "small" : "big"} (must be ${bound})` },
        ];
      }
      return [{ path, message: `${here}${issue.message}` }];
    }
    case "invalid_format": {
      const shown = describe(value);
      if (issue.format === "starts_with") {
        const start = (issue as { prefix?: string }).prefix ?? "";
        return [{ path, message: `${here}${shown} must start with "${start}"` }];
      }
      if (issue.format === "url") {
        return [
          {
            path,
            message: `${here}${shown} is not a URL (expected e.g. https://docs.python.org/3/)`,
          },
        ];
      }
      if (issue.format === "regex") {
        return [{ path, message: `${here}${shown} is not valid: ${issue.message}` }];
      }
      return [{ path, message: `${here}${shown}: ${issue.message}` }];
    }
    default:
      return [{ path, message: `${here}${issue.message}` }];
  }
}

/** Validates `source.data` against `schema`; problems carry the line of the offending node. */
export function checkSchema<T extends z.ZodType>(
  schema: T,
  source: YamlSource,
  what = "the file",
): { value?: z.output<T>; problems: LineMessage[] } {
  const result = schema.safeParse(source.data);
  if (result.success) return { value: result.data, problems: [] };
  // A value of the wrong type also fails its length checks; the type is what to report.
  const wrongType = new Set(
    result.error.issues
      .filter((issue) => issue.code === "invalid_type")
      .map((issue) => JSON.stringify(issue.path)),
  );
  const issues = result.error.issues.filter(
    (issue) => issue.code === "invalid_type" || !wrongType.has(JSON.stringify(issue.path)),
  );
  const problems = issues.flatMap((issue) =>
    explain(issue, schema, source.data, what).map((located) => ({
      line:
        located.key !== undefined
          ? source.keyLineOf(located.path, located.key)
          : source.lineOf(located.path),
      message: located.message,
    })),
  );
  return { problems };
}
