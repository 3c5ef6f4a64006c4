/** Lines of the lab screen that are always there: header, server, files, curl, notice, column titles, next, two rules. */
export const LAB_FIXED_LINES = 9;
const MIN_LOG_LINES = 2;
const MIN_INSPECTOR_LINES = 3;

export interface LabLayout {
  /** Rows of the experiments and missions columns. */
  listRows: number;
  /** Experiments laid out in two columns because one would not fit. */
  experimentColumns: 1 | 2;
  logLines: number;
  inspectorLines: number;
}

/** Splits the lab screen's height between its parts; the sum never exceeds `height`. */
export function labLayout(height: number, experiments: number, missions: number): LabLayout {
  const available = Math.max(0, height - LAB_FIXED_LINES);
  // At most about half the room, so that the log and the inspector stay readable at 80x24.
  const maxListRows = Math.max(
    1,
    Math.min(available - MIN_LOG_LINES - MIN_INSPECTOR_LINES, Math.floor((available - 1) / 2)),
  );
  const experimentColumns = experiments > maxListRows ? 2 : 1;
  const experimentRows = Math.ceil(experiments / experimentColumns);
  const listRows = Math.min(Math.max(experimentRows, missions, 1), maxListRows);
  const rest = Math.max(0, available - listRows);
  const logLines = Math.max(Math.min(MIN_LOG_LINES, rest), Math.floor(rest * 0.4));
  return { listRows, experimentColumns, logLines, inspectorLines: Math.max(0, rest - logLines) };
}
