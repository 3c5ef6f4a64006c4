import { useEffect, useState } from "react";

/** What the course map needs of a classroom join client (see src/classroom/client.ts). */
export interface ClassroomLink {
  status(): { text: string; ok: boolean };
  /** Calls `listener` on every change; returns an undo. */
  subscribe(listener: () => void): () => void;
}

/** The link's status line, kept current; undefined outside a classroom. */
export function useClassroom(
  link: ClassroomLink | undefined,
): { text: string; ok: boolean } | undefined {
  const [status, setStatus] = useState(() => link?.status());
  useEffect(() => {
    if (!link) return;
    setStatus(link.status());
    return link.subscribe(() => {
      const next = link.status();
      setStatus((old) => (old && old.text === next.text && old.ok === next.ok ? old : next));
    });
  }, [link]);
  return link ? status : undefined;
}
