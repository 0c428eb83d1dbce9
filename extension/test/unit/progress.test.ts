import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKnownProgressLine, parseAnalyzeProgress } from '../../src/logic/progress';
import { fixtureText } from './helpers';

describe('parseAnalyzeProgress', () => {
  const rows: [string, string | undefined][] = [
    ['lockscope: building ./testdata/ledger', 'Building ./testdata/ledger…'],
    ['lockscope: running ./testdata/ledger (pid 10224) for 2s', 'Running ./testdata/ledger for 2s…'],
    ['lockscope: running ./cmd/server (pid 7) until it ends\r\n', 'Running ./cmd/server until it ends…'],
    ['lockscope: program stopped by lockscope after 2s after 2.04s', 'Stopped the program after 2s; analysing…'],
    ['lockscope: program stopped by lockscope on interrupt after 1.2s', 'Stopped the program on interrupt; analysing…'],
    ['lockscope: program exited (status 2) after 60ms', 'Program exited (status 2) after 60ms; analysing…'],
    ['lockscope: read a 0.3 MB trace in 16ms', 'Read a 0.3 MB trace'],
    ['lockscope: the program crashed; the crash is in the report', 'The program crashed; the crash is in the report'],
    ['lockscope: the race detector reported 1 race(s)', 'The race detector reported 1 race'],
    ['lockscope: the race detector reported 3 race(s)', 'The race detector reported 3 races'],
    ['lockscope: building the tests of ./pkg', 'Building the tests of ./pkg…'],
    ['lockscope: running the tests', 'Running the tests…'],
    ['lockscope: tests exited (status 1) after 40ms', 'Tests exited (status 1) after 40ms; analysing…'],
    [
      'lockscope: capturing 5s from http://127.0.0.1:6060/debug/pprof',
      'Capturing 5 s from http://127.0.0.1:6060/debug/pprof…',
    ],
    ['lockscope: something new', 'Something new'],
    ['lockscope: read a 1.5 MB trace in 30ms\n', 'Read a 1.5 MB trace'],
    ['lockscope analyze: building ./x failed (go build)', undefined],
    ['fatal error: concurrent map writes', undefined],
    ['accounts: 3', undefined],
    ['lockscope: ', undefined],
    ['', undefined],
  ];
  for (const [line, want] of rows) {
    it(`${JSON.stringify(line)} → ${JSON.stringify(want)}`, () => assert.equal(parseAnalyzeProgress(line), want));
  }

  it("turns every progress line of real runs into a known message, and the programs' output into nothing", () => {
    for (const name of ['ledger', 'crashmap', 'racymap', 'testwait', 'handoff-trace']) {
      const lines = fixtureText(`${name}.stderr.txt`).split('\n');
      const progress = lines.filter((l) => l.startsWith('lockscope: '));
      assert.ok(progress.length > 0, name);
      for (const l of lines) {
        const msg = parseAnalyzeProgress(l);
        if (l.startsWith('lockscope: ')) {
          assert.ok(msg, l);
          assert.ok(isKnownProgressLine(l), `no rule for ${l}`);
        } else {
          assert.equal(msg, undefined, l);
        }
      }
    }
  });
});
