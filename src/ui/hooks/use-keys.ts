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
  const handler = useCallback(
    (input: string, key: Key) => {
      const current = latest.current;
      if (!current.isActive) return;
      const resolved = resolveKey(scope, input, key, current.state);
      if (resolved) current.onKey(resolved, input, key);
    },
    [scope],
  );
  useInput(handler, { isActive: isRawModeSupported });
}
