import { useEffect, useState } from "react";
import type { ClassroomLink, ClassroomStatus } from "../../classroom/client.js";

export type { ClassroomLink, ClassroomStatus };

/** The link's status line, kept current; undefined outside a classroom. */
export function useClassroom(link: ClassroomLink | undefined): ClassroomStatus | undefined {
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
