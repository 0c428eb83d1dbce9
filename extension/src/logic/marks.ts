/**
 * Line marks: what the gutter icons and after-line text show. One mark per
 * (file, line, side); hotspots of one side on one line are merged.
 *
 * Heat comes from the share of the mark's kind (0..1 of that kind's wait
 * time): 4 from 50%, 3 from 25%, 2 from 10%, 1 below. A mark whose share is
 * below `minShare` is not drawn (the tree and hovers still list it).
 *
 * Lock sides (holder, waiter, trace) come first, then other waits; within a
 * side, the heaviest first. Other waits (WaitGroup, channel, select, Cond)
 * are drawn, but their text never calls them contention, and a root
 * goroutine parked for the whole run is not drawn at all (see
 * {@link notHotspots}).
 *
 * Stuck waits and deadlocks (./stuck) come first of all, at full heat and
 * whatever the minimum share: the waiting line on the waiter side, the
 * holder's Lock line on the holder side. Their mark replaces any hotspot
 * mark on the same line, so the line says the one thing that matters.
 */
import { SIDE_ORDER, Side, isReleaseKind, primitiveLabel, shownHotspots, sideOf, validLine } from './classify';
import { formatDuration, formatShare } from './format';
import { Hotspot, Report } from './report';
import { StuckKind, stuckLines } from './stuck';

export type { Side } from './classify';

/** Heat of a line, 1 (cool) to 4 (hottest). */
export type Heat = 1 | 2 | 3 | 4;

export interface LineMark {
  /** The resolved (workspace) path. */
  file: string;
  /** 1-based line of the report. */
  line: number;
  side: Side;
  heat: Heat;
  delayNs: number;
  share: number;
  count: number;
  /** The after-line text. */
  text: string;
  /** Set on the marks of stuck waits and deadlocks. */
  stuck?: StuckKind;
}

export interface MarkOptions {
  /** The smallest share (0..1) that gets a mark. */
  minShare: number;
  resolve: (file: string) => string | undefined;
}

/** Heat thresholds on share, hottest first. */
export const HEAT_THRESHOLDS: { heat: Heat; share: number }[] = [
  { heat: 4, share: 0.5 },
  { heat: 3, share: 0.25 },
  { heat: 2, share: 0.1 },
];

/** heatOf maps a share (0..1) to a heat. */
export function heatOf(share: number): Heat {
  for (const t of HEAT_THRESHOLDS) {
    if (share >= t.share) {
      return t.heat;
    }
  }
  return 1;
}

interface KindSum {
  kind: string;
  delayNs: number;
  share: number;
  count: number;
  heaviest: Hotspot;
}

/** markText writes the after-line text of a mark from its dominant kind. */
function markText(side: Side, k: KindSum): string {
  const d = formatDuration(k.delayNs);
  const s = formatShare(k.share);
  switch (side) {
    case 'holder':
      return `⏱ ${d} waited · ${s} · holder`;
    case 'waiter':
      return `⏱ ${d} waited · ${s} · waiter`;
    case 'trace':
      return isReleaseKind(k.kind) ? `⏱ ${d} blocked others · ${s} · trace` : `⏱ ${d} blocked · ${s} · trace`;
    case 'other':
      return `⏱ ${d} in ${primitiveLabel(k.heaviest)}`;
  }
}

/** reportPaths lists, in first-seen order, every user-code path the report names. */
export function reportPaths(report: Report): string[] {
  const seen = new Set<string>();
  const add = (p: string | undefined): void => {
    if (p) {
      seen.add(p);
    }
  };
  shownHotspots(report).forEach((h) => add(h.file));
  report.mapWrites.forEach((w) => add(w.file));
  report.chains.forEach((c) => c.links.forEach((l) => add(l.file)));
  if (report.crash) {
    add(report.crash.file);
  }
  report.races.forEach((r) => {
    add(r.access.file);
    add(r.previous.file);
  });
  report.stuck.forEach((w) => {
    add(w.file);
    w.holders.forEach((h) => add(h.lockedAt.file));
  });
  report.deadlocks.forEach((d) => d.links.forEach((l) => add(l.waitsAt.file)));
  return [...seen];
}

/** buildMarks turns a report into line marks, and lists the paths it could not place. */
export function buildMarks(report: Report, opts: MarkOptions): { marks: LineMark[]; unplaced: string[] } {
  const groups = new Map<string, { file: string; line: number; side: Side; kinds: Map<string, KindSum> }>();
  for (const h of shownHotspots(report)) {
    if (!validLine(h.line)) {
      continue;
    }
    const file = opts.resolve(h.file);
    if (file === undefined) {
      continue;
    }
    const side = sideOf(h);
    const key = `${file}\u0000${h.line}\u0000${side}`;
    let g = groups.get(key);
    if (!g) {
      g = { file, line: h.line, side, kinds: new Map() };
      groups.set(key, g);
    }
    const k = g.kinds.get(h.kind);
    if (!k) {
      g.kinds.set(h.kind, { kind: h.kind, delayNs: h.delayNs, share: h.share, count: h.count, heaviest: h });
    } else {
      // Two functions on one line (closures) of the same kind: their shares add up.
      k.delayNs += h.delayNs;
      k.share += h.share;
      k.count += h.count;
      if (h.delayNs > k.heaviest.delayNs) {
        k.heaviest = h;
      }
    }
  }

  const marks: LineMark[] = [];
  const stuckAt = new Set<string>();
  for (const l of stuckLines(report, opts.resolve)) {
    stuckAt.add(`${l.file}\u0000${l.line}`);
    marks.push({
      file: l.file,
      line: l.line,
      side: l.role === 'waits' ? 'waiter' : 'holder',
      heat: 4,
      delayNs: 0,
      share: 1,
      count: 0,
      text: l.text,
      stuck: l.kind,
    });
  }
  for (const g of groups.values()) {
    if (stuckAt.has(`${g.file}\u0000${g.line}`)) {
      continue; // the stuck wait's mark says more
    }
    // Different kinds on one side (a trace line both blocked and blocking)
    // do not add up: the mark shows the heaviest kind.
    let dom: KindSum | undefined;
    let share = 0;
    for (const k of g.kinds.values()) {
      if (!dom || k.delayNs > dom.delayNs) {
        dom = k;
      }
      share = Math.max(share, k.share);
    }
    if (!dom) {
      continue;
    }
    share = Math.min(1, share);
    if (share < opts.minShare) {
      continue;
    }
    marks.push({
      file: g.file,
      line: g.line,
      side: g.side,
      heat: heatOf(share),
      delayNs: dom.delayNs,
      share,
      count: dom.count,
      text: markText(g.side, { ...dom, share: Math.min(1, dom.share) }),
    });
  }
  marks.sort(
    (a, b) =>
      Number(!!b.stuck) - Number(!!a.stuck) ||
      SIDE_ORDER[a.side] - SIDE_ORDER[b.side] ||
      b.delayNs - a.delayNs ||
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line,
  );

  const unplaced = reportPaths(report).filter((p) => opts.resolve(p) === undefined);
  return { marks, unplaced };
}
