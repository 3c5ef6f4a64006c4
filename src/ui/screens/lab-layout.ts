/** Lines of the lab screen that are always there: header, server, files, curl, notice, column titles, two rules. */
export const LAB_FIXED_LINES = 8;
/** The server, files and curl rows, one line each, within LAB_FIXED_LINES. */
const HEAD_LINES = 3;
/** Lines of the zoomed lab besides its one pane: header, notice, the pane's rule. */
export const LAB_ZOOM_FIXED_LINES = 3;
/** Columns between the experiments and the missions. */
export const LAB_COLUMN_GAP = 2;
const MIN_LOG_LINES = 2;
const MIN_INSPECTOR_LINES = 3;
/** The missions column never gets narrower than this, however long the experiment titles. */
const MIN_MISSIONS_WIDTH = 26;

export interface LabLayoutInput {
  /** The lab screen's height, without the status bar. */
  height: number;
  width: number;
  experiments: number;
  /** Columns the longest experiment row needs: key, space, title, space, mark. */
  experimentsNeed: number;
  missions: number;
  /**
   * Rows the missions column would like at a given width (a long title wrapped, a hint below);
   * one per mission when absent.
   */
  missionRows?: (missionsWidth: number) => number;
  /** Lines of the rows above the notice (a failure's message and hint wrap); 3 when absent. */
  headLines?: number;
  /** The lab has a live view of its sandbox (the workers of `prefork`, the reloads of `dev-reload`). */
  view?: boolean;
}

export interface LabLayout {
  /** Rows of the experiments and missions columns. */
  listRows: number;
  experimentsWidth: number;
  missionsWidth: number;
  logLines: number;
  inspectorLines: number;
  /** Lines of the live view pane; 0 for a lab without one. */
  viewLines: number;
  /**
   * True when the live view and the inspector take turns in one place below the log (the
   * screen is too short for both), false when each has its own.
   */
  shared: boolean;
  /** Lines of a pane, or of the missions page, shown over the whole lab. */
  zoomLines: number;
}

/** Below this many lines for the panes, the live view and the inspector take turns. */
const THREE_PANES_MIN = 16;

/** Splits the lab screen between its parts; the rows never add up to more than `height`. */
export function labLayout({
  height,
  width,
  experiments,
  experimentsNeed,
  missions,
  missionRows = () => missions,
  headLines = HEAD_LINES,
  view = false,
}: LabLayoutInput): LabLayout {
  const experimentsWidth = Math.max(
    1,
    Math.min(experimentsNeed, width - LAB_COLUMN_GAP - MIN_MISSIONS_WIDTH),
  );
  const missionsWidth = Math.max(1, width - LAB_COLUMN_GAP - experimentsWidth);

  const available = Math.max(0, height - LAB_FIXED_LINES + HEAD_LINES - headLines);
  // The list gets what it needs while the log and the inspector keep a few lines each.
  const maxListRows = Math.max(1, available - MIN_LOG_LINES - MIN_INSPECTOR_LINES);
  const wanted = Math.max(experiments, missions, missionRows(missionsWidth), 1);
  const listRows = Math.min(wanted, maxListRows);
  const rest = Math.max(0, available - listRows);
  const zoomLines = Math.max(0, height - LAB_ZOOM_FIXED_LINES);
  if (view && rest >= THREE_PANES_MIN) {
    // One more rule line, for the live view's title.
    const lines = rest - 1;
    const logLines = Math.floor(lines * 0.25);
    const viewLines = Math.floor(lines * 0.45);
    return {
      listRows,
      experimentsWidth,
      missionsWidth,
      logLines,
      viewLines,
      inspectorLines: lines - logLines - viewLines,
      shared: false,
      zoomLines,
    };
  }
  const share = view ? 0.3 : 0.4;
  const logLines = Math.max(Math.min(MIN_LOG_LINES, rest), Math.floor(rest * share));
  const below = Math.max(0, rest - logLines);
  return {
    listRows,
    experimentsWidth,
    missionsWidth,
    logLines,
    inspectorLines: below,
    viewLines: view ? below : 0,
    shared: view,
    zoomLines,
  };
}
