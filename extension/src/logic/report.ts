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
 * dropped, and numbers that are not finite are treated as absent.
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
}

/** A blocking chain, links ordered from the first waiter to the last holder (contention.Chain). */
export interface Chain {
  waitNs: number;
  count: number;
  links: Link[];
  /** True when the first waiter waits on a sync.Mutex or sync.RWMutex. */
  lock?: boolean;
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

/** The whole report (contention.Report). */
export interface Report {
  hotspots: Hotspot[];
  chains: Chain[];
  mapWrites: MapWrite[];
  breakpoints: Breakpoint[];
  crash?: Crash;
  races: Race[];
  sources: Source[];
  /** Contention inside the runtime itself: no user line can fix it. */
  runtimeInternal?: Hotspot[];
  /** Plain sentences for a person. */
  notes?: string[];
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

/** list maps the object entries of a JSON list, dropping anything else; not a list gives []. */
function list<T>(v: unknown, parse: (o: Obj) => T): T[] {
  if (!Array.isArray(v)) {
    return [];
  }
  const out: T[] = [];
  for (const e of v) {
    if (isObj(e)) {
      out.push(parse(e));
    }
  }
  return out;
}

/** optList is list() for an omitempty field: absent (not []) when the field is not a list. */
function optList<T>(v: unknown, parse: (o: Obj) => T): T[] | undefined {
  return Array.isArray(v) ? list(v, parse) : undefined;
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
  return v.filter((s): s is unknown[] => Array.isArray(s)).map((s) => list(s, parseFrame));
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
    },
  );
}

function parseLink(o: Obj): Link {
  return withOptional<Link>(
    { file: str(o, 'file'), line: num(o, 'line'), function: str(o, 'function'), reason: str(o, 'reason') },
    {
      primitive: optStr(o, 'primitive'),
      role: optStr(o, 'role'),
      releasedAt: isObj(o.releasedAt) ? parseSite(o.releasedAt) : undefined,
    },
  );
}

function parseChain(o: Obj): Chain {
  return withOptional<Chain>(
    { waitNs: num(o, 'waitNs'), count: num(o, 'count'), links: list(o.links, parseLink) },
    { lock: optBool(o, 'lock') },
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
      writers: list(o.writers, parseSite),
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

/**
 * parseReport validates a report decoded from JSON. It never throws on an
 * object, however garbled; it throws an Error naming what it got when the
 * value is not an object at all (null, a list, a string...).
 */
export function parseReport(value: unknown): Report {
  if (!isObj(value)) {
    throw new Error(`lockscope: the report is not a JSON object (got ${describe(value)})`);
  }
  const r: Report = {
    hotspots: list(value.hotspots, parseHotspot),
    chains: list(value.chains, parseChain),
    mapWrites: list(value.mapWrites, parseMapWrite),
    breakpoints: list(value.breakpoints, parseBreakpoint),
    races: list(value.races, parseRace),
    sources: list(value.sources, parseSource),
  };
  return withOptional(r, {
    crash: isObj(value.crash) ? parseCrash(value.crash) : undefined,
    runtimeInternal: optList(value.runtimeInternal, parseHotspot),
    notes: Array.isArray(value.notes) ? value.notes.filter((n): n is string => typeof n === 'string') : undefined,
  });
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
  return { hotspots: [], chains: [], mapWrites: [], breakpoints: [], races: [], sources: [] };
}

/** isEmptyReport reports whether a report has nothing to draw or list. */
export function isEmptyReport(r: Report): boolean {
  return (
    r.hotspots.length === 0 &&
    r.chains.length === 0 &&
    r.mapWrites.length === 0 &&
    r.crash === undefined &&
    r.races.length === 0
  );
}
