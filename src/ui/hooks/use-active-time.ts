import { useInput, useStdin } from "ink";
import { useCallback, useEffect, useLayoutEffect, useRef } from "react";
import { ActiveTimer } from "../../progress/active-time.js";
import type { ProgressStore } from "../../progress/store.js";

/** Active time is saved this often while a screen stays open, and when it closes. */
export const TIME_SAVE_MS = 60_000;

/**
 * Counts the learner's active time on a lesson's screens (`lessonId`) or on the exam ("exam")
 * into progress; nothing is counted while `where` is undefined (the map). Every key press counts
 * as activity, bound or not; the returned function marks activity from elsewhere (a request the
 * learner sends to a lab's server from their own terminal).
 */
export function useActiveTime(
  progress: ProgressStore,
  where: { lessonId: string } | "exam" | undefined,
  onError: (message: string) => void,
): () => void {
  const timer = useRef<ActiveTimer | undefined>(undefined);
  const lessonId = where === undefined || where === "exam" ? undefined : where.lessonId;
  const counting = where !== undefined;
  const report = useRef(onError);
  useLayoutEffect(() => {
    report.current = onError;
  });

  useEffect(() => {
    if (!counting) return;
    const current = new ActiveTimer();
    timer.current = current;
    const save = () => {
      try {
        progress.addTime(lessonId, current.take());
      } catch (err) {
        report.current(
          `Could not save the time spent: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    };
    const interval = setInterval(save, TIME_SAVE_MS);
    interval.unref();
    return () => {
      clearInterval(interval);
      if (timer.current === current) timer.current = undefined;
      save();
    };
  }, [progress, counting, lessonId]);

  const markActive = useCallback(() => timer.current?.activity(), []);
  const { isRawModeSupported } = useStdin();
  useInput(markActive, { isActive: isRawModeSupported === true });
  return markActive;
}
