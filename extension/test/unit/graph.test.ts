import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Graph, LineReader, buildGraph, edgeWidth, graphView, lockExpr } from '../../src/logic/graph';
import { webviewHtml } from '../../src/logic/webviewHtml';
import { fixture, lineOf, marker, repoRoot, ws } from './helpers';

/** The fixtures whose graphs internal/graph's TestGoldens records (graph_test.go's list). */
const FIXTURES = [
  'handoff',
  'handoff-trace',
  'ledger',
  'ledger-trimpath',
  'rwcache',
  'testwait',
  'inversion',
  'crashmap',
  'deadlock',
];

/**
 * fixtureLines reads source lines as internal/graph's test does: /workspace
 * and the module path (-trimpath profiles) are the checkout.
 */
function fixtureLines(): LineReader {
  const cache = new Map<string, string[] | undefined>();
  return (file, line) => {
    if (!cache.has(file)) {
      let p: string | undefined;
      for (const prefix of ['/workspace/', 'github.com/lockscope/lockscope/']) {
        if (file.startsWith(prefix)) {
          p = path.join(repoRoot(), file.slice(prefix.length));
        }
      }
      cache.set(file, p && fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n') : undefined);
    }
    return cache.get(file)?.[line - 1];
  };
}

function golden(name: string): Graph {
  const p = path.join(repoRoot(), 'internal', 'graph', 'testdata', `${name}.graph.json`);
  return JSON.parse(fs.readFileSync(p, 'utf8')) as Graph;
}

describe('the waits-for graph agrees with internal/graph (Go) on every fixture', () => {
  for (const name of FIXTURES) {
    it(name, () => {
      assert.deepStrictEqual(buildGraph(fixture(name), fixtureLines()), golden(name));
    });
  }
  it('covers every golden Go wrote', () => {
    const dir = path.join(repoRoot(), 'internal', 'graph', 'testdata');
    const goldens = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.graph.json'))
      .map((f) => f.slice(0, -'.graph.json'.length));
    assert.deepEqual([...goldens].sort(), [...FIXTURES].sort());
  });
});

describe('buildGraph', () => {
  const INV = 'internal/graph/testdata/inversion/main.go';
  const id = (rel: string, line: number): string => `${ws(rel)}:${line}`;

  it('marks the lock-order inversion: the four Lock lines of both orders, and the two edges between them', () => {
    const g = buildGraph(fixture('inversion'), fixtureLines());
    const m = (name: string): string => id(INV, marker(INV, name));
    assert.deepEqual(g.cycles, [
      { locks: ['accountsMu', 'ordersMu'], nodes: [m('ab-first'), m('ab-second'), m('ba-first'), m('ba-second')] },
    ]);
    assert.deepEqual(
      g.edges.filter((e) => e.cycle).map((e) => [e.from, e.to]),
      [
        [m('ab-first'), m('ab-second')],
        [m('ba-first'), m('ba-second')],
      ],
    );
    const audit = g.edges.find((e) => e.from === m('ab-second') && e.to === m('audit-orders-unlock'));
    assert.ok(audit && !audit.cycle && audit.waitNs > 0, 'the audit releases ordersMu to ab-second, outside the cycle');
  });

  it('reads a chain as a path, each hop carrying the wait of the chain that starts there', () => {
    const H = 'testdata/handoff/main.go';
    const r = fixture('handoff');
    const g = buildGraph(r, fixtureLines());
    const m = (name: string): string => id(H, marker(H, name));
    const path3 = ['chain-waiter', 'chain-middle', 'chain-last-wait', 'chain-holder'].map(m);
    for (let i = 0; i + 1 < path3.length; i++) {
      const e = g.edges.find((x) => x.from === path3[i] && x.to === path3[i + 1]);
      const starts = r.chains.filter((c) => `${c.links[0].file}:${c.links[0].line}` === path3[i]);
      assert.ok(e, `edge ${i}`);
      assert.equal(
        e.waitNs,
        starts.reduce((s, c) => s + c.waitNs, 0),
      );
    }
    assert.deepEqual(
      g.nodes.map((n) => n.lock),
      ['vaultMu', 'ledgerMu', 'auditMu', 'auditMu'],
    );
    assert.equal(g.nodes[3].role, 'holds');
  });

  it('needs the lock names to tell a queue: readers behind a queued writer of c.mu are no edge', () => {
    const RW = 'testdata/rwcache/main.go';
    const r = fixture('rwcache');
    const get = id(RW, lineOf(RW, 'c.mu.RLock()'));
    const refresh = id(RW, lineOf(RW, 'c.mu.Lock()'));
    const named = buildGraph(r, fixtureLines());
    const unnamed = buildGraph(r);
    const node = named.nodes.find((n) => n.id === get);
    assert.equal(node?.lock, 'c.mu');
    assert.ok(node.queueNs > 0 && node.queueCount > 0);
    assert.equal(
      named.edges.find((e) => e.from === get && e.to === refresh),
      undefined,
    );
    assert.equal(unnamed.edges.find((e) => e.from === get && e.to === refresh)?.waitNs, node.queueNs);
  });

  it('pairs the profiles by lock when there is no trace, splitting each wait over the holders', () => {
    const r = fixture('inversion');
    r.chains = [];
    const g = buildGraph(r, fixtureLines());
    assert.ok(g.edges.length > 0);
    assert.ok(g.edges.every((e) => e.source === 'profiles' && !e.cycle));
    for (const n of g.nodes.filter((x) => x.role === 'waits')) {
      const out = g.edges.filter((e) => e.from === n.id).reduce((s, e) => s + e.waitNs, 0);
      assert.ok(Math.abs(out - n.waitNs) <= 4, `${n.id}: ${out} ns on its edges, ${n.waitNs} ns waited`);
    }
    assert.deepEqual(g.cycles, []);
  });

  it("draws the report's deadlock as a ring of its waiting lines, named by the locks they wait for", () => {
    const DL = 'testdata/stuck/deadlock/main.go';
    const r = fixture('deadlock');
    const waitB = id(DL, marker(DL, 'transfer-lock-b'));
    const waitA = id(DL, marker(DL, 'audit-lock-a'));
    // Without the source the ring is named by the report's own lock names.
    for (const lines of [fixtureLines(), undefined]) {
      const g = buildGraph(r, lines);
      assert.deepEqual(g.cycles, [{ locks: ['a', 'b'], nodes: [waitB, waitA], deadlock: true }]);
      for (const [from, to] of [
        [waitB, waitA],
        [waitA, waitB],
      ]) {
        const e = g.edges.find((x) => x.from === from && x.to === to);
        assert.deepEqual(e, { from, to, waitNs: 0, count: 0, source: 'deadlock', cycle: true });
      }
      assert.deepEqual(
        g.nodes.map((n) => [n.id, n.lock, n.method, n.role, n.cycle]),
        [
          [waitB, 'b', 'Lock', 'waits', true],
          [waitA, 'a', 'Lock', 'waits', true],
        ],
      );
    }
    const view = graphView(buildGraph(r, fixtureLines()));
    assert.ok(
      view.legend.includes('Deadlock: a ⇄ b (2 lines). Each goroutine waits for good for a lock the next one holds.'),
    );
    assert.ok(view.edges.every((e) => e.cycle && e.label === 'deadlock' && /: a deadlock$/.test(e.title)));
  });

  it('makes a goroutine that waits for a lock it holds a ring of one', () => {
    const r = fixture('deadlock');
    const [first] = r.deadlocks[0].links;
    const g = buildGraph({ ...r, deadlocks: [{ ...r.deadlocks[0], links: [first] }] });
    const at = `${first.waitsAt.file}:${first.waitsAt.line}`;
    assert.deepEqual(g.cycles, [{ locks: [first.waitsFor], nodes: [at], deadlock: true }]);
    assert.deepEqual(
      g.edges.map((e) => [e.from, e.to, e.cycle]),
      [[at, at, true]],
    );
  });

  it('draws nothing for a report without lock waits', () => {
    assert.deepEqual(buildGraph(fixture('crashmap'), fixtureLines()), { nodes: [], edges: [], cycles: [] });
  });
});

describe('lockExpr (the same table as internal/graph TestLockExpr)', () => {
  const cases: [string, string, string][] = [
    ['\tvaultMu.Lock() // lockscope:chain-waiter', 'Lock', 'vaultMu'],
    ['\tdefer c.mu.RUnlock()', 'RUnlock', 'c.mu'],
    ['\ts.Lock(); t.mu.Lock()', 'Lock', 's'],
    ['\tif !a.b.mu.TryLock() {', 'TryLock', 'a.b.mu'],
    ['\tx.mu.Unlock(); y.mu.Lock()', 'Lock', 'y.mu'],
    ['\tx.mu.Unlock(); y.mu.Lock()', 'RLock', 'x.mu'],
    ['\twg.Wait()', 'Wait', ''],
    ['\t// mu.Lock() in a comment', 'Lock', ''],
    ['\tmu.Locker()', 'Lock', ''],
  ];
  for (const [text, method, want] of cases) {
    it(`${JSON.stringify(text)} ${method} → ${JSON.stringify(want)}`, () => {
      assert.equal(lockExpr(text, method), want);
    });
  }
});

describe('graphView (what the panel draws)', () => {
  const H = 'testdata/handoff/main.go';

  it('writes each node as lock and method, function and place, and its times', () => {
    const v = graphView(buildGraph(fixture('handoff'), fixtureLines()));
    const waiter = v.nodes.find((n) => n.line === marker(H, 'chain-waiter'));
    assert.ok(waiter);
    assert.equal(waiter.lines[0], 'vaultMu.Lock()');
    assert.equal(waiter.lines[1], `withdraw · main.go:${marker(H, 'chain-waiter')}`);
    assert.match(waiter.lines[2], /^waited \d/);
    assert.equal(waiter.file, ws(H), 'the node opens the report path, resolved by lockscope.openLocation');
    const holder = v.nodes.find((n) => n.line === marker(H, 'chain-holder'));
    assert.equal(holder?.role, 'holds');
    assert.match(holder.lines[2], /^made others wait \d/);
    assert.equal(v.empty, undefined);
  });

  it('scales widths from 1 to 10 by wait, and says what the cycle is', () => {
    const g = buildGraph(fixture('inversion'), fixtureLines());
    const v = graphView(g);
    const max = Math.max(...g.edges.map((e) => e.waitNs));
    v.edges.forEach((e, i) => {
      assert.equal(e.width, g.edges[i].waitNs === max ? 10 : 1 + (9 * g.edges[i].waitNs) / max);
      assert.equal(e.cycle, g.edges[i].cycle === true);
    });
    assert.ok(v.legend.some((l) => l.startsWith('Lock-order cycle: accountsMu ⇄ ordersMu')));
    assert.ok(v.nodes.filter((n) => n.cycle).length === 4);
  });

  it('labels an edge with no time of its own (a later hop of a chain) with no text, and a width of 1', () => {
    assert.equal(edgeWidth({ from: 'a', to: 'b', waitNs: 0, count: 0, source: 'trace' }, 100), 1);
    const v = graphView({
      nodes: [],
      edges: [{ from: 'a:1', to: 'b:2', waitNs: 0, count: 0, source: 'trace' }],
      cycles: [],
    });
    assert.equal(v.edges[0].label, '');
    assert.match(v.edges[0].title, /no wait of its own/);
  });

  it('says when there is nothing to draw, and names unnamed locks by their primitive', () => {
    assert.equal(graphView(buildGraph(fixture('crashmap'))).empty, 'No lock waits in this report.');
    const unnamed = graphView(buildGraph(fixture('handoff')));
    assert.equal(unnamed.nodes[0].lines[0], 'sync.Mutex.Lock');
  });
});

describe('webviewHtml (the panel page and its Content-Security-Policy)', () => {
  const page = webviewHtml({
    title: 'Blocking Graph',
    nonce: 'n0Nc3==',
    cspSource: 'https://file+.vscode-resource.example',
    scriptUri: 'https://file+.vscode-resource.example/dist/graphView.js',
    styleUri: 'https://file+.vscode-resource.example/extension/media/graph.css',
    body: '<div id="graph"></div>',
  });
  const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(page)?.[1] ?? '';

  it('allows nothing by default, the script by nonce only, and no inline style, eval or network', () => {
    const rules = new Map(
      csp
        .split(';')
        .map((r) => r.trim().split(/\s+/))
        .map(([k, ...v]) => [k, v]),
    );
    assert.deepEqual(rules.get('default-src'), ["'none'"]);
    assert.deepEqual(rules.get('script-src'), ["'nonce-n0Nc3=='"]);
    assert.deepEqual(rules.get('style-src'), ['https://file+.vscode-resource.example']);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:\/\/\*|connect-src/);
  });

  it('loads exactly one script, carrying the nonce, and no inline style', () => {
    const scripts = [...page.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    assert.deepEqual(scripts, [' nonce="n0Nc3==" src="https://file+.vscode-resource.example/dist/graphView.js"']);
    assert.doesNotMatch(page, /<style|style="/);
  });
});
