/**
 * Lesson text writes the lab server's address as `127.0.0.1:PORT`; once the server listens,
 * this puts the real one in its place (IPv6 hosts in brackets).
 */
export function withAddress(
  text: string,
  host: string | undefined,
  port: number | undefined,
): string {
  if (host === undefined || port === undefined) return text;
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return text.replaceAll("127.0.0.1:PORT", where);
}
