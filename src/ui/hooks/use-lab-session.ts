import { useEffect, useState } from "react";
import type { LabSessionApi, LabSessionOptions, LabSessionSnapshot } from "../../lab/types.js";

export type CreateLabSession = (options: LabSessionOptions) => LabSessionApi;

export const FLASH_MS = 6000;

export interface LabSessionState {
  session: LabSessionApi;
  snapshot: LabSessionSnapshot;
  /**
   * "Mission met: …" for a few seconds after a mission is met, until an experiment starts or
   * another result arrives.
   */
  flash: string | undefined;
}

/**
 * Starts a lab session for as long as the component is mounted; unmounting (leaving the lab,
 * or Ink unmounting on quit) stops its sandbox.
 */
export function useLabSession(create: () => LabSessionApi): LabSessionState {
  const [session] = useState(create);
  const [snapshot, setSnapshot] = useState(() => session.snapshot());
  const [flash, setFlash] = useState<string>();

  useEffect(() => {
    let timer: NodeJS.Timeout | undefined;
    let previous = session.snapshot();
    const unsubscribe = session.subscribe((next) => {
      // A mission an experiment meets is reported after its result, so its flash still shows.
      const started = next.running !== undefined && previous.running === undefined;
      if (started || next.lastResult !== previous.lastResult) {
        clearTimeout(timer);
        setFlash(undefined);
      }
      previous = next;
      setSnapshot(next);
    });
    const unMet = session.onMissionMet((missions) => {
      if (missions.length === 0) return;
      setFlash(`Mission met: ${missions.map((m) => m.title).join("; ")}`);
      clearTimeout(timer);
      timer = setTimeout(() => setFlash(undefined), FLASH_MS);
    });
    setSnapshot(previous);
    void session.start();
    return () => {
      clearTimeout(timer);
      unsubscribe();
      unMet();
      void session.stop();
    };
  }, [session]);

  return { session, snapshot, flash };
}
