import { pyInt, pySplit } from "./python.js";

/** email._parseaddr._parsedate_tz, as CPython 3.11 has it. */

const MONTH_NAMES = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const DAY_NAMES = new Set(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
const TIMEZONES: Record<string, number> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  Z: 0,
  AST: -400,
  ADT: -300,
  EST: -500,
  EDT: -400,
  CST: -600,
  CDT: -500,
  MST: -700,
  MDT: -600,
  PST: -800,
  PDT: -700,
};

export interface ParsedDate {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Offset in seconds; null when absent, unknown or -0000. */
  tzOffset: number | null;
}

/** str.isdigit() for the first character of a latin-1 token. */
function isDigitChar(ch: string | undefined): boolean {
  return ch !== undefined && /[0-9\u00b2\u00b3\u00b9]/.test(ch);
}

export function parsedateTz(value: string): ParsedDate | undefined {
  if (!value) return undefined;
  let data = pySplit(value);
  if (data.length === 0) return undefined;
  const first = data[0] ?? "";
  if (first.endsWith(",") || DAY_NAMES.has(first.toLowerCase())) {
    data.shift();
  } else {
    const i = first.lastIndexOf(",");
    if (i >= 0) data[0] = first.slice(i + 1);
  }
  if (data.length === 3) {
    const stuff = (data[0] ?? "").split("-");
    if (stuff.length === 3) data = [...stuff, ...data.slice(1)];
  }
  if (data.length === 4) {
    const s = data[3] ?? "";
    let i = s.indexOf("+");
    if (i === -1) i = s.indexOf("-");
    if (i > 0) data.splice(3, 1, s.slice(0, i), s.slice(i));
    else data.push("");
  }
  if (data.length < 5) return undefined;
  let [dd = "", mm = "", yy = "", tm = "", tz = ""] = data;
  if (!(dd && mm && yy)) return undefined;
  mm = mm.toLowerCase();
  if (!MONTH_NAMES.includes(mm)) {
    [dd, mm] = [mm, dd.toLowerCase()];
    if (!MONTH_NAMES.includes(mm)) return undefined;
  }
  let month = MONTH_NAMES.indexOf(mm) + 1;
  if (month > 12) month -= 12;
  if (dd.endsWith(",")) dd = dd.slice(0, -1);
  if (yy.indexOf(":") > 0) [yy, tm] = [tm, yy];
  if (yy.endsWith(",")) {
    yy = yy.slice(0, -1);
    if (!yy) return undefined;
  }
  if (!isDigitChar(yy[0])) [yy, tz] = [tz, yy];
  if (tm.endsWith(",")) tm = tm.slice(0, -1);
  let parts = tm.split(":");
  let thh: string;
  let tmm: string;
  let tss = "0";
  if (parts.length === 2) [thh = "", tmm = ""] = parts;
  else if (parts.length === 3) [thh = "", tmm = "", tss = ""] = parts;
  else if (parts.length === 1 && (parts[0] ?? "").includes(".")) {
    parts = (parts[0] ?? "").split(".");
    if (parts.length === 2) [thh = "", tmm = ""] = parts;
    else if (parts.length === 3) [thh = "", tmm = "", tss = ""] = parts;
    else return undefined;
  } else return undefined;
  const nums = [yy, dd, thh, tmm, tss].map(pyInt);
  if (nums.some((n) => n === undefined)) return undefined;
  let [year = 0, day = 0, hour = 0, minute = 0, second = 0] = nums as number[];
  if (year < 100) year += year > 68 ? 1900 : 2000;
  let tzOffset: number | null = null;
  const zone = tz.toUpperCase();
  if (zone in TIMEZONES) tzOffset = TIMEZONES[zone] ?? 0;
  else {
    const n = pyInt(zone);
    if (n !== undefined) tzOffset = n;
    if (tzOffset === 0 && zone.startsWith("-")) tzOffset = null;
  }
  if (tzOffset) {
    const sign = tzOffset < 0 ? -1 : 1;
    const abs = Math.abs(tzOffset);
    tzOffset = sign * (Math.floor(abs / 100) * 3600 + (abs % 100) * 60);
  }
  return { year, month, day, hour, minute, second, tzOffset };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * What SimpleHTTPRequestHandler.send_head compares an If-Modified-Since value as: seconds since
 * the epoch in UTC, or undefined when CPython ignores the header (unparsable, not a valid
 * datetime, or a non-UTC offset).
 */
export function ifModifiedSinceSeconds(value: string): number | undefined {
  const p = parsedateTz(value);
  if (!p) return undefined;
  if (p.year < 1 || p.year > 9999) return undefined;
  if (p.day < 1 || p.day > daysInMonth(p.year, p.month)) return undefined;
  if (p.hour < 0 || p.hour > 23 || p.minute < 0 || p.minute > 59) return undefined;
  if (p.second < 0 || p.second > 59) return undefined;
  if (p.tzOffset !== null && p.tzOffset !== 0) return undefined;
  const d = new Date(0);
  d.setUTCFullYear(p.year, p.month - 1, p.day);
  d.setUTCHours(p.hour, p.minute, p.second, 0);
  return d.getTime() / 1000;
}
