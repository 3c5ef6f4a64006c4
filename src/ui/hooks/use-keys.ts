import { type Key, useInput, useStdin } from "ink";
import { useCallback, useLayoutEffect, useRef } from "react";
import { type ResolvedKey, resolveKey, type Scope } from "../keys.js";

export interface UseKeysOptions {
  /** Only the focused screen or pane acts on keys. */
  isActive: boolean;
  /** The screen's state, for bindings that only work in some states. */
  state?: string;
}

/**
 * Calls `onKey` with the action the key table gives a key press in `scope`, while `isActive`.
 *
 * The hook stays subscribed and reads `isActive` when a key arrives: Ink subscribes in a passive
 * effect, which can run tens of milliseconds after a screen appears, and a key typed in between
 * would be lost. The flag is committed in a layout effect, so a screen that was just hidden or
 * unmounted stops acting on keys at once. Never subscribes when stdin has no raw mode (Ink
 * would throw).
 */
export function useKeys(
  scope: Scope,
  onKey: (resolved: ResolvedKey, input: string, key: Key) => void,
  { isActive, state }: UseKeysOptions,
): void {
  const { isRawModeSupported } = useStdin();
  const latest = useRef({ onKey, state, isActive: false });
  useLayoutEffect(() => {
    latest.current = { onKey, state, isActive };
  });
  useLayoutEffect(
    () => () => {
      latest.current = { ...latest.current, isActive: false };
    },
    [],
  );
  const pending = useRef<KeyPress[]>([]);
  const waiting = useRef<NodeJS.Timeout | undefined>(undefined);
  // Keys that arrive together (a paste, a fast typist, a slow link) are handled one per render,
  // so each sees the state the previous one left; a key that changes nothing waits a moment.
  const drain = useRef(() => {});
  drain.current = () => {
    clearTimeout(waiting.current);
    waiting.current = undefined;
    const next = pending.current.shift();
    if (!next) return;
    const current = latest.current;
    if (current.isActive) {
      const resolved = resolveKey(scope, next.input, next.key, current.state);
      if (resolved) current.onKey(resolved, next.input, next.key);
    }
    const settle = pending.current.length > 0 ? SETTLE_MS : 0;
    waiting.current = setTimeout(() => drain.current(), settle);
  };
  useLayoutEffect(() => {
    if (waiting.current !== undefined && pending.current.length > 0) {
      clearTimeout(waiting.current);
      waiting.current = setTimeout(() => drain.current(), 0);
    }
  });
  useLayoutEffect(
    () => () => {
      clearTimeout(waiting.current);
      pending.current = [];
    },
    [],
  );
  const handler = useCallback((input: string, key: Key) => {
    pending.current.push(...splitKeys(input, key));
    if (waiting.current === undefined) {
      drain.current();
    } else {
      // Arrived before the previous key's render: wait for that render (or a moment).
      clearTimeout(waiting.current);
      waiting.current = setTimeout(() => drain.current(), SETTLE_MS);
    }
  }, []);
  useInput(handler, { isActive: isRawModeSupported });
}

const SETTLE_MS = 40;

interface KeyPress {
  input: string;
  key: Key;
}

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** Ink hands over a run of plain characters as one input; this makes them separate presses. */
export function splitKeys(input: string, key: Key): KeyPress[] {
  const chars = Array.from(input);
  if (chars.length <= 1 || input.includes("\u001b") || key.ctrl || key.meta) {
    return [{ input, key }];
  }
  return chars.map((c): KeyPress => {
    if (c === "\r" || c === "\n") return { input: "", key: { ...NO_KEY, return: true } };
    if (c === "\t") return { input: "", key: { ...NO_KEY, tab: true } };
    if (c === "\u007f" || c === "\b") return { input: "", key: { ...NO_KEY, backspace: true } };
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x20) {
      return { input: String.fromCharCode(code + 0x60), key: { ...NO_KEY, ctrl: true } };
    }
    return { input: c, key: { ...NO_KEY, shift: /^[A-Z]$/.test(c) } };
  });
}
