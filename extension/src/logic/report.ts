/**
 * The report model: the JSON that `lockscope analyze --json` prints and the
 * `lockscope/report` DAP event carries, mirroring the Go types of
 * internal/contention field by field. A field the Go side marks `omitempty`
 * is optional here; every other field is always present after parsing.
 *
 * The report comes from another process (or a file someone loaded), so
 * {@link parseReport} trusts nothing: a field of the wrong type falls back to
 * its zero value (required fields) or is dropped (optional ones), a list that
 * is missing or not a list becomes [], list entries that are not objects are
 * dropped, and numbers that are not finite are treated as absent. A list
 * longer than {@link MAX_LIST} entries is cut there, and a note in the
 * report's notes says which list and how long it was, so that a hostile or
 * broken report cannot stall the editor on every refresh.
 */

/** One resolved stack frame (contention.Frame). */
export interface Frame {
  function: string;
  file: string;
  line: number;
}

/** One source line: a writer, a crash location, a releasing line (contention.Site). */
export interface Site {
  file: string;
  line: number;
  function?: string;
}

/** Lock wait time charged to one user source line (contention.Hotspot). */
export interface Hotspot {
  /** "mutex" (holder side), "block" (waiter side), "trace-blocked", "trace-blocks". */
  kind: string;
  /** Absolute on the machine that ran the program, or module-relative with -trimpath. */
  file: string;
  line: number;
  /** Full name as in pprof, e.g. main.(*Cache).Refresh. */
  function: string;
  /** sync.Mutex, sync.RWMutex, sync.WaitGroup, sync.Cond, chan, select, other. */
  primitive: string;
  /** Lock, RLock, Unlock, Wait, recv, send, select... when known. */
  method?: string;
  delayNs: number;
  cumDelayNs: number;
  count: number;
  /** 0..1 of the total delay of its kind. */
  share: number;
  /** True for sync.Mutex and sync.RWMutex: only those are lock contention. */
  lock: boolean;
  stacks?: Frame[][];
  pprofFunction?: string;
  exitLine?: number;
  /** Trace waits still open when the trace ended, counted up to its end. */
  openWaits?: number;
  /** The part of delayNs those open waits make up ("still waiting after X"). */
  stillWaitingNs?: number;
  /** The library lock the wait went through, e.g. "log.(*Logger).output → sync.Mutex.Lock". */
  via?: string;
  /** For a line outside the main module: the main module's line that called into it. */
  callSite?: Site;
  /** The base capture's value and the change, when the report was compared. */
  base?: Change;
}

/** One hop of a blocking chain (contention.Link). */
export interface Link {
  file: string;
  line: number;
  function: string;
  /** The trace's wait reason, e.g. "sync", "chan receive", "select". */
  reason: string;
  /** e.g. sync.(*RWMutex).RLock */
  primitive?: string;
  /** "waits", "holds" (the last holder) or "runtime" (no goroutine released it). */
  role?: string;
  /** For a "waits" link: the line of the goroutine that released the wait. */
  releasedAt?: Site;
  /** For a "waits" link: how many successive waits on the same lock it stands for (a queue); 0 or 1: one. */
  queue?: number;
  /** As in Hotspot. */
  via?: string;
  callSite?: Site;
}

/** A blocking chain, links ordered from the first waiter to the last holder (contention.Chain). */
export interface Chain {
  waitNs: number;
  count: number;
  links: Link[];
  /** True when the first waiter waits on a sync.Mutex or sync.RWMutex. */
  lock?: boolean;
  base?: Change;
  /** Set on a chain seen in the flight recorder's window before the program stopped, e.g. "in the 2.0 s before the stop (breakpoint)". */
  beforeStop?: string;
}

/** One statement that writes a map (contention.MapWrite). */
export interface MapWrite {
  file: string;
  line: number;
  function: string;
  /** The map expression as written, e.g. ledger.entries. */
  map: string;
  /** assign | opassign | incdec | delete | clear */
  op: string;
  /** The lock expression, or "" when none. */
  guard: string;
  guardKind?: string;
  /** True when the write sits under RLock only. */
  guardRead?: boolean;
  contended: boolean;
  waitNs: number;
  /** True when no lock guards the write and other goroutines reach the map. */
  unguarded?: boolean;
  /** Every other write site of the same map. */
  writers: Site[];
  /** Why no breakpoint is offered, when none is. */
  noBreakpoint?: string;
  mapId?: string;
  mapEval?: string;
  guardId?: string;
  guardEval?: string;
  /** Mean number of goroutines waiting for the guard over the capture window (absent when unknown). */
  waiters?: number;
  base?: Change;
  /** A helper that does not lock itself, called only with the guard held: the calls that hold it. */
  guardedVia?: Site[];
  /** An unguarded write whose function some callers enter with the lock held and others without it. */
  sometimesUnguarded?: boolean;
  /** The calls that enter it without the lock. */
  unguardedVia?: Site[];
  /** Under a contended lock, but not seen on that contention's stacks: same lock, not seen contended. */
  sameLockOnly?: boolean;
}

/** A suggested breakpoint (contention.Breakpoint). */
export interface Breakpoint {
  /** "source" | "function" */
  kind: string;
  file: string;
  line: number;
  function: string;
  condition: string;
  hitCondition: string;
  /** Makes the suggestion a logpoint. */
  logMessage?: string;
  /** The recipe's own words, e.g. "stop when 5 or more goroutines wait for balMu". */
  label: string;
  /** file:line of the map write it serves. */
  forWrite: string;
}

/** A fatal runtime error caught in the act (contention.Crash). */
export interface Crash {
  reason: string;
  file: string;
  line: number;
  function: string;
  goroutine: number;
  writers?: Site[];
  stack?: Frame[];
  createdBy?: Frame;
  /** True for the runtime's unsafe map access errors ("concurrent map writes"...). */
  mapCrash?: boolean;
}

/** One side of a data race (contention.RaceAccess). */
export interface RaceAccess {
  file: string;
  line: number;
  function: string;
  goroutine: number;
  /** "read" | "write" */
  op: string;
  map?: boolean;
  mapOp?: string;
  stack?: Frame[];
  createdAt?: Frame[];
}

/** One WARNING: DATA RACE report (contention.Race). */
export interface Race {
  access: RaceAccess;
  previous: RaceAccess;
  truncated?: boolean;
}

/** One input that fed the report (contention.Source). */
export interface Source {
  /** "mutex", "block", "trace", "race", "crash", "source" */
  kind: string;
  path?: string;
  url?: string;
  /** "agent", "file", "url", "test", "output" */
  origin?: string;
  durationNs?: number;
  /** RFC 3339. */
  time: string;
}

/** A goroutine holding a lock another one waits for (contention.LockHolder). */
export interface LockHolder {
  goroutine: number;
  /** The Lock (or RLock) call that took the lock. */
  lockedAt: Site;
  /** The holder's frame inside the critical section. */
  file: string;
  line: number;
  function: string;
  /** Held with RLock. */
  read?: boolean;
  /** The runtime's wait reason ("chan receive", "sync.Mutex.Lock"), "running" or "runnable". */
  state: string;
  /** Where the holder itself waits, when it is blocked. */
  waitsAt?: Site;
}

/** A goroutine waiting for a lock past the threshold, or for good (contention.StuckWait). */
export interface StuckWait {
  goroutine: number;
  /** Where it waits: its first frame outside the runtime and sync, usually the Lock call. */
  file: string;
  line: number;
  function: string;
  /** "sync.Mutex.Lock", "sync.RWMutex.Lock" or "sync.RWMutex.RLock". */
  reason: string;
  primitive: string;
  /** The lock expression at the line, when the source index knows it. */
  lock?: string;
  lockId?: string;
  lockAddr?: string;
  /** How long it has waited at least; 0 when only `forever` is known. */
  waitNs: number;
  /** Every goroutine of the program was blocked: nothing will release the lock. */
  forever?: boolean;
  holders: LockHolder[];
  /** For a read lock: the goroutines queued in Lock of the same RWMutex, which a new reader waits behind. */
  pendingWriters?: Waiter[];
  stack?: Frame[];
  createdBy?: Frame;
}

/** A goroutine waiting at a line (contention.Waiter). */
export interface Waiter {
  goroutine: number;
  file: string;
  line: number;
  function: string;
}

/** One goroutine of a deadlock cycle (contention.DeadlockLink). */
export interface DeadlockLink {
  goroutine: number;
  /** The lock it holds, as written, and the call that took it. */
  holds: string;
  lockedAt: Site;
  /** The lock it waits for (the next link holds it), and where. */
  waitsFor: string;
  waitsAt: Site;
}

/** A cycle of goroutines each waiting for a lock the next one holds (contention.Deadlock). */
export interface Deadlock {
  goroutines: number[];
  links: DeadlockLink[];
  forever?: boolean;
  /** The cycle in one sentence. */
  text: string;
}

/** An entry's base value and its change against a base capture (contention.Change). */
export interface Change {
  /** "better", "worse", "same", "new" or "gone". */
  status: string;
  baseDelayNs: number;
  baseCount: number;
  /** Wait in ns per unit of the comparison (per op or per second), on each side. */
  basePerUnit: number;
  perUnit: number;
  /** perUnit/basePerUnit - 1; absent for a new entry. */
  change?: number;
  /** Where the entry was in the base, when it moved. */
  baseFile?: string;
  baseLine?: number;
  /** p-value over repeated runs. */
  p?: number;
}

/** One benchmark result line (contention.Benchmark). */
export interface Benchmark {
  name: string;
  run: number;
  n: number;
  nsPerOp: number;
}

/** The work a program reported (contention.Work). */
export interface Work {
  ops: number;
  runs: number;
  benchmarks?: Benchmark[];
}

/** Where a saved capture came from (contention.Capture). */
export interface Capture {
  program?: string;
  goVersion?: string;
  commit?: string;
  dirty?: boolean;
  /** RFC 3339. */
  time: string;
  lockscope?: string;
  settings?: Record<string, string>;
  work?: Work;
  durationNs?: number;
}

/** One kind's whole wait on both sides (contention.Total). */
export interface Total {
  kind: string;
  baseDelayNs: number;
  delayNs: number;
  basePerUnit: number;
  perUnit: number;
  lockBaseDelayNs: number;
  lockDelayNs: number;
}

/** The base's entries the compared report no longer has (contention.Gone). */
export interface Gone {
  hotspots: Hotspot[];
  chains: Chain[];
  mapWrites: MapWrite[];
}

/** One lock line the CI gate judged (contention.GateLine). */
export interface GateLine {
  kind: string;
  file: string;
  line: number;
  function: string;
  basePerUnit: number;
  perUnit: number;
  change: number;
  p: number;
  baseSpread: number;
  spread: number;
  new?: boolean;
}

/** The verdict of --fail-on (contention.Gate). */
export interface Gate {
  rule: string;
  passed: boolean;
  alpha: number;
  baseRuns: number;
  runs: number;
  floorPerUnit: number;
  failures: GateLine[];
  noise: GateLine[];
  judged: GateLine[];
  /** Why the verdict may mean less than it seems (too few runs). */
  warnings?: string[];
}

/** What a report was compared with (contention.Comparison). */
export interface Comparison {
  base: Capture;
  /** "op" or "second". */
  unit: string;
  unitNote: string;
  baseUnits: number;
  units: number;
  threshold: number;
  totals: Total[];
  gone: Gone;
  gate?: Gate;
}

/** The whole report (contention.Report). */
export interface Report {
  hotspots: Hotspot[];
  chains: Chain[];
  mapWrites: MapWrite[];
  breakpoints: Breakpoint[];
  crash?: Crash;
  races: Race[];
  sources: Source[];
  /** Goroutines waiting for a lock past the threshold, or for good. */
  stuck: StuckWait[];
  /** Cycles among them: the headline, like a crash. */
  deadlocks: Deadlock[];
  /** Contention inside the runtime itself: no user line can fix it. */
  runtimeInternal?: Hotspot[];
  /** Plain sentences for a person. */
  notes?: string[];
  /** The base capture this report was compared with. */
  comparison?: Comparison;
}

/** The body of the lockscope/breakpoints response (dapx.BreakpointsResponseBody). */
export interface BreakpointsResponseBody {
  breakpoints: Breakpoint[];
  /** Why there are none, when there are none. */
  reason?: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) {
    return 'null';
  }
  if (Array.isArray(v)) {
    return 'an array';
  }
  return `a ${typeof v}`;
}

function optStr(o: Obj, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}

function str(o: Obj, k: string): string {
  return optStr(o, k) ?? '';
}

function optNum(o: Obj, k: string): number | undefined {
  const v = o[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function num(o: Obj, k: string): number {
  return optNum(o, k) ?? 0;
}

function optBool(o: Obj, k: string): boolean | undefined {
  const v = o[k];
  return typeof v === 'boolean' ? v : undefined;
}

function bool(o: Obj, k: string): boolean {
  return optBool(o, k) ?? false;
}

/**
 * MAX_LIST is the most entries lockscope reads from any one list of a
 * report. The adapter caps its own lists far below this (a few hundred
 * hotspots, a few stacks each); a longer list is a broken or hostile
 * report, and reading it whole would stall the editor on every refresh.
 */
export const MAX_LIST = 100_000;

/** cut collects, during one parseReport, the notes about lists cut at MAX_LIST. */
let cut: string[] | undefined;

/** capped returns at most MAX_LIST entries of a list, noting the cut. */
function capped(v: unknown[], what: string): unknown[] {
  if (v.length <= MAX_LIST) {
    return v;
  }
  cut?.push(
    `lockscope: the report's ${what} list has ${v.length} entries; the editor read the first ${MAX_LIST} and dropped the rest`,
  );
  return v.slice(0, MAX_LIST);
}

/** list maps the object entries of a JSON list, dropping anything else; not a list gives []. */
function list<T>(v: unknown, parse: (o: Obj) => T, what = 'a'): T[] {
  if (!Array.isArray(v)) {
    return [];
  }
  const out: T[] = [];
  for (const e of capped(v, what)) {
    if (isObj(e)) {
      out.push(parse(e));
    }
  }
  return out;
}

/** optList is list() for an omitempty field: absent (not []) when the field is not a list. */
function optList<T>(v: unknown, parse: (o: Obj) => T, what = 'a'): T[] | undefined {
  return Array.isArray(v) ? list(v, parse, what) : undefined;
}

/** optObj parses an optional nested object: absent when the field is not an object. */
function optObj<T>(v: unknown, parse: (o: Obj) => T): T | undefined {
  return isObj(v) ? parse(v) : undefined;
}

/** obj parses a required nested object; anything else reads as an empty object. */
function obj<T>(v: unknown, parse: (o: Obj) => T): T {
  return parse(isObj(v) ? v : {});
}

/** withOptional copies the defined values of optional fields onto a target, so absent ones stay absent. */
function withOptional<T extends object>(target: T, optional: Partial<T>): T {
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined) {
      (target as Record<string, unknown>)[k] = v;
    }
  }
  return target;
}

function parseFrame(o: Obj): Frame {
  return { function: str(o, 'function'), file: str(o, 'file'), line: num(o, 'line') };
}

function parseSite(o: Obj): Site {
  return withOptional<Site>({ file: str(o, 'file'), line: num(o, 'line') }, { function: optStr(o, 'function') });
}

function parseStacks(v: unknown): Frame[][] | undefined {
  if (!Array.isArray(v)) {
    return undefined;
  }
  return capped(v, 'stacks')
    .filter((s): s is unknown[] => Array.isArray(s))
    .map((s) => list(s, parseFrame, 'stack frames'));
}

function parseChange(o: Obj): Change {
  return withOptional<Change>(
    {
      status: str(o, 'status'),
      baseDelayNs: num(o, 'baseDelayNs'),
      baseCount: num(o, 'baseCount'),
      basePerUnit: num(o, 'basePerUnit'),
      perUnit: num(o, 'perUnit'),
    },
    {
      change: optNum(o, 'change'),
      baseFile: optStr(o, 'baseFile'),
      baseLine: optNum(o, 'baseLine'),
      p: optNum(o, 'p'),
    },
  );
}

function parseHotspot(o: Obj): Hotspot {
  return withOptional<Hotspot>(
    {
      kind: str(o, 'kind'),
      file: str(o, 'file'),
      line: num(o, 'line'),
      function: str(o, 'function'),
      primitive: str(o, 'primitive'),
      delayNs: num(o, 'delayNs'),
      cumDelayNs: num(o, 'cumDelayNs'),
      count: num(o, 'count'),
      share: num(o, 'share'),
      lock: bool(o, 'lock'),
    },
    {
      method: optStr(o, 'method'),
      stacks: parseStacks(o.stacks),
      pprofFunction: optStr(o, 'pprofFunction'),
      exitLine: optNum(o, 'exitLine'),
      openWaits: optNum(o, 'openWaits'),
      stillWaitingNs: optNum(o, 'stillWaitingNs'),
      via: optStr(o, 'via'),
      callSite: optObj(o.callSite, parseSite),
      base: optObj(o.base, parseChange),
    },
  );
}

function parseLink(o: Obj): Link {
  return withOptional<Link>(
    { file: str(o, 'file'), line: num(o, 'line'), function: str(o, 'function'), reason: str(o, 'reason') },
    {
      primitive: optStr(o, 'primitive'),
      role: optStr(o, 'role'),
      releasedAt: optObj(o.releasedAt, parseSite),
      queue: optNum(o, 'queue'),
      via: optStr(o, 'via'),
      callSite: optObj(o.callSite, parseSite),
    },
  );
}

function parseChain(o: Obj): Chain {
  return withOptional<Chain>(
    { waitNs: num(o, 'waitNs'), count: num(o, 'count'), links: list(o.links, parseLink, 'chain links') },
    { lock: optBool(o, 'lock'), base: optObj(o.base, parseChange), beforeStop: optStr(o, 'beforeStop') },
  );
}

function parseMapWrite(o: Obj): MapWrite {
  return withOptional<MapWrite>(
    {
      file: str(o, 'file'),
      line: num(o, 'line'),
      function: str(o, 'function'),
      map: str(o, 'map'),
      op: str(o, 'op'),
      guard: str(o, 'guard'),
      contended: bool(o, 'contended'),
      waitNs: num(o, 'waitNs'),
      writers: list(o.writers, parseSite, 'map writers'),
    },
    {
      guardKind: optStr(o, 'guardKind'),
      guardRead: optBool(o, 'guardRead'),
      unguarded: optBool(o, 'unguarded'),
      noBreakpoint: optStr(o, 'noBreakpoint'),
      mapId: optStr(o, 'mapId'),
      mapEval: optStr(o, 'mapEval'),
      guardId: optStr(o, 'guardId'),
      guardEval: optStr(o, 'guardEval'),
      waiters: optNum(o, 'waiters'),
      base: optObj(o.base, parseChange),
      guardedVia: optList(o.guardedVia, parseSite, 'guardedVia'),
      sometimesUnguarded: optBool(o, 'sometimesUnguarded'),
      unguardedVia: optList(o.unguardedVia, parseSite, 'unguardedVia'),
      sameLockOnly: optBool(o, 'sameLockOnly'),
    },
  );
}

/** parseBreakpoint reads one suggested breakpoint. */
export function parseBreakpoint(o: Obj): Breakpoint {
  return withOptional<Breakpoint>(
    {
      kind: str(o, 'kind'),
      file: str(o, 'file'),
      line: num(o, 'line'),
      function: str(o, 'function'),
      condition: str(o, 'condition'),
      hitCondition: str(o, 'hitCondition'),
      label: str(o, 'label'),
      forWrite: str(o, 'forWrite'),
    },
    { logMessage: optStr(o, 'logMessage') },
  );
}

function parseCrash(o: Obj): Crash {
  return withOptional<Crash>(
    {
      reason: str(o, 'reason'),
      file: str(o, 'file'),
      line: num(o, 'line'),
      function: str(o, 'function'),
      goroutine: num(o, 'goroutine'),
    },
    {
      writers: optList(o.writers, parseSite),
      stack: optList(o.stack, parseFrame),
      createdBy: isObj(o.createdBy) ? parseFrame(o.createdBy) : undefined,
      mapCrash: optBool(o, 'mapCrash'),
    },
  );
}

function parseRaceAccess(v: unknown): RaceAccess {
  const o = isObj(v) ? v : {};
  return withOptional<RaceAccess>(
    {
      file: str(o, 'file'),
      line: num(o, 'line'),
      function: str(o, 'function'),
      goroutine: num(o, 'goroutine'),
      op: str(o, 'op'),
    },
    {
      map: optBool(o, 'map'),
      mapOp: optStr(o, 'mapOp'),
      stack: optList(o.stack, parseFrame),
      createdAt: optList(o.createdAt, parseFrame),
    },
  );
}

function parseRace(o: Obj): Race {
  return withOptional<Race>(
    { access: parseRaceAccess(o.access), previous: parseRaceAccess(o.previous) },
    { truncated: optBool(o, 'truncated') },
  );
}

function parseSource(o: Obj): Source {
  return withOptional<Source>(
    { kind: str(o, 'kind'), time: str(o, 'time') },
    {
      path: optStr(o, 'path'),
      url: optStr(o, 'url'),
      origin: optStr(o, 'origin'),
      durationNs: optNum(o, 'durationNs'),
    },
  );
}

function parseLockHolder(o: Obj): LockHolder {
  return withOptional<LockHolder>(
    {
      goroutine: num(o, 'goroutine'),
      lockedAt: obj(o.lockedAt, parseSite),
      file: str(o, 'file'),
      line: num(o, 'line'),
      function: str(o, 'function'),
      state: str(o, 'state'),
    },
    { read: optBool(o, 'read'), waitsAt: optObj(o.waitsAt, parseSite) },
  );
}

function parseWaiter(o: Obj): Waiter {
  return { goroutine: num(o, 'goroutine'), file: str(o, 'file'), line: num(o, 'line'), function: str(o, 'function') };
}

function parseStuckWait(o: Obj): StuckWait {
  return withOptional<StuckWait>(
    {
      goroutine: num(o, 'goroutine'),
      file: str(o, 'file'),
      line: num(o, 'line'),
      function: str(o, 'function'),
      reason: str(o, 'reason'),
      primitive: str(o, 'primitive'),
      waitNs: num(o, 'waitNs'),
      holders: list(o.holders, parseLockHolder, 'holders'),
    },
    {
      lock: optStr(o, 'lock'),
      lockId: optStr(o, 'lockId'),
      lockAddr: optStr(o, 'lockAddr'),
      forever: optBool(o, 'forever'),
      pendingWriters: optList(o.pendingWriters, parseWaiter, 'pendingWriters'),
      stack: optList(o.stack, parseFrame, 'stack frames'),
      createdBy: optObj(o.createdBy, parseFrame),
    },
  );
}

function parseDeadlockLink(o: Obj): DeadlockLink {
  return {
    goroutine: num(o, 'goroutine'),
    holds: str(o, 'holds'),
    lockedAt: obj(o.lockedAt, parseSite),
    waitsFor: str(o, 'waitsFor'),
    waitsAt: obj(o.waitsAt, parseSite),
  };
}

function parseDeadlock(o: Obj): Deadlock {
  const ids = Array.isArray(o.goroutines) ? capped(o.goroutines, 'deadlock goroutines') : [];
  return withOptional<Deadlock>(
    {
      goroutines: ids.filter((g): g is number => typeof g === 'number' && Number.isFinite(g)),
      links: list(o.links, parseDeadlockLink, 'deadlock links'),
      text: str(o, 'text'),
    },
    { forever: optBool(o, 'forever') },
  );
}

function parseBenchmark(o: Obj): Benchmark {
  return { name: str(o, 'name'), run: num(o, 'run'), n: num(o, 'n'), nsPerOp: num(o, 'nsPerOp') };
}

function parseWork(o: Obj): Work {
  return withOptional<Work>(
    { ops: num(o, 'ops'), runs: num(o, 'runs') },
    { benchmarks: optList(o.benchmarks, parseBenchmark, 'benchmarks') },
  );
}

/** parseSettings keeps the string values of a string map; anything else is dropped. */
function parseSettings(v: unknown): Record<string, string> | undefined {
  if (!isObj(v)) {
    return undefined;
  }
  const out: Record<string, string> = {};
  // Object.entries gives own keys only, and a plain object built key by key
  // cannot be given a prototype through "__proto__" by defineProperty.
  for (const [k, val] of Object.entries(v).slice(0, MAX_LIST)) {
    if (typeof val === 'string') {
      Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
    }
  }
  return out;
}

function parseCapture(o: Obj): Capture {
  return withOptional<Capture>(
    { time: str(o, 'time') },
    {
      program: optStr(o, 'program'),
      goVersion: optStr(o, 'goVersion'),
      commit: optStr(o, 'commit'),
      dirty: optBool(o, 'dirty'),
      lockscope: optStr(o, 'lockscope'),
      settings: parseSettings(o.settings),
      work: optObj(o.work, parseWork),
      durationNs: optNum(o, 'durationNs'),
    },
  );
}

function parseTotal(o: Obj): Total {
  return {
    kind: str(o, 'kind'),
    baseDelayNs: num(o, 'baseDelayNs'),
    delayNs: num(o, 'delayNs'),
    basePerUnit: num(o, 'basePerUnit'),
    perUnit: num(o, 'perUnit'),
    lockBaseDelayNs: num(o, 'lockBaseDelayNs'),
    lockDelayNs: num(o, 'lockDelayNs'),
  };
}

function parseGone(o: Obj): Gone {
  return {
    hotspots: list(o.hotspots, parseHotspot, 'gone hotspots'),
    chains: list(o.chains, parseChain, 'gone chains'),
    mapWrites: list(o.mapWrites, parseMapWrite, 'gone map writes'),
  };
}

function parseGateLine(o: Obj): GateLine {
  return withOptional<GateLine>(
    {
      kind: str(o, 'kind'),
      file: str(o, 'file'),
      line: num(o, 'line'),
      function: str(o, 'function'),
      basePerUnit: num(o, 'basePerUnit'),
      perUnit: num(o, 'perUnit'),
      change: num(o, 'change'),
      p: num(o, 'p'),
      baseSpread: num(o, 'baseSpread'),
      spread: num(o, 'spread'),
    },
    { new: optBool(o, 'new') },
  );
}

/** strings keeps the strings of a list (capped); undefined when the field is not a list. */
function strings(v: unknown, what: string): string[] | undefined {
  return Array.isArray(v) ? capped(v, what).filter((n): n is string => typeof n === 'string') : undefined;
}

function parseGate(o: Obj): Gate {
  return withOptional<Gate>(
    {
      rule: str(o, 'rule'),
      passed: bool(o, 'passed'),
      alpha: num(o, 'alpha'),
      baseRuns: num(o, 'baseRuns'),
      runs: num(o, 'runs'),
      floorPerUnit: num(o, 'floorPerUnit'),
      failures: list(o.failures, parseGateLine, 'gate failures'),
      noise: list(o.noise, parseGateLine, 'gate noise'),
      judged: list(o.judged, parseGateLine, 'gate lines'),
    },
    { warnings: strings(o.warnings, 'gate warnings') },
  );
}

function parseComparison(o: Obj): Comparison {
  return withOptional<Comparison>(
    {
      base: obj(o.base, parseCapture),
      unit: str(o, 'unit'),
      unitNote: str(o, 'unitNote'),
      baseUnits: num(o, 'baseUnits'),
      units: num(o, 'units'),
      threshold: num(o, 'threshold'),
      totals: list(o.totals, parseTotal, 'comparison totals'),
      gone: obj(o.gone, parseGone),
    },
    { gate: optObj(o.gate, parseGate) },
  );
}

/**
 * parseReport validates a report decoded from JSON. It never throws on an
 * object, however garbled; it throws an Error naming what it got when the
 * value is not an object at all (null, a list, a string...).
 */
export function parseReport(value: unknown): Report {
  if (!isObj(value)) {
    throw new Error(`lockscope: the report is not a JSON object (got ${describe(value)})`);
  }
  const notes: string[] = [];
  cut = notes;
  try {
    const r: Report = {
      hotspots: list(value.hotspots, parseHotspot, 'hotspots'),
      chains: list(value.chains, parseChain, 'chains'),
      mapWrites: list(value.mapWrites, parseMapWrite, 'map writes'),
      breakpoints: list(value.breakpoints, parseBreakpoint, 'breakpoints'),
      races: list(value.races, parseRace, 'races'),
      sources: list(value.sources, parseSource, 'sources'),
      stuck: list(value.stuck, parseStuckWait, 'stuck'),
      deadlocks: list(value.deadlocks, parseDeadlock, 'deadlocks'),
    };
    withOptional(r, {
      crash: optObj(value.crash, parseCrash),
      runtimeInternal: optList(value.runtimeInternal, parseHotspot, 'runtimeInternal'),
      comparison: optObj(value.comparison, parseComparison),
    });
    const given = strings(value.notes, 'notes');
    if (given !== undefined || notes.length > 0) {
      r.notes = [...(given ?? []), ...notes];
    }
    return r;
  } finally {
    cut = undefined;
  }
}

/**
 * parseBreakpointsBody validates the body of a lockscope/breakpoints
 * response. A body that is not an object gives no breakpoints and a reason
 * saying so, so that the user reads a sentence instead of a stack trace.
 */
export function parseBreakpointsBody(value: unknown): BreakpointsResponseBody {
  if (!isObj(value)) {
    return { breakpoints: [], reason: `the adapter's answer to lockscope/breakpoints was ${describe(value)}` };
  }
  return withOptional<BreakpointsResponseBody>(
    { breakpoints: list(value.breakpoints, parseBreakpoint) },
    { reason: optStr(value, 'reason') || undefined },
  );
}

/** emptyReport is a report with nothing in it. */
export function emptyReport(): Report {
  return {
    hotspots: [],
    chains: [],
    mapWrites: [],
    breakpoints: [],
    races: [],
    sources: [],
    stuck: [],
    deadlocks: [],
  };
}

/** isEmptyReport reports whether a report has nothing to draw or list. */
export function isEmptyReport(r: Report): boolean {
  return (
    r.hotspots.length === 0 &&
    r.chains.length === 0 &&
    r.mapWrites.length === 0 &&
    r.crash === undefined &&
    r.races.length === 0 &&
    r.stuck.length === 0 &&
    r.deadlocks.length === 0 &&
    r.comparison === undefined
  );
}
