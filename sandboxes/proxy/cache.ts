/**
 * A micro-cache, as `proxy_cache` with `proxy_cache_valid 200 Ns` and
 * `add_header X-Cache $upstream_cache_status`: 200 answers to GET and HEAD kept per URI for a
 * few seconds, in memory, bounded.
 */

export type CacheStatus = "HIT" | "MISS" | "EXPIRED";

export interface CachedResponse {
  status: number;
  reason: string;
  /** The upstream's headers, as the proxy passes them on. */
  headers: [string, string][];
  body: Buffer;
  storedAt: number;
  expiresAt: number;
}

/** Why nginx would not store an answer: a private, no-store or no-cache one, or one setting a cookie. */
export function cacheable(status: number, headers: [string, string][]): boolean {
  if (status !== 200) return false;
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    if (key === "set-cookie") return false;
    if (key === "vary" && value.trim() === "*") return false;
    if (key === "cache-control") {
      const v = value.toLowerCase();
      if (/\b(no-store|no-cache|private)\b/.test(v)) return false;
      if (/\b(s-)?max-age\s*=\s*0\b/.test(v)) return false;
    }
  }
  return true;
}

export class MicroCache {
  readonly #entries = new Map<string, CachedResponse>();
  #bytes = 0;
  hits = 0;
  misses = 0;
  expired = 0;

  constructor(
    readonly ttlMs: number,
    readonly maxEntries = 1000,
    readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `key` while fresh; the status X-Cache reports either way. */
  lookup(key: string, now: number): { status: CacheStatus; entry?: CachedResponse } {
    const entry = this.#entries.get(key);
    if (!entry) {
      this.misses++;
      return { status: "MISS" };
    }
    if (now >= entry.expiresAt) {
      this.expired++;
      return { status: "EXPIRED" };
    }
    this.hits++;
    return { status: "HIT", entry };
  }

  /** Keeps an answer for ttlMs; the oldest entries go when the cache is full. */
  store(key: string, entry: Omit<CachedResponse, "storedAt" | "expiresAt">, now: number): void {
    if (entry.body.length > this.maxBytes / 16) return;
    this.#remove(key);
    const full: CachedResponse = { ...entry, storedAt: now, expiresAt: now + this.ttlMs };
    this.#entries.set(key, full);
    this.#bytes += full.body.length;
    while (this.#entries.size > this.maxEntries || this.#bytes > this.maxBytes) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#remove(oldest);
    }
  }

  #remove(key: string): void {
    const old = this.#entries.get(key);
    if (!old) return;
    this.#bytes -= old.body.length;
    this.#entries.delete(key);
  }
}
