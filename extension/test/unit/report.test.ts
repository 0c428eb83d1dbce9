import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { MAX_LIST, emptyReport, isEmptyReport, parseBreakpointsBody, parseReport } from '../../src/logic/report';
import { fixtureJSON, repoRoot } from './helpers';

const FIXTURES = [
  'ledger',
  'crashmap',
  'rwcache',
  'racymap',
  'handoff',
  'testwait',
  'ledger-trimpath',
  'handoff-trace',
  'deadlock',
  'compare-shards',
  'logjam',
  'lrucache',
  'lockedhelpers',
];

/** goFields reads the JSON field names of a Go struct in internal/contention, and which are omitempty. */
function goFields(struct: string): { name: string; omitempty: boolean }[] {
  const dir = path.join(repoRoot(), 'internal', 'contention');
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.go') && !f.endsWith('_test.go'))) {
    const src = fs.readFileSync(path.join(dir, f), 'utf8');
    const m = new RegExp(`\\ntype ${struct} struct \\{([\\s\\S]*?)\\n\\}`).exec(src);
    if (m) {
      return [...m[1].matchAll(/json:"([^",]+)(,omitempty)?"/g)].map((t) => ({ name: t[1], omitempty: !!t[2] }));
    }
  }
  throw new Error(`no struct ${struct} in internal/contention`);
}

const frame = { function: 'main.f', file: '/w/a.go', line: 3 };
const site = { file: '/w/a.go', line: 4, function: 'main.g' };
const access = {
  file: '/w/a.go',
  line: 5,
  function: 'main.h',
  goroutine: 7,
  op: 'write',
  map: true,
  mapOp: 'runtime.mapassign_faststr',
  stack: [frame],
  createdAt: [frame],
};
const change = {
  status: 'better',
  baseDelayNs: 1200,
  baseCount: 3,
  basePerUnit: 12,
  perUnit: 1,
  change: -0.9,
  baseFile: '/w/a.go',
  baseLine: 7,
  p: 0.01,
};
const gateLine = {
  kind: 'block',
  file: '/w/a.go',
  line: 1,
  function: 'main.f',
  basePerUnit: 1,
  perUnit: 2,
  change: 1,
  p: 0.02,
  baseSpread: 0.05,
  spread: 0.04,
  new: true,
};
/** full has every field the Go model has, each with a non-zero value. */
const full = {
  hotspots: [
    {
      kind: 'mutex',
      file: '/w/a.go',
      line: 1,
      function: 'main.(*T).F',
      primitive: 'sync.Mutex',
      method: 'Unlock',
      delayNs: 10,
      cumDelayNs: 11,
      count: 2,
      share: 0.5,
      lock: true,
      stacks: [[frame]],
      pprofFunction: 'main.(*T).F.deferwrap1',
      exitLine: 9,
      openWaits: 1,
      stillWaitingNs: 4,
      via: 'log.(*Logger).output → sync.Mutex.Lock',
      callSite: site,
      base: change,
    },
  ],
  chains: [
    {
      waitNs: 5,
      count: 1,
      lock: true,
      base: change,
      beforeStop: 'in the 2.0 s before the stop (breakpoint)',
      links: [
        {
          file: '/w/a.go',
          line: 2,
          function: 'main.w',
          reason: 'sync',
          primitive: 'sync.(*Mutex).Lock',
          role: 'waits',
          releasedAt: site,
          queue: 3,
          via: 'lru.(*Cache).Get → sync.Mutex.Lock',
          callSite: site,
        },
      ],
    },
  ],
  mapWrites: [
    {
      file: '/w/a.go',
      line: 6,
      function: 'main.put',
      map: 'm',
      op: 'assign',
      guard: 'mu',
      guardKind: 'sync.RWMutex',
      guardRead: true,
      contended: true,
      waitNs: 100,
      unguarded: true,
      writers: [site],
      noBreakpoint: 'why',
      mapId: 'id',
      mapEval: 'm',
      guardId: 'gid',
      guardEval: 'mu',
      waiters: 2.5,
      base: change,
      guardedVia: [site],
      sometimesUnguarded: true,
      unguardedVia: [site],
      sameLockOnly: true,
    },
  ],
  breakpoints: [
    {
      kind: 'source',
      file: '/w/a.go',
      line: 6,
      function: 'main.put',
      condition: 'mu.mu.state >> 3 >= 2',
      hitCondition: '> 1',
      logMessage: '{x}',
      label: 'log when 2 or more goroutines wait for mu',
      forWrite: '/w/a.go:6',
    },
  ],
  crash: {
    reason: 'concurrent map writes',
    file: '/w/a.go',
    line: 6,
    function: 'main.put',
    goroutine: 9,
    writers: [site],
    stack: [frame],
    createdBy: frame,
    mapCrash: true,
  },
  races: [{ access, previous: access, truncated: true }],
  sources: [
    {
      kind: 'trace',
      path: '/w',
      url: 'http://127.0.0.1:6060/debug/pprof/trace',
      origin: 'url',
      durationNs: 1e9,
      time: '2026-12-01T00:00:00Z',
    },
  ],
  stuck: [
    {
      goroutine: 7,
      file: '/w/a.go',
      line: 14,
      function: 'main.w',
      reason: 'sync.Mutex.Lock',
      primitive: 'sync.Mutex',
      lock: 'b',
      lockId: 'main.b@/w/a.go:3:2',
      lockAddr: '0xc000010000',
      waitNs: 3e9,
      forever: true,
      holders: [
        {
          goroutine: 8,
          lockedAt: site,
          file: '/w/a.go',
          line: 31,
          function: 'main.g',
          read: true,
          state: 'sync.Mutex.Lock',
          waitsAt: site,
        },
      ],
      pendingWriters: [{ goroutine: 9, file: '/w/a.go', line: 20, function: 'main.writer' }],
      stack: [frame],
      createdBy: frame,
    },
  ],
  deadlocks: [
    {
      goroutines: [7, 8],
      links: [{ goroutine: 7, holds: 'a', lockedAt: site, waitsFor: 'b', waitsAt: site }],
      forever: true,
      text: 'goroutine 7 holds a and waits for b',
    },
  ],
  runtimeInternal: [],
  notes: ['a note'],
  comparison: {
    base: {
      program: './cmd/x',
      goVersion: 'go1.26.8',
      commit: 'abc',
      dirty: true,
      time: '2026-12-01T00:00:00Z',
      lockscope: '0.1.0',
      settings: { mode: 'bench' },
      work: { ops: 100, runs: 2, benchmarks: [{ name: 'BenchmarkX', run: 1, n: 50, nsPerOp: 20 }] },
      durationNs: 2e9,
    },
    unit: 'op',
    unitNote: 'per op',
    baseUnits: 100,
    units: 120,
    threshold: 0.1,
    totals: [
      {
        kind: 'block',
        baseDelayNs: 5,
        delayNs: 4,
        basePerUnit: 0.05,
        perUnit: 0.03,
        lockBaseDelayNs: 3,
        lockDelayNs: 2,
      },
    ],
    gone: { hotspots: [], chains: [], mapWrites: [] },
    gate: {
      rule: 'wait+20%',
      passed: false,
      alpha: 0.05,
      baseRuns: 5,
      runs: 5,
      floorPerUnit: 1,
      failures: [gateLine],
      noise: [],
      judged: [gateLine],
      warnings: ['too few runs'],
    },
  },
};

describe('parseReport mirrors the Go model', () => {
  const pick = (r: ReturnType<typeof parseReport>): Record<string, object> => ({
    Report: r,
    Hotspot: r.hotspots[0],
    Chain: r.chains[0],
    Link: r.chains[0].links[0],
    MapWrite: r.mapWrites[0],
    Breakpoint: r.breakpoints[0],
    Crash: r.crash!,
    Race: r.races[0],
    RaceAccess: r.races[0].access,
    Frame: r.hotspots[0].stacks![0][0],
    Site: r.mapWrites[0].writers[0],
    Source: r.sources[0],
    StuckWait: r.stuck[0],
    LockHolder: r.stuck[0].holders[0],
    Waiter: r.stuck[0].pendingWriters![0],
    Deadlock: r.deadlocks[0],
    DeadlockLink: r.deadlocks[0].links[0],
    Change: r.hotspots[0].base!,
    Comparison: r.comparison!,
    Capture: r.comparison!.base,
    Work: r.comparison!.base.work!,
    Benchmark: r.comparison!.base.work!.benchmarks![0],
    Total: r.comparison!.totals[0],
    Gone: r.comparison!.gone,
    Gate: r.comparison!.gate!,
    GateLine: r.comparison!.gate!.failures[0],
  });

  it('keeps every field of every struct in internal/contention', () => {
    for (const [struct, obj] of Object.entries(pick(parseReport(full)))) {
      const want = goFields(struct)
        .map((f) => f.name)
        .sort();
      assert.deepEqual(
        Object.keys(obj).sort(),
        want,
        `${struct}: got fields ${Object.keys(obj).join(',')}, want ${want.join(',')}`,
      );
    }
  });

  it('checks every struct of internal/contention: a new struct needs a place in the test above', () => {
    const dir = path.join(repoRoot(), 'internal', 'contention');
    const structs = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.go') && !f.endsWith('_test.go'))
      .flatMap((f) =>
        [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/\ntype (\w+) struct \{/g)].map((m) => m[1]),
      );
    assert.deepEqual(Object.keys(pick(parseReport(full))).sort(), structs.sort());
  });

  it('fills the fields Go always writes and leaves omitempty ones absent', () => {
    const bare = parseReport({
      hotspots: [{ stacks: [[{}]] }],
      chains: [{ links: [{}] }],
      mapWrites: [{ writers: [{}] }],
      breakpoints: [{}],
      crash: {},
      races: [{}],
      sources: [{}],
      stuck: [{ holders: [{}] }],
      deadlocks: [{ links: [{}] }],
      comparison: { gate: { failures: [{}] }, base: { work: { benchmarks: [{}] } } },
    });
    // A Frame inside stacks and a Site inside writers: parse them through their parents.
    const objs: Record<string, object> = {
      Hotspot: bare.hotspots[0],
      Chain: bare.chains[0],
      Link: bare.chains[0].links[0],
      MapWrite: bare.mapWrites[0],
      Breakpoint: bare.breakpoints[0],
      Crash: bare.crash!,
      Race: bare.races[0],
      RaceAccess: bare.races[0].access,
      Frame: bare.hotspots[0].stacks![0][0],
      Site: bare.mapWrites[0].writers[0],
      Source: bare.sources[0],
      StuckWait: bare.stuck[0],
      LockHolder: bare.stuck[0].holders[0],
      Deadlock: bare.deadlocks[0],
      DeadlockLink: bare.deadlocks[0].links[0],
      Comparison: bare.comparison!,
      Capture: bare.comparison!.base,
      Benchmark: bare.comparison!.base.work!.benchmarks![0],
      Gone: bare.comparison!.gone,
      Gate: bare.comparison!.gate!,
      GateLine: bare.comparison!.gate!.failures[0],
    };
    for (const [struct, obj] of Object.entries(objs)) {
      const fields = goFields(struct);
      for (const f of fields) {
        if (f.omitempty) {
          // The fields given above to reach the structs inside them; every other omitempty field must stay absent.
          if (!['stacks', 'comparison', 'gate', 'work', 'benchmarks'].includes(f.name)) {
            assert.ok(!(f.name in obj), `${struct}.${f.name} is omitempty but was filled in`);
          }
        } else {
          assert.ok(f.name in obj, `${struct}.${f.name} is always written by Go but missing`);
        }
      }
    }
  });

  for (const name of FIXTURES) {
    it(`reads the recorded ${name} report without losing or changing anything`, () => {
      const raw = fixtureJSON(name);
      assert.deepEqual(JSON.parse(JSON.stringify(parseReport(raw))), raw);
    });
  }
});

describe('parseReport on hostile input', () => {
  it('throws a clear error on anything but an object', () => {
    for (const v of [null, undefined, [], [{}], 'report', 42, true]) {
      assert.throws(() => parseReport(v), /the report is not a JSON object/);
    }
  });

  it('turns missing or mistyped lists into []', () => {
    const r = parseReport({ hotspots: 'lots', chains: null, mapWrites: { 0: {} }, races: 7 });
    assert.deepEqual(r, emptyReport());
    assert.ok(isEmptyReport(r));
  });

  it('drops list entries that are not objects, and fields of the wrong type', () => {
    const r = parseReport({
      hotspots: [null, 1, 'x', [], { kind: 'mutex', file: 42, line: '34', delayNs: 5, lock: 'yes', method: 9 }],
    });
    assert.equal(r.hotspots.length, 1);
    const h = r.hotspots[0];
    assert.equal(h.kind, 'mutex');
    assert.equal(h.file, '');
    assert.equal(h.line, 0);
    assert.equal(h.delayNs, 5);
    assert.equal(h.lock, false);
    assert.ok(!('method' in h));
  });

  it('drops numbers that are not finite', () => {
    const r = parseReport({
      hotspots: [{ delayNs: NaN, share: Infinity, count: -Infinity, exitLine: NaN }],
      mapWrites: [{ waiters: Infinity }],
      sources: [{ durationNs: NaN }],
    });
    assert.equal(r.hotspots[0].delayNs, 0);
    assert.equal(r.hotspots[0].share, 0);
    assert.equal(r.hotspots[0].count, 0);
    assert.ok(!('exitLine' in r.hotspots[0]));
    assert.ok(!('waiters' in r.mapWrites[0]));
    assert.ok(!('durationNs' in r.sources[0]));
  });

  it('survives garbled nesting: stacks, links, crash, races, notes', () => {
    const r = parseReport({
      hotspots: [{ stacks: [null, 'x', [null, { function: 'main.f' }]] }],
      chains: [{ links: 'none', releasedAt: 3 }, { links: [{ releasedAt: 'main.go:3' }] }],
      crash: ['concurrent map writes'],
      races: [{ access: 'x' }],
      notes: ['ok', 3, null],
    });
    assert.deepEqual(r.hotspots[0].stacks, [[{ function: 'main.f', file: '', line: 0 }]]);
    assert.deepEqual(r.chains[0].links, []);
    assert.ok(!('releasedAt' in r.chains[1].links[0]));
    assert.equal(r.crash, undefined);
    assert.equal(r.races[0].access.file, '');
    assert.equal(r.races[0].previous.line, 0);
    assert.deepEqual(r.notes, ['ok']);
  });

  it('does not let __proto__ keys reach the parsed objects', () => {
    const raw = JSON.parse(
      '{"hotspots":[{"__proto__":{"polluted":true},"kind":"block"}],"__proto__":{"x":1}}',
    ) as unknown;
    const r = parseReport(raw);
    assert.equal((r.hotspots[0] as unknown as { polluted?: boolean }).polluted, undefined);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal((r as unknown as { x?: number }).x, undefined);
  });

  it('reads the new sections from hostile input without throwing', () => {
    const r = parseReport({
      stuck: [null, { goroutine: '7', holders: 'x', stack: [1, {}], createdBy: [], lockedAt: 3 }],
      deadlocks: [{ goroutines: [7, '8', null, NaN, 9], links: [{ lockedAt: 'main.go:3', waitsAt: null }] }, 4],
      comparison: { base: 'old', totals: {}, gone: null, gate: [] },
    });
    assert.equal(r.stuck.length, 1);
    assert.equal(r.stuck[0].goroutine, 0);
    assert.deepEqual(r.stuck[0].holders, []);
    assert.deepEqual(r.stuck[0].stack, [{ function: '', file: '', line: 0 }]);
    assert.ok(!('createdBy' in r.stuck[0]));
    assert.deepEqual(r.deadlocks[0].goroutines, [7, 9]);
    assert.deepEqual(r.deadlocks[0].links[0].lockedAt, { file: '', line: 0 });
    assert.deepEqual(r.deadlocks[0].links[0].waitsAt, { file: '', line: 0 });
    const c = r.comparison!;
    assert.equal(c.base.time, '');
    assert.deepEqual(c.totals, []);
    assert.deepEqual(c.gone, { hotspots: [], chains: [], mapWrites: [] });
    assert.ok(!('gate' in c));
    assert.ok(!isEmptyReport(r));
  });

  it('keeps only string settings and no prototype from a capture', () => {
    const raw = JSON.parse('{"comparison":{"base":{"settings":{"__proto__":"x","mode":"bench","rate":1}}}}') as unknown;
    const s = parseReport(raw).comparison!.base.settings!;
    assert.deepEqual(Object.keys(s).sort(), ['__proto__', 'mode']);
    assert.equal(Object.getPrototypeOf(s), Object.prototype);
    assert.equal(s.mode, 'bench');
  });

  it('cuts a list longer than MAX_LIST and says so in the notes', () => {
    const entry = { goroutine: 1, file: '/w/a.go', line: 1, holders: [] };
    const r = parseReport({
      stuck: Array.from({ length: MAX_LIST + 5 }, () => entry),
      hotspots: [{ stacks: [Array.from({ length: MAX_LIST + 1 }, () => frame)] }],
      notes: ['from the adapter'],
    });
    assert.equal(r.stuck.length, MAX_LIST);
    assert.equal(r.hotspots[0].stacks![0].length, MAX_LIST);
    assert.equal(r.notes?.[0], 'from the adapter');
    assert.equal(r.notes?.length, 3);
    assert.ok(r.notes?.some((n) => n.includes(`stuck list has ${MAX_LIST + 5} entries; the editor read the first`)));
    assert.ok(r.notes?.some((n) => n.includes(`stack frames list has ${MAX_LIST + 1} entries`)));
    // The notes of one parse do not leak into the next.
    assert.deepEqual(parseReport({}).notes, undefined);
  });

  it('parses a 10 000-entry report quickly enough to run on every refresh', () => {
    const big = { hotspots: Array.from({ length: 10000 }, (_, i) => ({ ...full.hotspots[0], line: i + 1 })) };
    const t0 = process.hrtime.bigint();
    const r = parseReport(big);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(r.hotspots.length, 10000);
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
});

describe('parseBreakpointsBody', () => {
  it('reads the adapter body and its reason', () => {
    const b = parseBreakpointsBody({ breakpoints: [full.breakpoints[0], 'x'], reason: 'because' });
    assert.equal(b.breakpoints.length, 1);
    assert.equal(b.breakpoints[0].logMessage, '{x}');
    assert.equal(b.reason, 'because');
  });

  it('gives no breakpoints and a sentence for a body that is not an object', () => {
    for (const v of [undefined, null, 'x', []]) {
      const b = parseBreakpointsBody(v);
      assert.deepEqual(b.breakpoints, []);
      assert.match(b.reason ?? '', /lockscope\/breakpoints was/);
    }
  });

  it('treats an empty reason as none and a missing list as []', () => {
    assert.deepEqual(parseBreakpointsBody({ reason: '' }), { breakpoints: [] });
  });
});
