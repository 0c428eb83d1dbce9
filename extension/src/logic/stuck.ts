/**
 * Stuck waits and deadlocks on the lines: the report's `stuck` and
 * `deadlocks` sections (goroutines that wait for a lock and do not get it,
 * from goroutine dumps) as line marks, hover sentences and the Contention
 * view's first group.
 *
 * A deadlock is the headline, like a crash: its lines are marked whatever
 * the hotspots' shares, and its mark replaces a hotspot's on the same line
 * (a trace that ended mid-deadlock charges the same Lock line as "still
 * waiting", which says less). Two lines are marked per wait: where the
 * goroutine waits, and the Lock call where the holder took the lock it
 * waits for, because that is the line a person changes to fix the order.
 */
import { shortFunction, validLine } from './classify';
import { formatDuration } from './format';
import { baseName } from './paths';
import { Deadlock, LockHolder, Report, Site, StuckWait } from './report';

type Resolve = (file: string) => string | undefined;

/** What a stuck mark is about: a wait inside a deadlock cycle, or a long wait outside one. */
export type StuckKind = 'deadlock' | 'stuck';

/** StuckLine is one marked line, before it becomes a LineMark. */
export interface StuckLine {
  /** The resolved path. */
  file: string;
  line: number;
  /** "waits": a goroutine waits here; "locked": a holder took the awaited lock here. */
  role: 'waits' | 'locked';
  kind: StuckKind;
  /** The after-line text. */
  text: string;
}

function place(s: { file: string; line: number }): string {
  return s.file ? `${baseName(s.file)}:${s.line}` : '?';
}

/** lockName is the lock a wait is for, as written, or a stand-in when the source index did not know the line. */
export function lockName(w: StuckWait): string {
  return w.lock || (w.primitive ? `a ${w.primitive}` : 'a lock');
}

/** deadlockOf returns the deadlock whose cycle includes this wait, if any. */
export function deadlockOf(report: Report, w: StuckWait): Deadlock | undefined {
  return report.deadlocks.find((d) =>
    d.links.some((l) => l.goroutine === w.goroutine && l.waitsAt.line === w.line && l.waitsAt.file === w.file),
  );
}

/** kindOf says whether a wait is part of a deadlock. */
export function kindOf(report: Report, w: StuckWait): StuckKind {
  return deadlockOf(report, w) ? 'deadlock' : 'stuck';
}

/** waitedText is "for good" when nothing can release the lock, else how long it has waited at least. */
function waitedText(w: StuckWait): string {
  if (w.forever) {
    return 'for good';
  }
  return w.waitNs > 0 ? `for ${formatDuration(w.waitNs)}` : 'past the threshold';
}

/** goroutines writes "goroutine 8" or "goroutines 8, 9". */
function goroutines(ids: number[]): string {
  return ids.length === 1 ? `goroutine ${ids[0]}` : `goroutines ${ids.join(', ')}`;
}

/** holderText writes one holder: "goroutine 8, locked at main.go:30 (audit), now waiting for a at main.go:32". */
export function holderText(h: LockHolder): string {
  let s = `goroutine ${h.goroutine}${h.read ? ' (read lock)' : ''}, locked at ${place(h.lockedAt)}`;
  const fn = shortFunction(h.lockedAt.function ?? h.function);
  if (fn) {
    s += ` (${fn})`;
  }
  if (h.waitsAt) {
    s += `, now waiting at ${place(h.waitsAt)}${h.state ? ` (${h.state})` : ''}`;
  } else if (h.state) {
    s += `, now ${h.state}`;
  }
  return s;
}

/**
 * waitSentence says what one stuck wait is, for the hover and the tree:
 * "goroutine 7 waits for b here for good; held by goroutine 8, locked at
 * main.go:30 (audit), now waiting at main.go:32 (sync.Mutex.Lock)".
 * `where` is "here" in a hover and the place in the tree.
 */
export function waitSentence(w: StuckWait, where: string): string {
  let head = `goroutine ${w.goroutine} waits for ${lockName(w)} ${where} ${waitedText(w)}`;
  if (w.pendingWriters?.length) {
    // A read lock queues behind a writer that waits, even while only
    // readers hold the lock: the writer is why this reader does not get in.
    const ws = w.pendingWriters.map((p) => `goroutine ${p.goroutine} in Lock at ${place(p)}`).join(', ');
    head += `, behind ${ws}`;
  }
  if (w.holders.length === 0) {
    return (
      `${head}; no goroutine is seen holding it (the holder may be running, ` + 'or a function returned without Unlock)'
    );
  }
  return `${head}; held by ${w.holders.map(holderText).join('; or by ')}`;
}

/** stuckLines lists the marked lines of the stuck and deadlocks sections, each resolved line once per role. */
export function stuckLines(report: Report, resolve: Resolve): StuckLine[] {
  const out: StuckLine[] = [];
  const seen = new Map<string, StuckLine>();
  const add = (s: Site, role: StuckLine['role'], kind: StuckKind, text: string): void => {
    if (!s.file || !validLine(s.line)) {
      return;
    }
    const file = resolve(s.file);
    if (file === undefined) {
      return;
    }
    const key = `${file}\u0000${s.line}\u0000${role}`;
    const had = seen.get(key);
    if (had) {
      // Two waits on one line: the deadlock's text wins over a stuck one.
      if (had.kind === 'stuck' && kind === 'deadlock') {
        Object.assign(had, { kind, text });
      }
      return;
    }
    const l: StuckLine = { file, line: s.line, role, kind, text };
    seen.set(key, l);
    out.push(l);
  };
  const icon = (k: StuckKind): string => (k === 'deadlock' ? '⛔ deadlock' : '⏳ stuck');
  for (const w of report.stuck) {
    const kind = kindOf(report, w);
    const held = w.holders.length > 0 ? ` · held by ${goroutines(w.holders.map((h) => h.goroutine))}` : '';
    add(w, 'waits', kind, `${icon(kind)} · goroutine ${w.goroutine} waits for ${lockName(w)} ${waitedText(w)}${held}`);
    for (const h of w.holders) {
      add(
        h.lockedAt,
        'locked',
        kind,
        `${icon(kind)} · goroutine ${h.goroutine} took ${lockName(w)} here and holds it; goroutine ${w.goroutine} waits at ${place(w)}`,
      );
    }
  }
  // A deadlock's links name the same lines; they count even if the stuck
  // section left a wait out (a report from another version, say).
  for (const d of report.deadlocks) {
    for (const l of d.links) {
      const w = `goroutine ${l.goroutine} waits for ${l.waitsFor || 'a lock'}`;
      add(l.waitsAt, 'waits', 'deadlock', `${icon('deadlock')} · ${w}`);
      const holder = d.links.find((o) => o.holds === l.waitsFor && o.goroutine !== l.goroutine);
      if (holder) {
        add(
          holder.lockedAt,
          'locked',
          'deadlock',
          `${icon('deadlock')} · goroutine ${holder.goroutine} took ${holder.holds} here and holds it; goroutine ${l.goroutine} waits at ${place(l.waitsAt)}`,
        );
      }
    }
  }
  return out;
}

/**
 * stuckHover writes the hover sentences for a resolved line: the waits on
 * it, and the waits for a lock taken on it. Plain text: the caller escapes
 * it for markdown.
 */
export function stuckHover(report: Report, file: string, line: number, resolve: Resolve): string[] {
  const here = (s: { file: string; line: number }): boolean =>
    s.file !== '' && s.line === line && resolve(s.file) === file;
  const out: string[] = [];
  const title = (k: StuckKind): string => (k === 'deadlock' ? 'Deadlock' : 'Stuck wait');
  const cycles = new Set<Deadlock>();
  for (const w of report.stuck) {
    const d = deadlockOf(report, w);
    if (here(w)) {
      out.push(`${title(d ? 'deadlock' : 'stuck')}: ${waitSentence(w, 'here')}.`);
      if (d) {
        cycles.add(d);
      }
    }
    for (const h of w.holders) {
      if (here(h.lockedAt)) {
        out.push(
          `${title(d ? 'deadlock' : 'stuck')}: goroutine ${h.goroutine} took ${lockName(w)} here and still holds it; ` +
            `goroutine ${w.goroutine} waits for it at ${place(w)} ${waitedText(w)}.`,
        );
        if (d) {
          cycles.add(d);
        }
      }
    }
  }
  for (const d of report.deadlocks) {
    if (!cycles.has(d) && d.links.some((l) => here(l.waitsAt) || here(l.lockedAt))) {
      cycles.add(d);
    }
  }
  for (const d of cycles) {
    out.push(
      `The cycle: ${d.text || d.links.map((l) => `goroutine ${l.goroutine} waits for ${l.waitsFor}`).join('; ')}.`,
    );
  }
  return out;
}
