import { createHash } from "node:crypto";

/** RFC 6455's fixed GUID, the same for every WebSocket server. */
export const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export interface HandshakeMath {
  key: string;
  guid: string;
  sha1Hex: string;
  accept: string;
}

/** What a server must answer to `key`: base64(SHA-1(key + GUID)), and the hex digest between. */
export function acceptFor(key: string): HandshakeMath {
  const digest = createHash("sha1")
    .update(key + WS_GUID)
    .digest();
  return { key, guid: WS_GUID, sha1Hex: digest.toString("hex"), accept: digest.toString("base64") };
}

/**
 * The handshake's arithmetic, one step a line, short enough for 80 columns: from the client's
 * key to the Sec-WebSocket-Accept the server must send, and whether the one it sent matches.
 */
export function handshakeSteps(math: HandshakeMath, serverAccept?: string): string[] {
  const step = (label: string, value: string) => `${label.padEnd(24)}${value}`;
  const steps = [
    step("1 Sec-WebSocket-Key", `${math.key}   (16 random bytes, base64)`),
    step("2 append the GUID", math.guid),
    step("3 SHA-1 of key+GUID", math.sha1Hex),
    step("4 base64 of the SHA-1", math.accept),
  ];
  if (serverAccept !== undefined) {
    const verdict = serverAccept === math.accept ? "matches step 4" : "does NOT match step 4";
    steps.push(step("5 Sec-WebSocket-Accept", `${serverAccept}   ${verdict}`));
  }
  return steps;
}
