/**
 * CodeLens models: the one-click actions above map writes, crashes and races.
 *
 *  - a contended write: "Break when contended (N waiting)" and "Logpoint";
 *  - an unsafe write (no lock, or RLock only): "Break on the second writer";
 *  - the crash line: "Crashed here: concurrent map writes — other writer at
 *    main.go:18";
 *  - each side of a data race: "Data race: write here, write at main.go:14".
 *
 * `file` is the resolved path and `line` the report's line; the arguments
 * carry the same { file, line }, so a command can ask the adapter about it.
 */
import { captureWindowNs, isUnsafeWrite, shortFunction, validLine } from './classify';
import { baseName } from './paths';
import { MapWrite, RaceAccess, Report, Site } from './report';

export interface LensModel {
  file: string;
  line: number;
  title: string;
  command: string;
  args: unknown[];
}

type Resolve = (file: string) => string | undefined;

/**
 * waitingOf is the mean number of goroutines waiting for a write's guard: the
 * write's own `waiters`, else its waiter-side hotspot (the heaviest Lock line
 * of the same function) over the capture window. Undefined when unknown.
 */
export function waitingOf(report: Report, w: MapWrite): number | undefined {
  if (w.waiters !== undefined && w.waiters > 0) {
    return w.waiters;
  }
  const window = captureWindowNs(report);
  if (window === undefined) {
    return undefined;
  }
  let best = 0;
  for (const h of report.hotspots) {
    if (h.lock && h.kind === 'block' && h.file === w.file && h.function === w.function && h.delayNs > best) {
      best = h.delayNs;
    }
  }
  return best > 0 ? best / window : undefined;
}

/** waitingText writes a mean number of waiters: "5 waiting", "<1 waiting". */
export function waitingText(n: number): string {
  return n < 0.5 ? '<1 waiting' : `${Math.round(n)} waiting`;
}

function sites(list: Site[]): string {
  return list.map((s) => `${baseName(s.file)}:${s.line}`).join(', ');
}

function raceSide(a: RaceAccess): string {
  const fn = shortFunction(a.function);
  return `${a.op || 'access'} at ${baseName(a.file)}:${a.line}${fn ? ` (${fn})` : ''}`;
}

/** buildLenses lists the lenses of a report, on resolved files only. */
export function buildLenses(report: Report, resolve: Resolve): LensModel[] {
  const out: LensModel[] = [];
  const seen = new Set<string>();
  const push = (l: LensModel): void => {
    const key = `${l.file}\u0000${l.line}\u0000${l.command}\u0000${l.title}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(l);
    }
  };
  const place = (s: { file: string; line: number }): { file: string; line: number } | undefined => {
    if (!s.file || !validLine(s.line)) {
      return undefined;
    }
    const file = resolve(s.file);
    return file === undefined ? undefined : { file, line: s.line };
  };

  for (const w of report.mapWrites) {
    const at = place(w);
    if (!at) {
      continue;
    }
    if (w.contended) {
      const n = waitingOf(report, w);
      push({
        ...at,
        title: n === undefined ? 'Break when contended' : `Break when contended (${waitingText(n)})`,
        command: 'lockscope.breakWhenContended',
        args: [{ ...at }],
      });
      push({ ...at, title: 'Logpoint', command: 'lockscope.logWhenContended', args: [{ ...at }] });
    }
    if (isUnsafeWrite(w)) {
      push({ ...at, title: 'Break on the second writer', command: 'lockscope.breakOnSecondWriter', args: [{ ...at }] });
    }
  }

  const c = report.crash;
  const crashAt = c ? place(c) : undefined;
  if (c && crashAt) {
    let title = `Crashed here: ${c.reason || 'fatal error'}`;
    const writers = (c.writers ?? []).filter((s) => !(s.file === c.file && s.line === c.line));
    if (writers.length === 1) {
      title += ` — other writer at ${sites(writers)}`;
    } else if (writers.length > 1) {
      title += ` — other writers at ${sites(writers)}`;
    }
    push({
      ...crashAt,
      title,
      command: c.mapCrash ? 'lockscope.breakOnSecondWriter' : 'lockscope.openLocation',
      args: [{ ...crashAt }],
    });
  }

  for (const r of report.races) {
    for (const [self, other] of [
      [r.access, r.previous],
      [r.previous, r.access],
    ]) {
      const here = place(self);
      if (!here) {
        continue;
      }
      const there = other.file ? place(other) : undefined;
      push({
        ...here,
        title: `Data race: ${self.op || 'access'} here, ${other.file ? raceSide(other) : 'the other access is unknown'}`,
        command: 'lockscope.openLocation',
        args: [{ ...(there ?? here) }],
      });
    }
  }
  return out;
}
