/**
 * The comparison with a saved capture, as lockscope/compare and `lockscope
 * analyze --base` return it: each lock line's change, drawn after the line
 * (`▼ 1.2 s → 0.1 s`, `▲ new`), and the "Compared with …" group of the
 * Contention view, with the lines that went away.
 *
 * parseReport keeps the report's own fields only, so the comparison (the
 * report's `comparison` and each hotspot's `base`) is read here from the raw
 * body, trusting nothing in it: a wrong type is dropped, not guessed.
 */
import { formatDuration } from './format';
import { baseName } from './paths';
import { TreeNode } from './tree';

/** A change's status, as the adapter names it. */
export type Status = 'better' | 'worse' | 'same' | 'new' | 'gone';

const STATUSES: Status[] = ['better', 'worse', 'same', 'new', 'gone'];

/** One lock line compared with its base. */
export interface Change {
  kind: 'mutex' | 'block';
  file: string;
  line: number;
  function: string;
  status: Status;
  /** Wait per unit (ns per op or per second) in the base and now. */
  basePerUnit: number;
  perUnit: number;
  /** Where the line was in the base, when it moved. */
  baseLine?: number;
}

export interface Comparison {
  /** "op", "second" or "capture". */
  unit: string;
  unitNote: string;
  /** The base capture as a person names it: its commit, or its time. */
  baseLabel: string;
  /** The lock lines of the compared report, each with its change. */
  changes: Change[];
  /** The base's lock lines that are gone. */
  gone: Change[];
  /** The gate's verdict, when one was asked for. */
  gate?: { rule: string; passed: boolean; failures: number };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(o: Obj, k: string): number | undefined {
  const v = o[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(o: Obj, k: string): string {
  const v = o[k];
  return typeof v === 'string' ? v : '';
}

/** change reads one hotspot with its `base`; undefined unless it is a well-formed lock line. */
function change(h: unknown): Change | undefined {
  if (!isObj(h) || !isObj(h.base) || h.lock !== true) {
    return undefined;
  }
  const kind = str(h, 'kind');
  const status = str(h.base, 'status') as Status;
  const line = num(h, 'line');
  if ((kind !== 'mutex' && kind !== 'block') || !STATUSES.includes(status) || line === undefined || line < 1) {
    return undefined;
  }
  const c: Change = {
    kind,
    file: str(h, 'file'),
    line,
    function: str(h, 'function'),
    status,
    basePerUnit: num(h.base, 'basePerUnit') ?? 0,
    perUnit: num(h.base, 'perUnit') ?? 0,
  };
  const bl = num(h.base, 'baseLine');
  if (bl !== undefined && bl !== line) {
    c.baseLine = bl;
  }
  return c;
}

/** parseComparison reads the comparison of a raw report body; undefined when the report was not compared. */
export function parseComparison(body: unknown): Comparison | undefined {
  if (!isObj(body) || !isObj(body.comparison)) {
    return undefined;
  }
  const c = body.comparison;
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const changes = list(body.hotspots)
    .map(change)
    .filter((x): x is Change => x !== undefined);
  const gone = list(isObj(c.gone) ? c.gone.hotspots : undefined)
    .map(change)
    .filter((x): x is Change => x !== undefined && x.status === 'gone')
    .map((g) => ({ ...g, perUnit: 0 }));
  const base = isObj(c.base) ? c.base : {};
  const commit = str(base, 'commit');
  const time = str(base, 'time');
  let baseLabel = commit ? commit.slice(0, 12) : time ? time.replace('T', ' ').slice(0, 16) : 'a saved capture';
  const path = str(base, 'program');
  if (path) {
    baseLabel += ` · ${baseName(path)}`;
  }
  const out: Comparison = { unit: str(c, 'unit'), unitNote: str(c, 'unitNote'), baseLabel, changes, gone };
  if (isObj(c.gate)) {
    out.gate = {
      rule: str(c.gate, 'rule'),
      passed: c.gate.passed === true,
      failures: list(c.gate.failures).length,
    };
  }
  return out;
}

/** perUnit writes a wait per unit: "1.2 s/s", "85 µs/op". */
export function perUnit(ns: number, unit: string): string {
  const d = formatDuration(ns);
  return unit === 'op' ? `${d}/op` : unit === 'second' ? `${d}/s` : d;
}

const ARROW: Record<Status, string> = { better: '▼', gone: '▼', worse: '▲', new: '▲', same: '=' };

/** changeText is the after-line text of a change: "▼ 1.2 s/s → 0.1 s/s", "▲ new", "▼ gone (was 1.2 s/s)". */
export function changeText(c: Change, unit: string): string {
  switch (c.status) {
    case 'new':
      return `▲ new · ${perUnit(c.perUnit, unit)}`;
    case 'gone':
      return `▼ gone (was ${perUnit(c.basePerUnit, unit)})`;
    default:
      return `${ARROW[c.status]} ${perUnit(c.basePerUnit, unit)} → ${perUnit(c.perUnit, unit)}`;
  }
}

/** A mark of the comparison: the after-line text of one line. */
export interface CompareMark {
  file: string;
  line: number;
  status: Status;
  text: string;
}

/**
 * compareMarks gives one after-line text per line of the current code: the
 * heavier side's change when both sides are on one line. Gone lines are not
 * drawn on the code (their line may hold other code now); the tree lists
 * them.
 */
export function compareMarks(cmp: Comparison, resolve: (file: string) => string | undefined): CompareMark[] {
  const best = new Map<string, { c: Change; file: string }>();
  for (const c of cmp.changes) {
    const file = resolve(c.file);
    if (file === undefined) {
      continue;
    }
    const key = `${file}\u0000${c.line}`;
    const prev = best.get(key);
    if (!prev || Math.max(c.perUnit, c.basePerUnit) > Math.max(prev.c.perUnit, prev.c.basePerUnit)) {
      best.set(key, { c, file });
    }
  }
  return [...best.values()]
    .map(({ c, file }) => ({ file, line: c.line, status: c.status, text: changeText(c, cmp.unit) }))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
}

const ORDER: Record<Status, number> = { worse: 0, new: 1, better: 2, gone: 3, same: 4 };
const ICON: Record<Status, string> = {
  worse: 'arrow-up',
  new: 'add',
  better: 'arrow-down',
  gone: 'pass',
  same: 'dash',
};

/**
 * compareTree is the "Compared with …" group of the Contention view: every
 * compared lock line, regressions first, then what got better and what went
 * away; each opens its line (a gone line opens nothing: it is in the base's
 * code).
 */
export function compareTree(cmp: Comparison, resolve: (file: string) => string | undefined): TreeNode {
  const all = [...cmp.changes, ...cmp.gone].sort(
    (a, b) =>
      ORDER[a.status] - ORDER[b.status] ||
      Math.max(b.perUnit, b.basePerUnit) - Math.max(a.perUnit, a.basePerUnit) ||
      a.line - b.line,
  );
  const side = (k: string): string => (k === 'mutex' ? 'holder' : 'waiter');
  const children: TreeNode[] = all.map((c, i) => {
    const file = c.status === 'gone' ? undefined : resolve(c.file);
    const moved = c.baseLine !== undefined ? ` (was line ${c.baseLine})` : '';
    return {
      id: `compare/${i}/${c.kind}/${c.file}:${c.line}/${c.status}`,
      label: `${baseName(c.file)}:${c.line}${moved}`,
      description: `${changeText(c, cmp.unit)} · ${side(c.kind)}`,
      tooltip: `${c.function} — ${c.status}; ${cmp.unitNote}`,
      file,
      line: file ? c.line : undefined,
      contextValue: 'compare.change',
      icon: ICON[c.status],
    };
  });
  const worse = all.filter((c) => c.status === 'worse' || c.status === 'new').length;
  const better = all.filter((c) => c.status === 'better' || c.status === 'gone').length;
  let description = `${better} better or gone, ${worse} worse or new`;
  if (cmp.gate) {
    description += ` · gate ${cmp.gate.rule}: ${cmp.gate.passed ? 'passed' : `failed (${cmp.gate.failures})`}`;
  }
  return {
    id: 'compare',
    label: `Compared with ${cmp.baseLabel}`,
    description,
    tooltip: cmp.unitNote,
    contextValue: 'group',
    icon: 'diff',
    children,
  };
}
