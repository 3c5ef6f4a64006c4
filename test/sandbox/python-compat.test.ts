import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ifModifiedSinceSeconds } from "../../sandboxes/shared/pydate.js";
import { pyRepr } from "../../sandboxes/shared/python.js";
import { quote, unquote, urlsplit, urlunsplit } from "../../sandboxes/shared/pyurl.js";
import { guessType } from "../../sandboxes/static/mime.js";
import { onSiteLocation } from "../../sandboxes/static/server.js";

// What CPython 3.11.2 (Debian 12) answered for each input, recorded with /usr/bin/python3.
const python = JSON.parse(
  readFileSync(new URL("./fixtures/python-3.11.2.json", import.meta.url), "utf8"),
) as Record<string, [string, unknown][]>;
const cases = (name: string) => python[name] ?? [];

describe("Python's own functions, ported", () => {
  it.each(cases("repr"))("repr(%j)", (input, expected) => {
    expect(pyRepr(input)).toBe(expected);
  });

  it.each(cases("unquote"))("urllib.parse.unquote(%j)", (input, expected) => {
    expect(unquote(input)).toBe(expected);
  });

  it.each(cases("unquoteSurrogatepass"))(
    "unquote(%j, errors='surrogatepass')",
    (input, expected) => {
      if (expected === null) expect(() => unquote(input, "surrogatepass")).toThrow();
      else expect(unquote(input, "surrogatepass")).toBe(expected);
    },
  );

  it.each(cases("quote"))("urllib.parse.quote(%j)", (input, expected) => {
    expect(quote(input)).toBe(expected);
  });

  it.each(cases("urlsplit"))("urllib.parse.urlsplit(%j)", (input, expected) => {
    if (expected === null) {
      expect(() => urlsplit(input)).toThrow("Invalid IPv6 URL");
      return;
    }
    const p = urlsplit(input);
    expect([p.scheme, p.netloc, p.path, p.query, p.fragment]).toEqual(expected);
  });

  it.each(cases("urlunsplit"))("urlunsplit(urlsplit(%j))", (input, expected) => {
    expect(urlunsplit(urlsplit(input))).toBe(expected);
  });

  it.each(cases("ifModifiedSince"))("If-Modified-Since: %j", (input, expected) => {
    expect(ifModifiedSinceSeconds(input) ?? null).toBe(expected);
  });

  it.each(cases("guessType"))("SimpleHTTPRequestHandler.guess_type(%j)", (input, expected) => {
    expect(guessType(input)).toBe(expected);
  });
});

describe("onSiteLocation", () => {
  it.each([
    ["/sub/", "/sub/"],
    ["/sub/?x=1", "/sub/?x=1"],
    ["/example.com/..%2fsub/", "/example.com/..%2fsub/"],
    ["//evil.example/", "/evil.example/"],
    ["/\\evil.example/", "/%5Cevil.example/"],
    ["/\\/\\evil.example/", "/%5C%5Cevil.example/"],
    ["http://evil.example/x/", "/http://evil.example/x/"],
    ["%2f%2fexample.com/", "/%2f%2fexample.com/"],
    ["\x01//evil.example/", "/evil.example/"],
  ])("%j stays on the site as %j", (input, expected) => {
    const out = onSiteLocation(input);
    expect(out).toBe(expected);
    expect(new URL(out, "http://site.example/").host).toBe("site.example");
  });
});
