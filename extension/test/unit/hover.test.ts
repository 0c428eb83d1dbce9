import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeMarkdown, hoverMarkdown } from '../../src/logic/hover';
import { Report, emptyReport } from '../../src/logic/report';
import { fixture, lineOf, marker, ws, wsResolve } from './helpers';

const LEDGER = 'testdata/ledger/main.go';
const CRASHMAP = 'testdata/crashmap/main.go';

/** commandArgs finds a command link in markdown and decodes its arguments. */
function commandArgs(md: string, command: string): unknown {
  const m = new RegExp(`\\(command:${command.replace('.', '\\.')}\\?([^)\\s]+)\\)`).exec(md);
  assert.ok(m, `no ${command} link in:\n${md}`);
  return JSON.parse(decodeURIComponent(m[1]));
}

describe('hoverMarkdown on the recorded ledger', () => {
  const r = fixture('ledger');
  const resolve = wsResolve();
  const file = ws(LEDGER);

  it('explains the hot Unlock: holder side, primitive, delay, share, count and a linked stack', () => {
    const line = marker(LEDGER, 'hot-unlock');
    const md = hoverMarkdown(r, file, line, resolve)!;
    assert.ok(md);
    assert.match(md, /\*\*Holder side\*\* · sync\\\.Mutex\\\.Unlock in deposit/);
    assert.match(md, /⏱ \S+ s others waited for this release · \d+% of the lock wait in the mutex profile · [\d,]+×/);
    assert.ok(
      md.includes(`[main\\.go:${line}](file:///workspace/testdata/ledger/main.go#L${line})`),
      `no link to the line in:\n${md}`,
    );
    assert.match(md, /Heaviest stack/);
    assert.match(md, /\*\*Blocking chain\*\*/);
    assert.deepEqual(commandArgs(md, 'lockscope.showChain'), [{ file, line }]);
  });

  it("offers the contended write's actions as command links with [{ file, line }]", () => {
    const line = marker(LEDGER, 'hot-write');
    const md = hoverMarkdown(r, file, line, resolve)!;
    assert.match(md, /\*\*Map write\*\* balances \(opassign\) in deposit, guarded by balMu/);
    assert.match(md, /Contended: .* waiting on average/);
    assert.match(md, /_Suggested: stop when \d+ or more goroutines wait for balMu_/);
    assert.deepEqual(commandArgs(md, 'lockscope.breakWhenContended'), [{ file, line }]);
    assert.deepEqual(commandArgs(md, 'lockscope.logWhenContended'), [{ file, line }]);
    assert.ok(!md.includes('breakOnSecondWriter'));
  });

  it('calls the select wait an other wait, not contention', () => {
    // The audit goroutine's select, below its `for n := 0; ; n++ {`.
    const line = lineOf(LEDGER, 'select {', lineOf(LEDGER, 'for n := 0; ; n++'));
    const h = r.hotspots.find((x) => !x.lock);
    assert.equal(h?.line, line, 'the select wait is charged to its case line');
    const md = hoverMarkdown(r, file, line, resolve)!;
    assert.match(md, /\*\*Other wait, not lock contention\*\* · select/);
    assert.doesNotMatch(md, /holder|waiter|of the block profile/i);
  });

  it('is undefined on a line with nothing, and in a file the report does not name', () => {
    assert.equal(hoverMarkdown(r, file, 1, resolve), undefined);
    assert.equal(hoverMarkdown(r, ws('testdata/crashmap/main.go'), marker(LEDGER, 'hot-unlock'), resolve), undefined);
  });
});

describe('hoverMarkdown on crashes, races and root waits', () => {
  it('names the crash, the other writer with a link, and offers the second-writer breakpoint', () => {
    const r = fixture('crashmap');
    const file = ws(CRASHMAP);
    const line = r.crash!.line;
    const md = hoverMarkdown(r, file, line, wsResolve())!;
    assert.match(md, /\*\*Crashed here\*\*: concurrent map writes \(goroutine \d+\)/);
    const other =
      line === marker(CRASHMAP, 'crash-hit') ? marker(CRASHMAP, 'crash-reset') : marker(CRASHMAP, 'crash-hit');
    assert.ok(md.includes(`[main\\.go:${other}](file:///workspace/testdata/crashmap/main.go#L${other})`), md);
    assert.deepEqual(commandArgs(md, 'lockscope.breakOnSecondWriter'), [{ file, line }]);
  });

  it('names both sides of a data race', () => {
    const file = 'testdata/racymap/main.go';
    const md = hoverMarkdown(fixture('racymap'), ws(file), marker(file, 'racy-record'), wsResolve())!;
    assert.match(md, /\*\*Data race\*\*: write here \(goroutine \d+\) and write at \[main\\\.go:\d+\]\(file:/);
  });

  it("says the test function's wg.Wait is not a hotspot", () => {
    const file = 'testdata/profiles/testwait/wait_test.go';
    const md = hoverMarkdown(fixture('testwait'), ws(file), marker(file, 'test-wait'), wsResolve())!;
    assert.match(md, /TestWorkers waits here in sync\\\.WaitGroup\\\.Wait .*not a hotspot/);
    assert.doesNotMatch(md, /Other wait|Trace\*\*/);
    // Nor is the workers' wg.Done that ended it.
    const done = fixture('testwait').hotspots.find(
      (h) => h.primitive === 'sync.WaitGroup' && h.kind === 'trace-blocks',
    );
    assert.ok(done);
    const doneMd = hoverMarkdown(fixture('testwait'), ws(file), done.line, wsResolve()) ?? '';
    assert.doesNotMatch(doneMd, /\*\*(Trace|Other wait[^*]*)\*\* · sync\\\.WaitGroup/);
    // Its chain is still there, called what it is.
    assert.match(doneMd, /\*\*Wait chain \(root goroutine\)\*\*/);
  });
});

describe('hoverMarkdown escaping and links', () => {
  const report: Report = {
    ...emptyReport(),
    hotspots: [
      {
        kind: 'block',
        file: '/w/a.go',
        line: 7,
        function: 'example.com/x_y.(*Cache[K,V]).Get_*all*',
        primitive: 'sync.RWMutex',
        method: 'RLock',
        delayNs: 2e9,
        cumDelayNs: 2e9,
        count: 3,
        share: 0.5,
        lock: true,
        stacks: [
          [
            { function: 'example.com/x_y.(*Cache[K,V]).Get_*all*', file: '/w/a.go', line: 7 },
            { function: 'example.com/x_y.run`$(flame)`', file: '/build/elsewhere/b.go', line: 40 },
          ],
        ],
      },
    ],
  };
  const resolve = (f: string): string | undefined => (f.startsWith('/w/') ? f : undefined);

  it('escapes function names and links only frames that resolve', () => {
    const md = hoverMarkdown(report, '/w/a.go', 7, resolve)!;
    assert.ok(md.includes('Cache\\[K,V\\]\\.Get\\_\\*all\\*'), md);
    assert.ok(md.includes('run\\`\\$flame\\`'), md);
    assert.doesNotMatch(md, /(^|[^\\])[`$]/, 'every backtick and dollar is escaped');
    assert.ok(md.includes('[a\\.go:7](file:///w/a.go#L7)'));
    assert.ok(md.includes(' b\\.go:40'), 'an unresolvable frame is plain text');
    assert.ok(!md.includes('(file:///build'), md);
  });

  it('escapeMarkdown leaves no markdown syntax and no line breaks', () => {
    assert.equal(escapeMarkdown('main.(*T).f_[x]#1!<b>\nnext'), 'main\\.\\(\\*T\\)\\.f\\_\\[x\\]\\#1\\!\\<b\\> next');
  });
});
