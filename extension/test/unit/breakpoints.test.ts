import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeSet, isDuplicate, pickBreakpoint, wantOf } from '../../src/logic/breakpoints';
import { Breakpoint, BreakpointsResponseBody } from '../../src/logic/report';
import { fixture, marker, ws } from './helpers';

/** bodyFor answers lockscope/breakpoints from a recorded report, as the adapter does for the write at file:line. */
function bodyFor(name: string, file: string, line: number): BreakpointsResponseBody {
  const r = fixture(name);
  return { breakpoints: r.breakpoints.filter((b) => b.forWrite === `${file}:${line}`) };
}

describe('pickBreakpoint on recorded suggestions', () => {
  const LEDGER = 'testdata/ledger/main.go';
  const hot = marker(LEDGER, 'hot-write');
  const ledger = bodyFor('ledger', ws(LEDGER), hot);

  it('picks the stopping breakpoint and the logpoint of a contended write', () => {
    const stop = pickBreakpoint(ledger, 'contended', 'stop');
    assert.ok('bp' in stop);
    assert.equal(stop.bp.line, hot);
    assert.equal(stop.bp.logMessage, undefined);
    assert.match(stop.bp.condition, /^balMu\.mu\.state >> 3 >= \d+$/);
    const log = pickBreakpoint(ledger, 'contended', 'log');
    assert.ok('bp' in log);
    assert.match(log.bp.logMessage ?? '', /goroutines wait for balMu/);
  });

  it('says what it offers instead when the kind asked for does not fit', () => {
    const r = pickBreakpoint(ledger, 'secondWriter', 'stop');
    assert.ok('reason' in r);
    assert.match(
      r.reason,
      /suggests no "break on the second writer" breakpoint for this line; it suggests: stop when \d+ or more goroutines wait for balMu; log when/,
    );
  });

  it('picks the second-writer breakpoint of an unguarded write, and refuses a logpoint there', () => {
    const CRASHMAP = 'testdata/crashmap/main.go';
    const body = bodyFor('crashmap', ws(CRASHMAP), marker(CRASHMAP, 'crash-hit'));
    const stop = pickBreakpoint(body, 'secondWriter', 'stop');
    assert.ok('bp' in stop);
    assert.match(stop.bp.condition, /\.writing != 0$/);
    assert.ok('reason' in pickBreakpoint(body, 'secondWriter', 'log'));
    assert.ok('reason' in pickBreakpoint(body, 'contended', 'stop'));
  });

  it('classifies every recorded suggestion as one of the two recipes', () => {
    for (const name of ['ledger', 'crashmap', 'rwcache', 'racymap', 'handoff']) {
      for (const bp of fixture(name).breakpoints) {
        assert.notEqual(wantOf(bp), undefined, `${name}: ${bp.label}`);
      }
    }
  });

  it("passes the adapter's reason through, and explains an empty answer", () => {
    const reason = 'no breakpoint for main.go:9: the map m cannot be evaluated by Delve at that line';
    assert.deepEqual(pickBreakpoint({ breakpoints: [], reason }, 'contended', 'stop'), { reason });
    const empty = pickBreakpoint({ breakpoints: [] }, 'contended', 'stop');
    assert.ok('reason' in empty);
    assert.match(empty.reason, /not a contended or unguarded map write/);
  });

  it('recognises a recipe by its condition when the label is missing (pre-swiss maps too)', () => {
    const bp = (condition: string): Breakpoint => ({
      kind: 'source',
      file: '/w/a.go',
      line: 3,
      function: 'main.f',
      condition,
      hitCondition: '',
      label: '',
      forWrite: '/w/a.go:3',
    });
    assert.equal(wantOf(bp('mu.state >> 3 >= 2')), 'contended');
    assert.equal(wantOf(bp('(*(**"runtime.hmap")(uintptr(&m))).flags & 4 != 0')), 'secondWriter');
    assert.equal(wantOf(bp('x > 3')), undefined);
  });
});

const suggestion: Breakpoint = {
  kind: 'source',
  file: '/work/x/main.go',
  line: 32,
  function: 'main.deposit',
  condition: 'balMu.mu.state >> 3 >= 5',
  hitCondition: '',
  label: 'stop when 5 or more goroutines wait for balMu',
  forWrite: '/work/x/main.go:32',
};

describe('isDuplicate', () => {
  it('finds the same place with the same condition: a second click adds nothing', () => {
    assert.ok(isDuplicate([{ file: '/work/x/main.go', line: 32, condition: 'balMu.mu.state >> 3 >= 5' }], suggestion));
    assert.ok(
      isDuplicate(
        [{ file: '/work/x/main.go', line: 32, condition: ' balMu.mu.state >> 3 >= 5 ', hitCondition: '' }],
        suggestion,
      ),
    );
  });

  it('tells apart another line, another condition, a logpoint, a hit condition', () => {
    const base = { file: '/work/x/main.go', line: 32, condition: suggestion.condition };
    assert.ok(!isDuplicate([{ ...base, line: 33 }], suggestion));
    assert.ok(!isDuplicate([{ ...base, condition: 'balMu.mu.state >> 3 >= 2' }], suggestion));
    assert.ok(!isDuplicate([{ ...base, logMessage: '{x}' }], suggestion));
    assert.ok(!isDuplicate([{ ...base, hitCondition: '> 3' }], suggestion));
    assert.ok(!isDuplicate([{ ...base, file: '/work/y/main.go' }], suggestion));
    assert.ok(!isDuplicate([{ functionName: 'main.deposit', condition: suggestion.condition }], suggestion));
    assert.ok(!isDuplicate([], suggestion));
  });

  it('compares Windows paths whatever the separators and drive-letter case, and maps report paths', () => {
    const win = { ...suggestion, file: 'C:\\work\\x\\main.go' };
    assert.ok(isDuplicate([{ file: 'c:/work/x/main.go', line: 32, condition: win.condition }], win));
    const resolve = (f: string): string | undefined => (f === '/build/main.go' ? '/work/x/main.go' : undefined);
    const remote = { ...suggestion, file: '/build/main.go' };
    assert.ok(isDuplicate([{ file: '/work/x/main.go', line: 32, condition: remote.condition }], remote, resolve));
  });

  it('matches function breakpoints by name', () => {
    const fn: Breakpoint = { ...suggestion, kind: 'function', file: '', line: 0 };
    assert.ok(isDuplicate([{ functionName: 'main.deposit', condition: fn.condition }], fn));
    assert.ok(!isDuplicate([{ file: '', line: 0, condition: fn.condition }], fn));
  });
});

describe('describeSet', () => {
  it("says what was set in the recipe's own words, with short paths", () => {
    assert.equal(
      describeSet(suggestion),
      'Breakpoint set at main.go:32: stop when 5 or more goroutines wait for balMu.',
    );
    assert.equal(
      describeSet({ ...suggestion, logMessage: '{n}', label: 'log when 5 or more goroutines wait for balMu' }),
      'Logpoint set at main.go:32: log when 5 or more goroutines wait for balMu.',
    );
    const writer = {
      ...suggestion,
      label: 'stop when another goroutine is writing hits at the same moment (unguarded write at /work/x/main.go:32)',
    };
    assert.equal(
      describeSet(writer),
      'Breakpoint set at main.go:32: stop when another goroutine is writing hits at the same moment (unguarded write at main.go:32).',
    );
    assert.equal(describeSet({ ...suggestion, label: '' }), 'Breakpoint set at main.go:32.');
  });
});
