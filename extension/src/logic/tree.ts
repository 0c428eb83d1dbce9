/**
 * The Contention view's tree: hotspots by side, blocking chains, map writes,
 * the crash, data races, and the report paths that could not be placed.
 *
 * Ids are built from what an entry is (its kind, file, line, function), never
 * from its rank, so VS Code keeps expansion and selection across the periodic
 * refresh while the numbers change. Groups with nothing in them are left
 * out; an empty report gives no nodes at all (the view shows its welcome).
 */
import {
  chainIsRootWait,
  isReleaseKind,
  isUnsafeWrite,
  primitiveLabel,
  shortFunction,
  shownHotspots,
  sideOf,
  Side,
  validLine,
} from './classify';
import { describeChain, libraryText, queueOf, queueText } from './chains';
import { formatCount, formatDuration, formatShare } from './format';
import { waitingOf, waitingText } from './lenses';
import { baseName } from './paths';
import { Chain, Deadlock, Hotspot, MapWrite, Race, RaceAccess, Report, Site, StuckWait, isEmptyReport } from './report';
import { deadlockOf, holderText, lockName, waitSentence } from './stuck';

export interface TreeNode {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** The resolved path, when the entry's file is in the workspace. */
  file?: string;
  /** The report's 1-based line. */
  line?: number;
  contextValue: string;
  /** A codicon id, e.g. 'flame'. */
  icon?: string;
  children?: TreeNode[];
}

type Resolve = (file: string) => string | undefined;

/** Ids is a set of ids that gives a repeated id a stable suffix. */
class Ids {
  private used = new Map<string, number>();
  take(id: string): string {
    const n = this.used.get(id) ?? 0;
    this.used.set(id, n + 1);
    return n === 0 ? id : `${id}#${n}`;
  }
}

function place(s: { file: string; line: number }): string {
  return s.file ? `${baseName(s.file)}:${s.line}` : '?';
}

/** locate gives the resolved file and line of a report site, when it resolves. */
function locate(resolve: Resolve, s: { file: string; line: number }): { file?: string; line?: number } {
  if (!s.file || !validLine(s.line)) {
    return {};
  }
  const file = resolve(s.file);
  return file === undefined ? {} : { file, line: s.line };
}

function notHere(resolve: Resolve, s: { file: string }): string {
  return s.file && resolve(s.file) === undefined ? '\nNot found in the workspace (see substitutePath).' : '';
}

const GROUPS: Record<Side, { label: string; description: string; icon: string }> = {
  holder: { label: 'Holder side', description: 'mutex profile: the Unlock lines others waited for', icon: 'flame' },
  waiter: { label: 'Waiter side', description: 'block profile: the Lock lines that waited', icon: 'watch' },
  trace: {
    label: 'Trace',
    description: 'lines blocked, and lines that blocked others, in the trace window',
    icon: 'pulse',
  },
  other: {
    label: 'Other waits',
    description: 'WaitGroup, channel, select, Cond: not lock contention',
    icon: 'debug-pause',
  },
};

function hotspotNode(ids: Ids, resolve: Resolve, h: Hotspot, side: Side): TreeNode {
  const what = side === 'trace' ? (isReleaseKind(h.kind) ? 'blocked others' : 'blocked') : primitiveLabel(h);
  const tooltip =
    `${h.function}\n${primitiveLabel(h)} · ${h.kind}\n` +
    `${formatDuration(h.delayNs)} · ${formatShare(h.share)} of its kind · ${formatCount(h.count)}\n` +
    `${h.file}:${h.line}${notHere(resolve, h)}` +
    (h.via ? `\nthrough ${h.via}` : '') +
    (h.callSite ? `\ncalled from ${h.callSite.file}:${h.callSite.line}` : '');
  const lib = libraryText(h);
  return {
    id: ids.take(`hotspot:${h.kind}:${h.file}:${h.line}:${h.function}`),
    label: `${shortFunction(h.function) || '?'} ${place(h)}`,
    description: `${formatShare(h.share)} · ${formatDuration(h.delayNs)} · ${what}${lib ? ` · ${lib}` : ''}`,
    tooltip,
    ...locate(resolve, h),
    contextValue: `hotspot.${side}`,
  };
}

function chainId(c: Chain): string {
  return `chain:${c.links.map((l) => `${l.file}:${l.line}:${l.function}:${l.role ?? ''}`).join('>')}`;
}

function chainNode(ids: Ids, report: Report, resolve: Resolve, c: Chain): TreeNode {
  const id = ids.take(chainId(c));
  const d = describeChain(c, resolve);
  const first = c.links[0];
  const last = c.links[c.links.length - 1];
  const short = (l: { function: string; line: number; file: string }): string =>
    l.file || l.function ? `${shortFunction(l.function) || baseName(l.file)}:${l.line}` : 'the runtime';
  const label = c.links.length > 1 ? `${short(first)} → ${short(last)}` : first ? short(first) : 'empty chain';
  const hops = Math.max(0, c.links.length - 1);
  const queue = Math.max(1, ...c.links.map(queueOf));
  // One lock's queue (its waiters, then the holder that released them) is
  // not a multi-hop chain: say how many waited in line instead.
  const shape =
    queue > 1 && hops <= 1
      ? queueText(queue)
      : `${hops} hop${hops === 1 ? '' : 's'}${queue > 1 ? `, ${queueText(queue)}` : ''}`;
  let description = `${formatDuration(c.waitNs)} · ${formatCount(c.count)} · ${shape}`;
  if (!c.lock) {
    description += chainIsRootWait(report, c) ? ' · root goroutine, not contention' : ' · not lock contention';
  }
  return {
    id,
    label,
    description,
    tooltip: d.title,
    ...(first ? locate(resolve, first) : {}),
    contextValue: 'chain',
    icon: 'link',
    children: d.steps.map((s, i) => ({
      id: `${id}/link:${i}`,
      label: s.label,
      description: s.detail,
      ...(s.file !== undefined ? { file: s.file, line: s.line } : {}),
      contextValue: 'link',
    })),
  };
}

function siteNode(id: string, resolve: Resolve, label: string, s: Site): TreeNode {
  return {
    id,
    label,
    description: s.function ? shortFunction(s.function) : undefined,
    tooltip: `${s.function ? `${s.function}\n` : ''}${s.file}:${s.line}${notHere(resolve, s)}`,
    ...locate(resolve, s),
    contextValue: 'link',
  };
}

function mapWriteNode(ids: Ids, report: Report, resolve: Resolve, w: MapWrite): TreeNode {
  const id = ids.take(`mapWrite:${w.file}:${w.line}:${w.map}`);
  let contextValue = 'mapWrite';
  let description: string;
  let icon: string | undefined;
  if (w.contended) {
    contextValue = 'mapWrite.contended';
    const n = waitingOf(report, w);
    description = `contended · ${formatDuration(w.waitNs)}${n === undefined ? '' : ` · ${waitingText(n)}`}`;
    icon = 'flame';
  } else if (isUnsafeWrite(w)) {
    contextValue = 'mapWrite.unguarded';
    description = w.sometimesUnguarded
      ? `sometimes unguarded: entered without the lock from ${(w.unguardedVia ?? []).map(place).join(', ') || 'a caller'}`
      : w.unguarded
        ? 'no lock guards it'
        : `under ${w.guard}.RLock only`;
    icon = 'warning';
  } else if (w.sameLockOnly) {
    description = `under ${w.guard}: same lock, not seen contended`;
  } else {
    description = w.guard
      ? `guarded by ${w.guard}${w.guardedVia?.length ? ' (its callers hold it)' : ''}`
      : 'not shared';
  }
  const tooltip =
    `${w.map} (${w.op}) in ${w.function}\n` +
    (w.guard ? `guard: ${w.guard}${w.guardKind ? ` (${w.guardKind})` : ''}\n` : '') +
    (w.noBreakpoint ? `no breakpoint: ${w.noBreakpoint}\n` : '') +
    `${w.file}:${w.line}${notHere(resolve, w)}`;
  const children = [
    ...w.writers.map((s) =>
      siteNode(ids.take(`${id}/writer:${s.file}:${s.line}`), resolve, `other writer ${place(s)}`, s),
    ),
    ...(w.unguardedVia ?? []).map((s) =>
      siteNode(
        ids.take(`${id}/unguardedVia:${s.file}:${s.line}`),
        resolve,
        `entered without the lock at ${place(s)}`,
        s,
      ),
    ),
    ...(w.guardedVia ?? []).map((s) =>
      siteNode(
        ids.take(`${id}/guardedVia:${s.file}:${s.line}`),
        resolve,
        `called with ${w.guard || 'the lock'} held at ${place(s)}`,
        s,
      ),
    ),
  ];
  return {
    id,
    label: `${w.map || '?'} ${place(w)}`,
    description,
    tooltip,
    ...locate(resolve, w),
    contextValue,
    icon,
    ...(children.length > 0 ? { children } : {}),
  };
}

function raceAccessText(a: RaceAccess): string {
  return `${a.op || 'access'} ${place(a)}`;
}

function raceNode(ids: Ids, resolve: Resolve, r: Race): TreeNode {
  const a = r.access;
  const p = r.previous;
  const id = ids.take(`race:${a.file}:${a.line}:${a.op}|${p.file}:${p.line}:${p.op}`);
  const side = (x: RaceAccess, which: string): TreeNode => ({
    id: `${id}/${which}`,
    label: `${which === 'access' ? '' : 'previous '}${raceAccessText(x)}`,
    description: `${shortFunction(x.function)}${x.goroutine ? ` · goroutine ${x.goroutine}` : ''}`,
    tooltip: `${x.function}\n${x.file}:${x.line}${x.mapOp ? `\n${x.mapOp}` : ''}${notHere(resolve, x)}`,
    ...locate(resolve, x),
    contextValue: 'link',
  });
  return {
    id,
    label: p.file ? `${raceAccessText(a)} ↔ ${raceAccessText(p)}` : raceAccessText(a),
    description: `${a.map || p.map ? 'map ' : ''}data race${r.truncated ? ' (report cut short)' : ''}`,
    tooltip: `${a.function} ${a.op} at ${a.file}:${a.line}\n${p.function} ${p.op} at ${p.file}:${p.line}`,
    ...locate(resolve, a),
    contextValue: 'race',
    icon: 'warning',
    children: p.file ? [side(a, 'access'), side(p, 'previous')] : [side(a, 'access')],
  };
}

function deadlockNode(ids: Ids, resolve: Resolve, d: Deadlock): TreeNode {
  const id = ids.take(`deadlock:${d.links.map((l) => `${l.waitsAt.file}:${l.waitsAt.line}`).join('>')}`);
  const ring = [...d.links.map((l) => l.goroutine), d.links[0]?.goroutine].filter((g) => g !== undefined);
  const locks = d.links.map((l) => l.waitsFor || '?');
  const children: TreeNode[] = [];
  d.links.forEach((l, i) => {
    children.push(
      siteNode(
        `${id}/waits:${i}`,
        resolve,
        `goroutine ${l.goroutine} waits for ${l.waitsFor || 'a lock'} at ${place(l.waitsAt)}`,
        l.waitsAt,
      ),
      siteNode(
        `${id}/holds:${i}`,
        resolve,
        `goroutine ${l.goroutine} holds ${l.holds || 'a lock'}, locked at ${place(l.lockedAt)}`,
        l.lockedAt,
      ),
    );
  });
  const first = d.links[0];
  const label = `Deadlock: goroutine ${ring.join(' → ')}`;
  return {
    id,
    label,
    description: `${locks.join(' ↔ ')}${d.forever ? ' · every goroutine blocked' : ''}`,
    // VS Code reads a string tooltip as the row's accessible name: it starts with the label.
    tooltip: `${label}\n${d.text}`,
    ...(first ? locate(resolve, first.waitsAt) : {}),
    contextValue: 'deadlock',
    icon: 'error',
    children,
  };
}

function stuckNode(ids: Ids, resolve: Resolve, w: StuckWait): TreeNode {
  const id = ids.take(`stuck:${w.goroutine}:${w.file}:${w.line}`);
  const children = w.holders.map((h, i) =>
    siteNode(`${id}/holder:${i}`, resolve, `held by ${holderText(h)}`, h.lockedAt),
  );
  return {
    id,
    label: `goroutine ${w.goroutine} waits for ${lockName(w)} ${place(w)}`,
    description:
      (w.forever ? 'for good' : formatDuration(w.waitNs)) +
      (w.holders.length > 0
        ? ` · held by goroutine ${w.holders.map((h) => h.goroutine).join(', ')}`
        : ' · holder not seen'),
    tooltip: `${waitSentence(w, `at ${w.file}:${w.line}`)}${notHere(resolve, w)}`,
    ...locate(resolve, w),
    contextValue: 'stuck',
    icon: 'watch',
    ...(children.length > 0 ? { children } : {}),
  };
}

function group(id: string, label: string, icon: string, children: TreeNode[], description?: string): TreeNode {
  return { id: `group:${id}`, label, description, contextValue: 'group', icon, children };
}

/** buildTree builds the Contention view's roots. */
export function buildTree(report: Report, resolve: Resolve, unplaced: string[]): TreeNode[] {
  if (isEmptyReport(report)) {
    return [];
  }
  const ids = new Ids();
  const roots: TreeNode[] = [];

  // Deadlocks first, like a crash: nothing else on the list matters while
  // goroutines wait for good. Stuck waits inside a cycle are its children
  // already, so the group lists only the others beside the cycles.
  const alone = report.stuck.filter((w) => !deadlockOf(report, w));
  if (report.deadlocks.length > 0 || alone.length > 0) {
    const n = report.deadlocks.length;
    roots.push(
      group(
        'stuck',
        'Deadlocks and stuck waits',
        'error',
        [
          ...report.deadlocks.map((d) => deadlockNode(ids, resolve, d)),
          ...alone.map((w) => stuckNode(ids, resolve, w)),
        ],
        n > 0
          ? `${n} deadlock${n === 1 ? '' : 's'}${alone.length > 0 ? `, ${alone.length} stuck` : ''}`
          : `${alone.length} stuck`,
      ),
    );
  }

  const bySide: Record<Side, Hotspot[]> = { holder: [], waiter: [], trace: [], other: [] };
  for (const h of shownHotspots(report)) {
    bySide[sideOf(h)].push(h);
  }
  for (const side of ['holder', 'waiter', 'trace', 'other'] as Side[]) {
    const hs = bySide[side].slice().sort((a, b) => b.delayNs - a.delayNs || b.share - a.share);
    if (hs.length > 0) {
      const g = GROUPS[side];
      roots.push(
        group(
          side,
          g.label,
          g.icon,
          hs.map((h) => hotspotNode(ids, resolve, h, side)),
          g.description,
        ),
      );
    }
  }

  if (report.chains.length > 0) {
    roots.push(
      group(
        'chains',
        'Blocking chains',
        'link',
        report.chains.map((c) => chainNode(ids, report, resolve, c)),
        'from the trace: first waiter → last holder',
      ),
    );
  }

  if (report.mapWrites.length > 0) {
    const rank = (w: MapWrite): number => (w.contended ? 0 : isUnsafeWrite(w) ? 1 : 2);
    const writes = report.mapWrites
      .map((w, i) => ({ w, i }))
      .sort((a, b) => rank(a.w) - rank(b.w) || b.w.waitNs - a.w.waitNs || a.i - b.i)
      .map(({ w }) => w);
    roots.push(
      group(
        'mapWrites',
        'Map writes',
        'symbol-field',
        writes.map((w) => mapWriteNode(ids, report, resolve, w)),
      ),
    );
  }

  const c = report.crash;
  if (c) {
    const children: TreeNode[] = (c.writers ?? []).map((s) =>
      siteNode(ids.take(`crash/writer:${s.file}:${s.line}`), resolve, `other writer ${place(s)}`, s),
    );
    if (c.createdBy) {
      children.push(siteNode('crash/createdBy', resolve, `goroutine created at ${place(c.createdBy)}`, c.createdBy));
    }
    const node: TreeNode = {
      id: 'crash',
      label: c.reason || 'fatal error',
      description: `${place(c)} ${shortFunction(c.function)}`.trim(),
      tooltip: `${c.reason}\n${c.function}${c.goroutine ? ` (goroutine ${c.goroutine})` : ''}\n${c.file}:${c.line}${notHere(resolve, c)}`,
      ...locate(resolve, c),
      contextValue: 'crash',
      icon: 'error',
      ...(children.length > 0 ? { children } : {}),
    };
    roots.push(group('crash', 'Crash', 'error', [node]));
  }

  if (report.races.length > 0) {
    roots.push(
      group(
        'races',
        'Data races',
        'warning',
        report.races.map((r) => raceNode(ids, resolve, r)),
      ),
    );
  }

  if (unplaced.length > 0) {
    roots.push(
      group(
        'unplaced',
        'Could not place',
        'question',
        [...new Set(unplaced)].map((p) => ({
          id: `unplaced:${p}`,
          label: p,
          tooltip: `${p}\nNo workspace file matches this report path. If the program was built elsewhere, add a substitutePath rule ({ "from": <folder here>, "to": <folder in the build> }) to the launch configuration, or open the module's folder.`,
          contextValue: 'unplaced',
        })),
        'report paths not found in the workspace',
      ),
    );
  }
  return roots;
}
