import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineMark, buildMarks, heatOf } from '../../src/logic/marks';
import { Hotspot, Report, emptyReport } from '../../src/logic/report';
import { fixture, lineOf, marker, ws, wsResolve } from './helpers';

const LEDGER = 'testdata/ledger/main.go';
const TESTWAIT = 'testdata/profiles/testwait/wait_test.go';
const HANDOFF = 'testdata/handoff/main.go';

function at(marks: LineMark[], file: string, line: number): LineMark[] {
  return marks.filter((m) => m.file === file && m.line === line);
}

function hotspot(over: Partial<Hotspot>): Hotspot {
  return {
    kind: 'mutex',
    file: '/w/a.go',
    line: 10,
    function: 'main.f',
    primitive: 'sync.Mutex',
    method: 'Unlock',
    delayNs: 1e9,
    cumDelayNs: 1e9,
    count: 10,
    share: 0.5,
    lock: true,
    ...over,
  };
}

function reportOf(hotspots: Hotspot[]): Report {
  return { ...emptyReport(), hotspots };
}

const exists = (file: string): string | undefined => (file.startsWith('/w/') ? file : undefined);

describe('buildMarks on the recorded ledger', () => {
  const { marks, unplaced } = buildMarks(fixture('ledger'), { minShare: 0.02, resolve: wsResolve() });
  const file = ws(LEDGER);
  const unlock = marker(LEDGER, 'hot-unlock');
  const lock = lineOf(LEDGER, 'balMu.Lock()');

  it('marks the hot Unlock on the holder side, hottest', () => {
    const m = at(marks, file, unlock).find((x) => x.side === 'holder');
    assert.ok(m, `no holder mark on line ${unlock}: ${JSON.stringify(marks)}`);
    assert.equal(m.heat, 4);
    assert.match(m.text, /^⏱ \S+ (s|ms) waited · \d+% · holder$/);
  });

  it('marks the hot Lock on the waiter side, and the trace on both', () => {
    const waiter = at(marks, file, lock).find((x) => x.side === 'waiter');
    assert.ok(waiter, `no waiter mark on line ${lock}`);
    assert.match(waiter.text, /waited · \d+% · waiter$/);
    assert.match(at(marks, file, lock).find((x) => x.side === 'trace')?.text ?? '', /blocked · \d+% · trace$/);
    assert.match(at(marks, file, unlock).find((x) => x.side === 'trace')?.text ?? '', /blocked others · \d+% · trace$/);
    assert.equal(at(marks, file, lock).filter((x) => x.side === 'holder').length, 0);
    assert.equal(at(marks, file, unlock).filter((x) => x.side === 'waiter').length, 0);
  });

  it('shows the select wait as an other wait, never as contention, after every lock mark', () => {
    const other = marks.filter((m) => m.side === 'other');
    assert.ok(other.length > 0);
    for (const m of other) {
      assert.match(m.text, /^⏱ \S+ (s|ms|µs) in select$/);
      assert.doesNotMatch(m.text, /contention|holder|waiter/);
    }
    const firstOther = marks.findIndex((m) => m.side === 'other');
    assert.ok(
      marks.slice(firstOther).every((m) => m.side === 'other'),
      'lock marks must come first',
    );
  });

  it('keeps one mark per line and side, and places every path', () => {
    const keys = marks.map((m) => `${m.file}:${m.line}:${m.side}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual(unplaced, []);
  });
});

describe('buildMarks and the root goroutine', () => {
  it('does not draw a test function parked in wg.Wait, nor the wg.Done that released it', () => {
    const r = fixture('testwait');
    const { marks } = buildMarks(r, { minShare: 0, resolve: wsResolve() });
    const file = ws(TESTWAIT);
    const wait = marker(TESTWAIT, 'test-wait');
    // The report does carry it: the trace keeps the test's wait, with lock false.
    assert.ok(r.hotspots.some((h) => h.line === wait && !h.lock && h.primitive === 'sync.WaitGroup'));
    assert.deepEqual(at(marks, file, wait), []);
    assert.deepEqual(
      marks.filter((m) => m.side === 'other'),
      [],
      'the workers wg.Done released only the root wait',
    );
    assert.ok(at(marks, file, marker(TESTWAIT, 'test-lock')).some((m) => m.side === 'waiter'));
    assert.ok(at(marks, file, marker(TESTWAIT, 'test-unlock')).some((m) => m.side === 'holder'));
  });

  it('recognises main through the stack when main.main calls it (a harness renamed it realMain)', () => {
    const resolve = wsResolve({ substitutePath: [{ from: ws('testdata/handoff'), to: 'handoff' }] });
    const r = fixture('handoff-trace');
    const { marks, unplaced } = buildMarks(r, { minShare: 0, resolve });
    assert.deepEqual(unplaced, []);
    assert.deepEqual(
      marks.filter((m) => m.side === 'other'),
      [],
    );
    assert.ok(at(marks, ws(HANDOFF), marker(HANDOFF, 'chain-holder')).some((m) => m.side === 'trace'));
  });

  it('still draws a worker goroutine waiting on a channel', () => {
    const r = reportOf([
      hotspot({ kind: 'block', primitive: 'chan', method: 'recv', lock: false, function: 'main.worker', share: 0.3 }),
    ]);
    const { marks } = buildMarks(r, { minShare: 0, resolve: exists });
    assert.equal(marks.length, 1);
    assert.equal(marks[0].side, 'other');
    assert.equal(marks[0].text, '⏱ 1.0 s in chan receive');
  });
});

describe('buildMarks edge cases', () => {
  it('lists unplaced report paths once each, and draws nothing it cannot place', () => {
    const { marks, unplaced } = buildMarks(fixture('ledger'), { minShare: 0, resolve: () => undefined });
    assert.deepEqual(marks, []);
    assert.deepEqual(unplaced, [ws(LEDGER)]);
    const trace = buildMarks(fixture('handoff-trace'), { minShare: 0, resolve: wsResolve() });
    assert.deepEqual(trace.unplaced, ['handoff/main.go']);
  });

  it('leaves out marks below minShare', () => {
    const r = fixture('rwcache');
    const all = buildMarks(r, { minShare: 0, resolve: wsResolve() }).marks;
    const some = buildMarks(r, { minShare: 0.5, resolve: wsResolve() }).marks;
    assert.ok(
      all.some((m) => m.share < 0.5) && some.length > 0,
      'the rwcache run has lines of a small share (the writer behind the readers) and of a large one',
    );
    assert.deepEqual(
      some,
      all.filter((m) => m.share >= 0.5),
    );
  });

  it('merges hotspots on one line and side: same kind adds up, other kinds do not', () => {
    const r = reportOf([
      hotspot({ function: 'main.f', delayNs: 2e9, share: 0.2, count: 3 }),
      hotspot({ function: 'main.f.func1', delayNs: 1e9, share: 0.1, count: 4 }),
      hotspot({ kind: 'trace-blocked', function: 'main.f', delayNs: 5e8, share: 0.3, count: 1 }),
      hotspot({ kind: 'trace-blocks', function: 'main.f', delayNs: 7e8, share: 0.4, count: 2 }),
    ]);
    const { marks } = buildMarks(r, { minShare: 0, resolve: exists });
    assert.equal(marks.length, 2);
    const holder = marks.find((m) => m.side === 'holder')!;
    assert.equal(holder.delayNs, 3e9);
    assert.equal(holder.count, 7);
    assert.ok(Math.abs(holder.share - 0.3) < 1e-9);
    assert.equal(holder.heat, 3);
    const trace = marks.find((m) => m.side === 'trace')!;
    assert.equal(trace.delayNs, 7e8);
    assert.equal(trace.share, 0.4);
    assert.match(trace.text, /blocked others/);
  });

  it('skips lines that cannot be placed (0, negative, fractional)', () => {
    const r = reportOf([hotspot({ line: 0 }), hotspot({ line: -3 }), hotspot({ line: 2.5 })]);
    assert.deepEqual(buildMarks(r, { minShare: 0, resolve: exists }).marks, []);
  });

  it('ranks lock sides first, then by delay', () => {
    const r = reportOf([
      hotspot({ kind: 'block', line: 1, lock: false, primitive: 'select', delayNs: 9e9 }),
      hotspot({ kind: 'block', line: 2, delayNs: 1e9 }),
      hotspot({ kind: 'mutex', line: 3, delayNs: 2e8 }),
      hotspot({ kind: 'mutex', line: 4, delayNs: 3e8 }),
    ]);
    assert.deepEqual(
      buildMarks(r, { minShare: 0, resolve: exists }).marks.map((m) => m.line),
      [4, 3, 2, 1],
    );
  });
});

describe('heatOf', () => {
  const rows: [number, number][] = [
    [1, 4],
    [0.5, 4],
    [0.49, 3],
    [0.25, 3],
    [0.1, 2],
    [0.099, 1],
    [0, 1],
  ];
  for (const [share, heat] of rows) {
    it(`share ${share} is heat ${heat}`, () => assert.equal(heatOf(share), heat));
  }
});
