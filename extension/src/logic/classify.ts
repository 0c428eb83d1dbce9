/**
 * The few rules every view shares: which side of a lock a hotspot shows,
 * which waits are not hotspots at all, and how functions and primitives are
 * named for a person.
 */
import { Chain, Hotspot, Link, MapWrite, Report } from './report';

/**
 * Side of a hotspot: holder (mutex profile: the Unlock lines others waited
 * for), waiter (block profile: the Lock lines that waited), trace (the
 * execution trace's own kinds), other (WaitGroup, channel, select, Cond:
 * shown, never called contention).
 */
export type Side = 'holder' | 'waiter' | 'trace' | 'other';

/** sideOf tells a hotspot's side from its kind and its lock flag. */
export function sideOf(h: Hotspot): Side {
  if (!h.lock) {
    return 'other';
  }
  switch (h.kind) {
    case 'mutex':
      return 'holder';
    case 'block':
      return 'waiter';
    default:
      // trace-blocked, trace-blocks, and any trace kind a newer adapter adds.
      return 'trace';
  }
}

/** SIDE_ORDER ranks the sides for display: lock primitives first. */
export const SIDE_ORDER: Record<Side, number> = { holder: 0, waiter: 1, trace: 2, other: 3 };

/** isReleaseKind reports whether a hotspot kind charges the line that released waiters. */
export function isReleaseKind(kind: string): boolean {
  return kind === 'mutex' || kind === 'trace-blocks';
}

/** ROOT_FRAMES are the functions only a root goroutine (main, or a test the testing package runs) has on its stack. */
const ROOT_FRAMES = new Set(['main.main', 'testing.tRunner', 'testing.(*B).runN', 'testing.(*F).Fuzz.func1']);

/** isTestFunction reports whether a function is a top-level Test, Benchmark, Fuzz or Example function. */
function isTestFunction(fn: string): boolean {
  const tail = fn.slice(fn.lastIndexOf('/') + 1);
  const dot = tail.indexOf('.');
  if (dot < 0) {
    return false;
  }
  return /^(Test|Benchmark|Fuzz|Example)(?![a-z])\w*$/.test(tail.slice(dot + 1));
}

/**
 * isRootWait reports whether a hotspot is a program's root goroutine (main,
 * or a test function) parked on a WaitGroup, channel, select or Cond: it
 * waits for its workers for the whole run, which says how long the program
 * ran, not where it contended. The Go side leaves these out of the profile
 * hotspots (and says so in a note) but the trace keeps them, with `lock`
 * false and the root function (`main.main`, `TestX`) on the stack. Locks are
 * never root waits.
 */
export function isRootWait(h: Hotspot): boolean {
  if (h.lock || isReleaseKind(h.kind)) {
    return false;
  }
  if (h.function === 'main.main' || isTestFunction(h.function)) {
    return true;
  }
  return (h.stacks ?? []).some((s) => s.some((f) => ROOT_FRAMES.has(f.function)));
}

/** siteKey names a line of a file. */
export function siteKey(file: string, line: number): string {
  return `${file}\u0000${line}`;
}

/** rootWaitSites are the lines where a root goroutine waited for the whole run. */
function rootWaitSites(report: Report): Set<string> {
  const out = new Set<string>();
  for (const h of report.hotspots) {
    if (isRootWait(h)) {
      out.add(siteKey(h.file, h.line));
    }
  }
  return out;
}

/**
 * notHotspots returns the hotspots that no view should draw or list as
 * hotspots: the root waits, and the non-lock lines that released them (the
 * workers' wg.Done that ended main's wg.Wait, found through the chains'
 * releasedAt).
 */
export function notHotspots(report: Report): Set<Hotspot> {
  const roots = rootWaitSites(report);
  const releasers = new Set<string>();
  for (const c of report.chains) {
    for (const l of c.links) {
      if (l.releasedAt && roots.has(siteKey(l.file, l.line))) {
        releasers.add(siteKey(l.releasedAt.file, l.releasedAt.line));
      }
    }
  }
  const out = new Set<Hotspot>();
  for (const h of report.hotspots) {
    if (isRootWait(h) || (!h.lock && isReleaseKind(h.kind) && releasers.has(siteKey(h.file, h.line)))) {
      out.add(h);
    }
  }
  return out;
}

/** shownHotspots are the report's hotspots minus {@link notHotspots}, in the report's order. */
export function shownHotspots(report: Report): Hotspot[] {
  const skip = notHotspots(report);
  return report.hotspots.filter((h) => !skip.has(h));
}

/** chainIsRootWait reports whether a chain starts with a root goroutine's whole-run wait. */
export function chainIsRootWait(report: Report, c: Chain): boolean {
  const first = c.links[0];
  if (!first || c.lock) {
    return false;
  }
  return rootWaitSites(report).has(siteKey(first.file, first.line));
}

/**
 * shortFunction names a function for a person: the package path and pointer
 * receivers go, so `github.com/x/shop/store.(*Store).Add` is `Store.Add` and
 * `main.main.func3` is `main.func3`.
 */
export function shortFunction(fn: string): string {
  if (!fn) {
    return '';
  }
  const tail = fn.slice(fn.lastIndexOf('/') + 1);
  const dot = tail.indexOf('.');
  const name = dot >= 0 ? tail.slice(dot + 1) : tail;
  return name.replace(/\(\*([^)]*)\)/g, '$1').replace(/[()]/g, '') || fn;
}

/**
 * primitiveLabel names what a hotspot waited in: "sync.Mutex.Lock",
 * "sync.RWMutex.RLock", "chan receive", "chan send", "select",
 * "sync.WaitGroup.Wait".
 */
export function primitiveLabel(h: { primitive: string; method?: string }): string {
  const p = h.primitive || 'unknown primitive';
  const m = h.method ?? '';
  if (p === 'chan') {
    if (m === 'recv') {
      return 'chan receive';
    }
    return m === 'send' ? 'chan send' : 'chan';
  }
  if (p === 'select' || m === '' || m === p) {
    return p;
  }
  return `${p}.${m}`;
}

/**
 * linkPrimitive names what a chain link waits in or releases: the trace's
 * primitive frame without the pointer receiver (`sync.(*Mutex).Lock` is
 * `sync.Mutex.Lock`), or its wait reason for channels and select.
 */
export function linkPrimitive(l: Link): string {
  const p = l.primitive ?? '';
  if (p.startsWith('runtime.') || p === '') {
    return l.reason || 'an unknown wait';
  }
  return p.replace(/\(\*([^)]*)\)/g, '$1');
}

/** isUnsafeWrite reports whether a map write can race: no lock guards it, or only RLock does. */
export function isUnsafeWrite(w: MapWrite): boolean {
  return w.unguarded === true || (w.guard !== '' && w.guardRead === true);
}

/** validLine reports whether a report line can be placed (a positive whole number). */
export function validLine(line: number): boolean {
  return Number.isInteger(line) && line >= 1;
}

/**
 * captureWindowNs is the capture window of the profiles (the longest mutex or
 * block source), used to turn wait time into a mean number of waiters as the
 * Go side does (Little's law). Undefined when no source says.
 */
export function captureWindowNs(report: Report): number | undefined {
  let w = 0;
  for (const s of report.sources) {
    if ((s.kind === 'mutex' || s.kind === 'block') && s.durationNs !== undefined && s.durationNs > w) {
      w = s.durationNs;
    }
  }
  return w > 0 ? w : undefined;
}
