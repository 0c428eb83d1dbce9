/**
 * Line sets of one file for `when` clause context keys: which lines offer
 * "Break when contended", "Break on the second writer" and "Show Blocking
 * Chain". Lines are the report's (1-based); the glue maps them across edits.
 */
import { isUnsafeWrite, shownHotspots, validLine } from './classify';
import { Report } from './report';

type Resolve = (file: string) => string | undefined;

export interface LineSets {
  /** Contended map writes. */
  contended: number[];
  /** Map writes no lock guards (or RLock only), and a map crash's line. */
  unguarded: number[];
  /** Lines of any chain link, and lines that released a chain's wait. */
  chain: number[];
  /** Lines of any hotspot (whatever its share), root waits excepted. */
  hot: number[];
}

function sorted(s: Set<number>): number[] {
  return [...s].sort((a, b) => a - b);
}

/** lineSets collects the line sets of a resolved file. */
export function lineSets(report: Report, file: string, resolve: Resolve): LineSets {
  const here = (s: { file: string; line: number }): boolean =>
    s.file !== '' && validLine(s.line) && resolve(s.file) === file;
  const contended = new Set<number>();
  const unguarded = new Set<number>();
  const chain = new Set<number>();
  const hot = new Set<number>();
  for (const w of report.mapWrites) {
    if (!here(w)) {
      continue;
    }
    if (w.contended) {
      contended.add(w.line);
    }
    if (isUnsafeWrite(w)) {
      unguarded.add(w.line);
    }
  }
  if (report.crash?.mapCrash && here(report.crash)) {
    unguarded.add(report.crash.line);
  }
  for (const c of report.chains) {
    for (const l of c.links) {
      if (here(l)) {
        chain.add(l.line);
      }
      if (l.releasedAt && here(l.releasedAt)) {
        chain.add(l.releasedAt.line);
      }
    }
  }
  for (const h of shownHotspots(report)) {
    if (here(h)) {
      hot.add(h.line);
    }
  }
  return { contended: sorted(contended), unguarded: sorted(unguarded), chain: sorted(chain), hot: sorted(hot) };
}
