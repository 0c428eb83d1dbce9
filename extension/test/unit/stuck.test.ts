import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hoverMarkdown } from '../../src/logic/hover';
import { buildMarks } from '../../src/logic/marks';
import { Report, emptyReport } from '../../src/logic/report';
import { deadlockOf, stuckHover, stuckLines } from '../../src/logic/stuck';
import { TreeNode, buildTree } from '../../src/logic/tree';
import { fixture, marker, ws, wsResolve } from './helpers';

// The deadlock fixture is a real report of testdata/stuck/deadlock (see
// scripts/gen-fixtures.sh): transfer holds a and waits for b, audit holds b
// and waits for a. Goroutine ids differ from run to run, so the tests read
// them from the report and name lines by marker.
const PROG = 'testdata/stuck/deadlock/main.go';
const file = ws(PROG);
const resolve = wsResolve();

function ids(r: Report): { transfer: number; audit: number } {
  const g = (fn: string): number => {
    const w = r.stuck.find((s) => s.function === fn);
    assert.ok(w, `no stuck wait in ${fn}: ${JSON.stringify(r.stuck.map((s) => s.function))}`);
    return w.goroutine;
  };
  return { transfer: g('main.transfer'), audit: g('main.audit') };
}

describe('stuck waits and deadlocks on the recorded deadlock', () => {
  const r = fixture('deadlock');
  const g = ids(r);
  const lockA = marker(PROG, 'transfer-lock-a');
  const waitB = marker(PROG, 'transfer-lock-b');
  const lockB = marker(PROG, 'audit-lock-b');
  const waitA = marker(PROG, 'audit-lock-a');

  it('finds both waits inside the one cycle', () => {
    assert.equal(r.deadlocks.length, 1);
    assert.equal(r.stuck.length, 2);
    for (const w of r.stuck) {
      assert.equal(deadlockOf(r, w), r.deadlocks[0]);
    }
  });

  it('marks each waiting line and the Lock line of its holder, once each', () => {
    const lines = stuckLines(r, resolve);
    const at = (line: number, role: string): string | undefined =>
      lines.find((l) => l.file === file && l.line === line && l.role === role)?.text;
    assert.equal(
      at(waitB, 'waits'),
      `⛔ deadlock · goroutine ${g.transfer} waits for b for good · held by goroutine ${g.audit}`,
    );
    assert.equal(
      at(waitA, 'waits'),
      `⛔ deadlock · goroutine ${g.audit} waits for a for good · held by goroutine ${g.transfer}`,
    );
    assert.equal(
      at(lockB, 'locked'),
      `⛔ deadlock · goroutine ${g.audit} took b here and holds it; goroutine ${g.transfer} waits at main.go:${waitB}`,
    );
    assert.match(at(lockA, 'locked') ?? '', new RegExp(`goroutine ${g.transfer} took a here`));
    assert.equal(lines.length, 4, JSON.stringify(lines));
    assert.ok(lines.every((l) => l.kind === 'deadlock'));
  });

  it('draws the marks at full heat, whatever the minimum share, in place of the trace hotspots on those lines', () => {
    const withTrace: Report = {
      ...r,
      hotspots: [
        {
          kind: 'trace-blocked',
          file,
          line: waitB,
          function: 'main.transfer',
          primitive: 'sync.Mutex',
          method: 'Lock',
          delayNs: 7.5e8,
          cumDelayNs: 7.5e8,
          count: 1,
          share: 1,
          lock: true,
          openWaits: 1,
          stillWaitingNs: 7.5e8,
        },
      ],
    };
    const { marks } = buildMarks(withTrace, { minShare: 0.5, resolve });
    // The stuck marks stay whatever the minimum share.
    assert.equal(buildMarks(r, { minShare: 1, resolve }).marks.length, 4);
    const onB = marks.filter((m) => m.line === waitB);
    assert.equal(onB.length, 1, JSON.stringify(onB));
    assert.equal(onB[0].side, 'waiter');
    assert.equal(onB[0].heat, 4);
    assert.equal(onB[0].stuck, 'deadlock');
    const onLock = marks.find((m) => m.line === lockB)!;
    assert.equal(onLock.side, 'holder');
    assert.ok(
      marks.slice(0, 4).every((m) => m.stuck),
      'the stuck marks come first',
    );
  });

  it('says in the hover who waits here, who holds the lock and where it was taken', () => {
    const md = hoverMarkdown(r, file, waitB, resolve)!;
    assert.ok(md, 'no hover on the waiting line');
    const plain = md.replace(/\\(.)/g, '$1');
    assert.ok(
      plain.includes(
        `**Deadlock**: goroutine ${g.transfer} waits for b here for good; held by goroutine ${g.audit}, ` +
          `locked at [main.go:${lockB}](file://${file}#L${lockB}) (audit), ` +
          `now waiting at [main.go:${waitA}](file://${file}#L${waitA}) (sync.Mutex.Lock)`,
      ),
      plain,
    );
    assert.match(plain, /The cycle: goroutine \d+ holds a \(\[main\.go:\d+\]\(file:\/\/\S+#L\d+\)\) and waits for b/);
    // The headline comes before anything else the line has.
    assert.ok(plain.indexOf('**Deadlock**') < plain.indexOf('The cycle'));

    const held = stuckHover(r, file, lockB, resolve);
    assert.equal(
      held[0],
      `Deadlock: goroutine ${g.audit} took b here and still holds it; goroutine ${g.transfer} waits for it at main.go:${waitB} for good.`,
    );
    assert.deepEqual(stuckHover(r, file, marker(PROG, 'main-wait'), resolve), []);
  });

  it('puts a "Deadlocks and stuck waits" group first, the cycle with its links that open their lines', () => {
    const tree = buildTree(r, resolve, []);
    assert.equal(tree[0].id, 'group:stuck');
    assert.equal(tree[0].label, 'Deadlocks and stuck waits');
    assert.equal(tree[0].description, '1 deadlock');
    const [cycle] = tree[0].children!;
    assert.equal(cycle.contextValue, 'deadlock');
    assert.equal(
      cycle.label,
      `Deadlock: goroutine ${r.deadlocks[0].goroutines.join(' → ')} → ${r.deadlocks[0].goroutines[0]}`,
    );
    assert.match(cycle.description ?? '', /^(a ↔ b|b ↔ a) · every goroutine blocked$/);
    assert.equal(cycle.tooltip, `${cycle.label}\n${r.deadlocks[0].text}`);
    const links = cycle.children!.map((c: TreeNode) => [c.label, c.line]);
    assert.deepEqual(
      links.filter(([label]) => String(label).startsWith(`goroutine ${g.transfer} `)),
      [
        [`goroutine ${g.transfer} waits for b at main.go:${waitB}`, waitB],
        [`goroutine ${g.transfer} holds a, locked at main.go:${lockA}`, lockA],
      ],
    );
    assert.ok(cycle.children!.every((c) => c.file === file));
  });
});

describe('stuck waits outside a cycle', () => {
  const r = fixture('deadlock');
  // One wait of the real report, alone: a lock held by a goroutine that
  // waits on something else (no cycle), for 3 s so far.
  const w = { ...r.stuck[0], forever: false, waitNs: 3e9 };
  const holder = { ...w.holders[0], state: 'chan receive', waitsAt: undefined };
  delete (holder as { waitsAt?: unknown }).waitsAt;
  const alone: Report = { ...emptyReport(), stuck: [{ ...w, holders: [holder] }] };

  it('is a stuck wait, not a deadlock, with how long it has waited', () => {
    const [l] = stuckLines(alone, resolve);
    assert.equal(l.kind, 'stuck');
    assert.match(l.text, /^⏳ stuck · goroutine \d+ waits for b for 3\.0 s · held by goroutine \d+$/);
    const h = stuckHover(alone, file, w.line, resolve);
    assert.match(
      h[0],
      /^Stuck wait: goroutine \d+ waits for b here for 3\.0 s; held by goroutine \d+, locked at main\.go:\d+ \(audit\), now chan receive\.$/,
    );
    assert.equal(h.length, 1, 'no cycle line without a cycle');
  });

  it('is listed in the group, with its holder, and says when no holder is seen', () => {
    const tree = buildTree(alone, resolve, []);
    assert.equal(tree[0].id, 'group:stuck');
    assert.equal(tree[0].description, '1 stuck');
    const [n] = tree[0].children!;
    assert.equal(n.contextValue, 'stuck');
    assert.match(n.description ?? '', /^3\.0 s · held by goroutine \d+$/);
    assert.match(n.children![0].label, /^held by goroutine \d+, locked at main\.go:\d+/);
    const none = buildTree({ ...alone, stuck: [{ ...w, holders: [] }] }, resolve, []);
    assert.match(none[0].children![0].description ?? '', /holder not seen/);
    assert.match(none[0].children![0].tooltip ?? '', /no goroutine is seen holding it/);
  });

  it('links the places of the hover, but none that two files share', () => {
    const at = holder.lockedAt.line;
    const one = hoverMarkdown({ ...emptyReport(), stuck: [{ ...w, holders: [holder] }] }, file, w.line, resolve)!;
    assert.ok(one.includes(`](file://${file}#L${at})`), one);
    // Another program's main.go, with a wait on the same line number.
    const elsewhere = { ...w, goroutine: 99, file: '/elsewhere/main.go', line: at, holders: [] };
    const two = hoverMarkdown(
      { ...emptyReport(), stuck: [elsewhere, { ...w, holders: [holder] }] },
      file,
      w.line,
      resolve,
    )!;
    assert.ok(!two.includes(`#L${at})`), two);
    assert.ok(two.includes(`locked at main\\.go:${at}`), two);
  });

  it('names the writers a read lock waits behind', () => {
    const reader = { ...w, reason: 'sync.RWMutex.RLock', primitive: 'sync.RWMutex', holders: [holder] };
    const writer = { goroutine: 42, file: w.file, line: 7, function: 'main.refresh' };
    const h = stuckHover({ ...emptyReport(), stuck: [{ ...reader, pendingWriters: [writer] }] }, file, w.line, resolve);
    assert.match(h[0], /waits for b here for 3\.0 s, behind goroutine 42 in Lock at main\.go:7; held by goroutine \d+/);
  });

  it('gives no group and no marks when nothing is stuck', () => {
    const ledger = fixture('ledger');
    assert.ok(!buildTree(ledger, resolve, []).some((n) => n.id === 'group:stuck'));
    assert.deepEqual(stuckLines(ledger, resolve), []);
  });
});
