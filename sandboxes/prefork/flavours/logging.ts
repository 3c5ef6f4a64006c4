const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const two = (n: number) => String(n).padStart(2, "0");

/** The local UTC offset as strftime's %z gives it, e.g. +0000 or -0500. */
function utcOffset(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
}

/** Gunicorn's error-log time: `2026-11-26 10:12:54 +0000`. */
export function gunicornTime(date = new Date()): string {
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${utcOffset(date)}`;
}

/** One Gunicorn error-log line: `[time] [pid] [LEVEL] message`. */
export function gunicornLine(pid: number, level: string, message: string): string {
  return `[${gunicornTime()}] [${pid}] [${level}] ${message}\n`;
}

/** Gunicorn's access-log time: `26/Nov/2026:10:12:56 +0000`. */
export function accessTime(date = new Date()): string {
  return `${two(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${utcOffset(date)}`;
}

/** C's asctime: `Thu Nov 26 10:15:12 2026` (uWSGI's request log and harakiri lines). */
export function asctime(date = new Date()): string {
  const day = String(date.getDate()).padStart(2, " ");
  return `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${day} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${date.getFullYear()}`;
}
