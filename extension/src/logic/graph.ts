/**
 * The waits-for graph between lock sites, for the Blocking Graph panel. This
 * is internal/graph's model (Go, for `lockscope analyze --graph`) written
 * again in TypeScript: the unit tests hold both to the same goldens
 * (internal/graph/testdata/NAME.graph.json), so the two agree node for node.
 * The rules, in short (internal/graph's package doc says why):
 *
 * - A node is a Lock/RLock line where goroutines waited (role "waits"), or
 *   the Unlock line where a chain's last holder released the lock ("holds"),
 *   named by the lock expression written on the line.
 * - An edge A → B: goroutines waiting at A waited for a holder at B. A
 *   chain's first hop carries the chain's wait and count; later hops add the
 *   edge with no time (their time is the chain that starts there).
 * - A hop from a wait to a wait of the same lock is a queue on the node.
 * - Without lock chains, the profiles' waiters and holders of each named lock
 *   are paired, the waiter's delay split by the holders' delays.
 * - A cycle is found on the locks (holders of X waited for Y, and of Y for X).
 * - A deadlock of the report is a ring: each goroutine's waiting line, named
 *   by the lock it waits for, with an edge to the next one's waiting line
 *   (source "deadlock", no time), marked as a deadlock cycle.
 */
import { shortFunction } from './classify';
import { formatDuration } from './format';
import { baseName } from './paths';
import { Chain, DeadlockLink, Hotspot, Link, Report } from './report';

export interface GraphNode {
  /** "file:line", unique in the graph. */
  id: string;
  file: string;
  line: number;
  function: string;
  /** The lock expression on the line (c.mu), when the source could be read. */
  lock?: string;
  /** Lock, RLock, Unlock, RUnlock... */
  method?: string;
  /** sync.Mutex, sync.RWMutex, or another wait's kind. */
  primitive?: string;
  role: 'waits' | 'holds';
  isLock: boolean;
  /** The wait at this line (block profile, else the trace). */
  waitNs: number;
  /** Others' wait charged to this line as the holder's release. */
  holdNs: number;
  /** Waits released by a goroutine that had itself queued for the same lock. */
  queueNs: number;
  queueCount: number;
  cycle?: boolean;
}

export interface GraphEdge {
  from: string;
  to: string;
  waitNs: number;
  count: number;
  /** "trace" (blocking chains), "profiles" (paired by lock, no trace) or "deadlock" (a ring of the report's deadlocks). */
  source: 'trace' | 'profiles' | 'deadlock';
  cycle?: boolean;
}

export interface GraphCycle {
  locks: string[];
  nodes: string[];
  /** A deadlock of the report, not only two orders that could deadlock. */
  deadlock?: boolean;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  cycles: GraphCycle[];
}

/** Reads a source line (1-based), or undefined when it cannot. */
export type LineReader = (file: string, line: number) => string | undefined;

const LOCK_CALL =
  /([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.(Lock|RLock|Unlock|RUnlock|TryLock|TryRLock)\(\)/g;

/**
 * lockExpr returns the lock expression of the call of method on a source
 * line (mu for mu.Lock()), or of its first lock call; "" when there is none.
 * A line comment is ignored.
 */
export function lockExpr(text: string, method: string): string {
  const i = text.indexOf('//');
  const code = i >= 0 ? text.slice(0, i) : text;
  const ms = [...code.matchAll(LOCK_CALL)];
  if (ms.length === 0) {
    return '';
  }
  return (ms.find((m) => m[2] === method) ?? ms[0])[1];
}

const PRIM_FUNC = /^sync\.\(\*(Mutex|RWMutex|WaitGroup|Cond)\)\.([A-Za-z]+)$/;

function primOf(fn: string | undefined): { prim: string; method: string } {
  const m = PRIM_FUNC.exec(fn ?? '');
  return m ? { prim: `sync.${m[1]}`, method: m[2] } : { prim: '', method: '' };
}

function isLockPrimitive(p: string): boolean {
  return p === 'sync.Mutex' || p === 'sync.RWMutex';
}

function siteID(file: string, line: number): string {
  return `${file}:${line}`;
}

function splitID(id: string): [string, number] {
  const i = id.lastIndexOf(':');
  return i < 0 ? [id, 0] : [id.slice(0, i), Number(id.slice(i + 1)) || 0];
}

/** comparePlace orders "file:line" ids by file, then by line as a number. */
export function comparePlace(a: string, b: string): number {
  const [fa, la] = splitID(a);
  const [fb, lb] = splitID(b);
  if (fa !== fb) {
    return fa < fb ? -1 : 1;
  }
  return la - lb;
}

function dir(file: string): string {
  const i = file.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : file.slice(0, i);
}

/** lockKey names a node's lock within its package (folder), or its line when unnamed. */
function lockKey(n: GraphNode): string {
  return n.lock ? `${dir(n.file)}|${n.lock}` : n.id;
}

function sameLock(a: GraphNode, b: GraphNode): boolean {
  return a.isLock && b.isLock && lockKey(a) === lockKey(b);
}

/** roleOf is a link's role, guessed from its place when an older adapter sent none. */
function roleOf(c: Chain, i: number): string {
  const l = c.links[i];
  if (l.role) {
    return l.role;
  }
  if (l.file === '' && l.function === '') {
    return 'runtime';
  }
  return i === c.links.length - 1 && i > 0 ? 'holds' : 'waits';
}

class Builder {
  readonly nodes = new Map<string, GraphNode>();
  readonly edges = new Map<string, GraphEdge>();
  readonly hot = new Map<string, Hotspot[]>();

  constructor(private readonly lines: LineReader | undefined) {}

  node(file: string, line: number, fn: string, prim: string, method: string, role: 'waits' | 'holds'): GraphNode {
    const id = siteID(file, line);
    const had = this.nodes.get(id);
    if (had) {
      // A line that is both waited at and released at stays a waiter.
      if (role === 'waits') {
        had.role = 'waits';
      }
      return had;
    }
    const n: GraphNode = {
      id,
      file,
      line,
      function: fn,
      role,
      isLock: isLockPrimitive(prim),
      waitNs: 0,
      holdNs: 0,
      queueNs: 0,
      queueCount: 0,
    };
    if (method) {
      n.method = method;
    }
    if (prim) {
      n.primitive = prim;
    }
    if (n.isLock && this.lines) {
      const text = this.lines(file, line);
      const lock = text === undefined ? '' : lockExpr(text, method);
      if (lock) {
        n.lock = lock;
      }
    }
    this.nodes.set(id, n);
    return n;
  }

  linkNode(l: Link, role: 'waits' | 'holds'): GraphNode {
    const p = primOf(l.primitive);
    return this.node(l.file, l.line, l.function, p.prim || (l.primitive ?? ''), p.method, role);
  }

  edge(from: GraphNode, to: GraphNode, waitNs: number, count: number, source: GraphEdge['source']): void {
    const k = `${from.id}\u0000${to.id}`;
    let e = this.edges.get(k);
    if (!e) {
      e = { from: from.id, to: to.id, waitNs: 0, count: 0, source };
      this.edges.set(k, e);
    }
    e.waitNs += waitNs;
    e.count += count;
  }

  /** delay is the first of kinds that has hotspots at a site, summed. */
  delay(id: string, ...kinds: string[]): number {
    const hs = this.hot.get(id) ?? [];
    for (const k of kinds) {
      const of = hs.filter((h) => h.kind === k);
      if (of.length > 0) {
        return of.reduce((s, h) => s + h.delayNs, 0);
      }
    }
    return 0;
  }

  pairProfiles(hs: Hotspot[]): void {
    type Side = { n: GraphNode; h: Hotspot };
    const waiters = new Map<string, Side[]>();
    const holders = new Map<string, Side[]>();
    const keys: string[] = [];
    for (const h of hs) {
      if (!h.lock || h.file === '' || (h.kind !== 'block' && h.kind !== 'mutex')) {
        continue;
      }
      const role = h.kind === 'mutex' ? 'holds' : 'waits';
      const n = this.node(h.file, h.line, h.function, h.primitive, h.method ?? '', role);
      if (!n.lock) {
        continue;
      }
      const k = lockKey(n);
      if (!waiters.has(k) && !holders.has(k)) {
        keys.push(k);
      }
      const side = role === 'waits' ? waiters : holders;
      side.set(k, [...(side.get(k) ?? []), { n, h }]);
    }
    for (const k of keys) {
      const hold = holders.get(k) ?? [];
      const total = hold.reduce((s, x) => s + x.h.delayNs, 0);
      if (total <= 0) {
        continue;
      }
      for (const w of waiters.get(k) ?? []) {
        for (const x of hold) {
          const f = x.h.delayNs / total;
          this.edge(w.n, x.n, roundNs(w.h.delayNs * f), roundNs(w.h.count * f), 'profiles');
        }
      }
    }
    // A holder line with no waiter of its lock is no node of the graph.
    for (const [id, n] of [...this.nodes]) {
      if (n.role !== 'holds') {
        continue;
      }
      const joined = [...this.edges.values()].some((e) => e.from === id || e.to === id);
      if (!joined) {
        this.nodes.delete(id);
      }
    }
  }

  /** addDeadlocks draws each deadlock as a ring; one with a link of no known line is left out. */
  addDeadlocks(r: Report): void {
    for (const d of r.deadlocks) {
      const ring: GraphNode[] = [];
      if (d.links.some((l) => l.waitsAt.file === '')) {
        continue;
      }
      for (const l of d.links) {
        const p = stuckPrim(r, l);
        const n = this.node(l.waitsAt.file, l.waitsAt.line, l.waitsAt.function ?? '', p.prim, p.method, 'waits');
        if (!n.lock && n.isLock && l.waitsFor) {
          n.lock = l.waitsFor;
        }
        ring.push(n);
      }
      ring.forEach((n, i) => this.edge(n, ring[(i + 1) % ring.length], 0, 0, 'deadlock'));
    }
  }

  /** addToCycle adds a cycle edge's nodes and locks to c; a deadlock edge makes c a deadlock. */
  private addToCycle(c: GraphCycle, e: GraphEdge): void {
    if (e.source === 'deadlock') {
      c.deadlock = true;
    }
    for (const id of [e.from, e.to]) {
      const n = this.nodes.get(id);
      if (!n) {
        continue;
      }
      n.cycle = true;
      if (!c.nodes.includes(id)) {
        c.nodes.push(id);
      }
      const name = n.lock || n.id;
      if (!c.locks.includes(name)) {
        c.locks.push(name);
      }
    }
  }

  /** markCycles finds lock-order cycles on the locks and marks their edges and nodes. */
  markCycles(): GraphCycle[] {
    const lockArc = (e: GraphEdge): [string, string] | undefined => {
      const from = this.nodes.get(e.from);
      const to = this.nodes.get(e.to);
      if (!from || !to || from.role !== 'waits' || to.role !== 'waits' || !from.isLock || !to.isLock) {
        return undefined;
      }
      const kf = lockKey(from);
      const kt = lockKey(to);
      return kf === kt ? undefined : [kf, kt];
    };
    const arcs = new Map<string, Set<string>>();
    const keys = new Set<string>();
    for (const e of this.edges.values()) {
      const a = lockArc(e);
      if (a) {
        keys.add(a[0]);
        keys.add(a[1]);
        arcs.set(a[0], (arcs.get(a[0]) ?? new Set()).add(a[1]));
      }
    }
    const comp = sccs([...keys].sort(byCodeUnits), (k) => [...(arcs.get(k) ?? [])].sort(byCodeUnits));
    const cycles = new Map<number, GraphCycle>();
    for (const e of this.edges.values()) {
      const a = lockArc(e);
      if (!a) {
        continue;
      }
      const cf = comp.get(a[0]);
      const ct = comp.get(a[1]);
      if (!cf || !ct || cf.size < 2 || cf.id !== ct.id) {
        continue;
      }
      e.cycle = true;
      let c = cycles.get(cf.id);
      if (!c) {
        c = { locks: [], nodes: [] };
        cycles.set(cf.id, c);
      }
      this.addToCycle(c, e);
    }
    // A deadlock ring of one (a goroutine asks again for a lock it holds)
    // has no arc between two locks; it is a cycle all the same.
    const selfs: GraphCycle[] = [];
    for (const e of this.edges.values()) {
      if (e.source === 'deadlock' && !e.cycle) {
        e.cycle = true;
        const c: GraphCycle = { locks: [], nodes: [] };
        this.addToCycle(c, e);
        selfs.push(c);
      }
    }
    const out = [...selfs, ...cycles.values()];
    for (const c of out) {
      c.locks.sort(byCodeUnits);
      c.nodes.sort(comparePlace);
    }
    return out.sort((a, b) => comparePlace(a.nodes[0], b.nodes[0]));
  }
}

/** stuckPrim is the primitive and method a deadlock link waits in, from its stuck wait; sync.Mutex Lock when none. */
function stuckPrim(r: Report, l: DeadlockLink): { prim: string; method: string } {
  for (const w of r.stuck) {
    if (w.goroutine === l.goroutine && w.file === l.waitsAt.file && w.line === l.waitsAt.line) {
      const i = w.reason.lastIndexOf('.');
      if (i > 0 && isLockPrimitive(w.reason.slice(0, i))) {
        return { prim: w.reason.slice(0, i), method: w.reason.slice(i + 1) };
      }
    }
  }
  return { prim: 'sync.Mutex', method: 'Lock' };
}

/** byCodeUnits sorts as Go's sort.Strings does, for the ASCII names of locks and paths. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** roundNs rounds half up, as internal/graph does (int64(x + 0.5)) for the positive values here. */
function roundNs(x: number): number {
  return Math.floor(x + 0.5);
}

/** sccs is Tarjan's algorithm over vertices in a fixed order: vertex → {component id, its size}. */
function sccs(vertices: string[], next: (v: string) => string[]): Map<string, { id: number; size: number }> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const on = new Set<string>();
  const stack: string[] = [];
  const out = new Map<string, { id: number; size: number }>();
  let n = 0;
  let c = 0;
  const visit = (v: string): void => {
    index.set(v, n);
    low.set(v, n);
    n++;
    stack.push(v);
    on.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const members: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        on.delete(w);
        members.push(w);
        if (w === v) {
          break;
        }
      }
      for (const m of members) {
        out.set(m, { id: c, size: members.length });
      }
      c++;
    }
  };
  for (const v of vertices) {
    if (!index.has(v)) {
      visit(v);
    }
  }
  return out;
}

/**
 * buildGraph makes the waits-for graph of a report. lines reads source lines
 * for the lock names; without it the nodes are unnamed, and only waits at the
 * same line count as one lock's queue.
 */
export function buildGraph(r: Report, lines?: LineReader): Graph {
  const b = new Builder(lines);
  for (const h of r.hotspots) {
    const id = siteID(h.file, h.line);
    b.hot.set(id, [...(b.hot.get(id) ?? []), h]);
  }
  let lockChains = 0;
  for (const c of r.chains) {
    if (c.links.length === 0 || c.links[0].file === '') {
      continue;
    }
    // Only lock waits are contention: chains from wg.Wait, channels and
    // select are left out (their lock hops are chains of their own).
    if (!isLockPrimitive(primOf(c.links[0].primitive).prim)) {
      continue;
    }
    lockChains++;
    let prev = b.linkNode(c.links[0], 'waits');
    for (let i = 1; i < c.links.length; i++) {
      const role = roleOf(c, i);
      const l = c.links[i];
      if ((role !== 'waits' && role !== 'holds') || l.file === '') {
        break;
      }
      const w = i === 1 ? c.waitNs : 0;
      const n = i === 1 ? c.count : 0;
      const next = b.linkNode(l, role);
      if (role === 'waits' && sameLock(prev, next)) {
        prev.queueNs += w;
        prev.queueCount += n;
      } else {
        b.edge(prev, next, w, n, 'trace');
      }
      prev = next;
    }
  }
  if (lockChains === 0) {
    b.pairProfiles(r.hotspots);
  }
  for (const h of r.hotspots) {
    if (h.lock && (h.kind === 'block' || h.kind === 'trace-blocked')) {
      b.node(h.file, h.line, h.function, h.primitive, h.method ?? '', 'waits');
    }
  }
  b.addDeadlocks(r);
  for (const n of b.nodes.values()) {
    n.waitNs = b.delay(n.id, 'block', 'trace-blocked');
    n.holdNs = b.delay(n.id, 'mutex', 'trace-blocks');
  }
  const cycles = b.markCycles();
  const nodes = [...b.nodes.values()].sort((x, y) => comparePlace(x.id, y.id));
  const edges = [...b.edges.values()].sort((x, y) => comparePlace(x.from, y.from) || comparePlace(x.to, y.to));
  return { nodes, edges, cycles };
}

/** One node as the Blocking Graph panel draws it: its text is made here, where it is tested. */
export interface ViewNode {
  id: string;
  /** The report's path and line: clicking the node opens them (lockscope.openLocation). */
  file: string;
  line: number;
  /** The text, line by line: what happens to which lock, where, how long. */
  lines: string[];
  role: 'waits' | 'holds';
  cycle: boolean;
  /** The tooltip. */
  title: string;
}

export interface ViewEdge {
  from: string;
  to: string;
  /** Stroke width: 1 for no time of its own, up to 10 for the heaviest edge. */
  width: number;
  label: string;
  cycle: boolean;
  /** Paired from the profiles (no trace): drawn dashed. */
  profiles: boolean;
  title: string;
}

/** What the extension posts to the panel's page. */
export interface GraphView {
  nodes: ViewNode[];
  edges: ViewEdge[];
  /** Sentences under the graph: the cycles, and how to read it. */
  legend: string[];
  /** Why there is nothing to draw, when there is nothing. */
  empty?: string;
}

function nodeWhat(n: GraphNode): string {
  if (n.lock && n.method) {
    return `${n.lock}.${n.method}()`;
  }
  if (n.method && n.primitive) {
    return `${n.primitive}.${n.method}`;
  }
  return n.primitive || 'wait';
}

/** nodeLines is a node's text, as internal/graph's Node.Label writes it. */
export function nodeLines(n: GraphNode): string[] {
  const out = [nodeWhat(n), `${shortFunction(n.function) || n.function} · ${baseName(n.file)}:${n.line}`];
  const times: string[] = [];
  if (n.waitNs > 0) {
    times.push(`waited ${formatDuration(n.waitNs)}`);
  }
  if (n.holdNs > 0) {
    times.push(`made others wait ${formatDuration(n.holdNs)}`);
  }
  if (n.queueNs > 0) {
    times.push(`queued ${formatDuration(n.queueNs)} (${n.queueCount}×)`);
  }
  if (times.length > 0) {
    out.push(times.join(' · '));
  }
  return out;
}

/** edgeWidth is 1 for an edge with no time, up to 10 for the heaviest edge, in proportion to the wait. */
export function edgeWidth(e: GraphEdge, maxWaitNs: number): number {
  if (maxWaitNs <= 0 || e.waitNs <= 0) {
    return 1;
  }
  return 1 + (9 * e.waitNs) / maxWaitNs;
}

/** graphView turns the graph into what the panel draws. */
export function graphView(g: Graph): GraphView {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const maxWait = g.edges.reduce((m, e) => Math.max(m, e.waitNs), 0);
  const nodes: ViewNode[] = g.nodes.map((n) => {
    const lines = nodeLines(n);
    const role = n.role === 'holds' ? 'the holder releases the lock here' : 'goroutines waited here';
    return {
      id: n.id,
      file: n.file,
      line: n.line,
      lines,
      role: n.role,
      cycle: n.cycle === true,
      title: `${n.function} (${n.file}:${n.line}): ${role}${n.cycle ? '; its lock is in a lock-order cycle' : ''}. Click to open the line.`,
    };
  });
  const edges: ViewEdge[] = g.edges.map((e) => {
    const from = byId.get(e.from);
    const to = byId.get(e.to);
    const label = e.source === 'deadlock' ? 'deadlock' : e.count > 0 ? `${formatDuration(e.waitNs)} × ${e.count}` : '';
    const where = (n: GraphNode | undefined): string => (n ? (nodeLines(n)[1] ?? n.id) : '?');
    return {
      from: e.from,
      to: e.to,
      width: edgeWidth(e, maxWait),
      label,
      cycle: e.cycle === true,
      profiles: e.source === 'profiles',
      title:
        e.source === 'deadlock'
          ? `${where(from)} waits for good for a lock held by the goroutine waiting at ${where(to)}: a deadlock`
          : `${where(from)} waited for the holder at ${where(to)}: ` +
            (label || 'no wait of its own (counted where its chain starts)') +
            (e.source === 'profiles' ? ' (paired from the profiles by lock: no trace)' : ''),
    };
  });
  const legend = ['An arrow A → B: goroutines waiting at A waited for a holder at B. Width: wait time.'];
  for (const c of g.cycles) {
    if (c.deadlock) {
      legend.push(
        `Deadlock: ${c.locks.join(' ⇄ ')} (${c.nodes.length} line${c.nodes.length === 1 ? '' : 's'}). Each goroutine waits for good for a lock the next one holds.`,
      );
      continue;
    }
    legend.push(
      `Lock-order cycle: ${c.locks.join(' ⇄ ')} (${c.nodes.length} lines). Taken in both orders, they can deadlock.`,
    );
  }
  if (edges.some((e) => e.profiles)) {
    legend.push('Dashed: paired from the mutex and block profiles by lock (no trace says who waited for whom).');
  }
  const view: GraphView = { nodes, edges, legend };
  if (nodes.length === 0) {
    view.empty = 'No lock waits in this report.';
  }
  return view;
}
