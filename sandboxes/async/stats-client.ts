import http from "node:http";

/** The part of the async sandbox's /stats that its load process and the lab read. */
export interface AsyncStats {
  connections: { websockets: number; refused: number };
  memory: { rss: number };
}

/** GET /stats from the async sandbox; rejects when it does not answer JSON within `timeoutMs`. */
export function readStats(
  host: string,
  port: number,
  userAgent: string,
  timeoutMs = 5_000,
): Promise<AsyncStats> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host, port, path: "/stats", agent: false, headers: { "User-Agent": userAgent } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as AsyncStats);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`no answer from /stats within ${timeoutMs / 1000} s`)),
    );
    req.on("error", reject);
  });
}
