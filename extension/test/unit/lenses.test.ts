import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LensModel, buildLenses } from '../../src/logic/lenses';
import { lineSets } from '../../src/logic/lines';
import { MapWrite, Report, emptyReport } from '../../src/logic/report';
import { fixture, marker, ws, wsResolve } from './helpers';

const LEDGER = 'testdata/ledger/main.go';
const CRASHMAP = 'testdata/crashmap/main.go';
const RWCACHE = 'testdata/rwcache/main.go';
const RACYMAP = 'testdata/racymap/main.go';

function on(lenses: LensModel[], file: string, line: number): LensModel[] {
  return lenses.filter((l) => l.file === file && l.line === line);
}

describe('buildLenses on recorded reports', () => {
  it('offers "Break when contended (N waiting)" and a logpoint on the ledger hot write only', () => {
    const lenses = buildLenses(fixture('ledger'), wsResolve());
    const file = ws(LEDGER);
    const hot = marker(LEDGER, 'hot-write');
    const here = on(lenses, file, hot);
    assert.equal(here.length, 2);
    assert.match(here[0].title, /^Break when contended \(\d+ waiting\)$/);
    assert.equal(here[0].command, 'lockscope.breakWhenContended');
    assert.deepEqual(here[0].args, [{ file, line: hot }]);
    assert.deepEqual(
      { title: here[1].title, command: here[1].command, args: here[1].args },
      { title: 'Logpoint', command: 'lockscope.logWhenContended', args: [{ file, line: hot }] },
    );
    assert.deepEqual(on(lenses, file, marker(LEDGER, 'cold-write')), []);
    assert.equal(lenses.length, 2);
  });

  it("takes N from the write's mean waiters", () => {
    const r = fixture('ledger');
    const w = r.mapWrites.find((x) => x.contended)!;
    const lens = buildLenses(r, wsResolve()).find((l) => l.command === 'lockscope.breakWhenContended')!;
    assert.equal(lens.title, `Break when contended (${Math.round(w.waiters!)} waiting)`);
  });

  it('offers it on the RWMutex-guarded write of rwcache', () => {
    const lenses = buildLenses(fixture('rwcache'), wsResolve());
    const here = on(lenses, ws(RWCACHE), marker(RWCACHE, 'rw-write'));
    assert.deepEqual(
      here.map((l) => l.command),
      ['lockscope.breakWhenContended', 'lockscope.logWhenContended'],
    );
  });

  it('offers "Break on the second writer" on both unguarded writers of crashmap, and names the other writer on the crash line', () => {
    const r = fixture('crashmap');
    const lenses = buildLenses(r, wsResolve());
    const file = ws(CRASHMAP);
    const hit = marker(CRASHMAP, 'crash-hit');
    const reset = marker(CRASHMAP, 'crash-reset');
    for (const line of [hit, reset]) {
      assert.ok(
        on(lenses, file, line).some(
          (l) => l.title === 'Break on the second writer' && l.command === 'lockscope.breakOnSecondWriter',
        ),
        `line ${line}`,
      );
    }
    const crashLine = r.crash!.line;
    assert.ok([hit, reset].includes(crashLine));
    const other = crashLine === hit ? reset : hit;
    const crash = on(lenses, file, crashLine).find((l) => l.title.startsWith('Crashed here'))!;
    assert.equal(crash.title, `Crashed here: concurrent map writes — other writer at main.go:${other}`);
    assert.equal(crash.command, 'lockscope.breakOnSecondWriter');
    assert.deepEqual(crash.args, [{ file, line: crashLine }]);
    assert.equal(lenses.filter((l) => l.command.includes('Contended')).length, 0, 'nothing is contended in crashmap');
  });

  it('puts a lens on each side of a data race, pointing at the other side', () => {
    const lenses = buildLenses(fixture('racymap'), wsResolve());
    const file = ws(RACYMAP);
    const rec = marker(RACYMAP, 'racy-record');
    const forget = marker(RACYMAP, 'racy-forget');
    const race = (line: number): LensModel | undefined =>
      on(lenses, file, line).find((l) => l.title.startsWith('Data race'));
    assert.deepEqual(race(rec)?.args, [{ file, line: forget }]);
    assert.deepEqual(race(forget)?.args, [{ file, line: rec }]);
    assert.match(race(rec)!.title, new RegExp(`^Data race: write here, write at main\\.go:${forget} \\(forget\\)$`));
  });
});

function write(over: Partial<MapWrite>): MapWrite {
  return {
    file: '/w/a.go',
    line: 12,
    function: 'main.put',
    map: 'm',
    op: 'assign',
    guard: 'mu',
    contended: true,
    waitNs: 1e9,
    writers: [],
    ...over,
  };
}

const resolve = (f: string): string | undefined => (f.startsWith('/w/') ? f : undefined);

describe('buildLenses edge cases', () => {
  it('omits the count when nothing says how many wait', () => {
    const r: Report = { ...emptyReport(), mapWrites: [write({})] };
    assert.equal(buildLenses(r, resolve)[0].title, 'Break when contended');
  });

  it("takes N from the write's Lock hotspot over the capture window when the write has no waiters", () => {
    const r: Report = {
      ...emptyReport(),
      mapWrites: [write({})],
      hotspots: [
        {
          kind: 'block',
          file: '/w/a.go',
          line: 11,
          function: 'main.put',
          primitive: 'sync.Mutex',
          method: 'Lock',
          delayNs: 6e9,
          cumDelayNs: 6e9,
          count: 9,
          share: 1,
          lock: true,
        },
      ],
      sources: [{ kind: 'block', durationNs: 2e9, time: '' }],
    };
    assert.equal(buildLenses(r, resolve)[0].title, 'Break when contended (3 waiting)');
    r.mapWrites[0].waiters = 0.2;
    assert.equal(buildLenses(r, resolve)[0].title, 'Break when contended (<1 waiting)');
  });

  it('offers the second writer on a write under RLock only, and nothing on unresolvable or line-less writes', () => {
    const r: Report = {
      ...emptyReport(),
      mapWrites: [
        write({ contended: false, guardRead: true }),
        write({ file: '/elsewhere/a.go', unguarded: true }),
        write({ line: 0, unguarded: true }),
      ],
    };
    assert.deepEqual(
      buildLenses(r, resolve).map((l) => l.title),
      ['Break on the second writer'],
    );
  });

  it('opens the crash line when the crash is not about maps', () => {
    const r: Report = {
      ...emptyReport(),
      crash: {
        reason: 'all goroutines are asleep - deadlock!',
        file: '/w/a.go',
        line: 3,
        function: 'main.main',
        goroutine: 1,
      },
    };
    assert.deepEqual(buildLenses(r, resolve), [
      {
        file: '/w/a.go',
        line: 3,
        title: 'Crashed here: all goroutines are asleep - deadlock!',
        command: 'lockscope.openLocation',
        args: [{ file: '/w/a.go', line: 3 }],
      },
    ]);
  });
});

describe('lineSets', () => {
  it('lists the ledger lines for the menus', () => {
    const sets = lineSets(fixture('ledger'), ws(LEDGER), wsResolve());
    assert.deepEqual(sets.contended, [marker(LEDGER, 'hot-write')]);
    assert.deepEqual(sets.unguarded, []);
    assert.ok(sets.hot.includes(marker(LEDGER, 'hot-unlock')));
    assert.ok(sets.chain.includes(marker(LEDGER, 'hot-unlock')));
    assert.deepEqual(
      [...sets.hot].sort((a, b) => a - b),
      sets.hot,
    );
  });

  it('lists both crashmap writers as unguarded, and nothing for another file', () => {
    const r = fixture('crashmap');
    const sets = lineSets(r, ws(CRASHMAP), wsResolve());
    assert.deepEqual(
      sets.unguarded,
      [marker(CRASHMAP, 'crash-hit'), marker(CRASHMAP, 'crash-reset')].sort((a, b) => a - b),
    );
    assert.deepEqual(lineSets(r, ws(LEDGER), wsResolve()), { contended: [], unguarded: [], chain: [], hot: [] });
  });

  it('leaves the root wait out of the hot lines', () => {
    const file = 'testdata/profiles/testwait/wait_test.go';
    const sets = lineSets(fixture('testwait'), ws(file), wsResolve());
    assert.ok(!sets.hot.includes(marker(file, 'test-wait')));
    assert.ok(sets.hot.includes(marker(file, 'test-lock')));
  });
});
