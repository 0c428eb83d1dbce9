import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMarks } from '../../src/logic/marks';
import { Report, emptyReport } from '../../src/logic/report';
import { TreeNode, buildTree } from '../../src/logic/tree';
import { fixture, marker, ws, wsResolve } from './helpers';

const CONTEXT_VALUES = new Set([
  'group',
  'hotspot.holder',
  'hotspot.waiter',
  'hotspot.trace',
  'hotspot.other',
  'chain',
  'link',
  'mapWrite.contended',
  'mapWrite.unguarded',
  'mapWrite',
  'crash',
  'race',
  'unplaced',
  'deadlock',
  'stuck',
]);

function walk(nodes: TreeNode[], f: (n: TreeNode, depth: number) => void, depth = 0): void {
  for (const n of nodes) {
    f(n, depth);
    walk(n.children ?? [], f, depth + 1);
  }
}

function group(tree: TreeNode[], id: string): TreeNode {
  const g = tree.find((n) => n.id === `group:${id}`);
  assert.ok(g, `no group ${id} in ${tree.map((n) => n.id).join(', ')}`);
  return g;
}

function tree(name: string, resolve = wsResolve()): TreeNode[] {
  const r = fixture(name);
  return buildTree(r, resolve, buildMarks(r, { minShare: 0, resolve }).unplaced);
}

describe('buildTree on recorded reports', () => {
  const names = [
    'ledger',
    'crashmap',
    'rwcache',
    'racymap',
    'handoff',
    'testwait',
    'ledger-trimpath',
    'handoff-trace',
    'deadlock',
    'logjam',
    'lrucache',
    'lockedhelpers',
  ];

  it('uses only the known context values and unique ids, in every recorded report', () => {
    for (const name of names) {
      const ids = new Set<string>();
      walk(tree(name), (n, depth) => {
        assert.ok(CONTEXT_VALUES.has(n.contextValue), `${name}: ${n.contextValue}`);
        assert.equal(n.contextValue === 'group', depth === 0, `${name}: groups are the roots, and only they`);
        assert.ok(!ids.has(n.id), `${name}: duplicate id ${n.id}`);
        ids.add(n.id);
        if (n.file !== undefined) {
          assert.ok(n.file.startsWith('/workspace/'), `${name}: ${n.file}`);
          assert.ok(Number.isInteger(n.line) && n.line! >= 1);
        }
      });
    }
  });

  it('lists the ledger by side, hottest first, with share and time in the description', () => {
    const t = tree('ledger');
    assert.deepEqual(
      t.map((n) => n.id),
      ['group:holder', 'group:waiter', 'group:trace', 'group:other', 'group:chains', 'group:mapWrites'],
    );
    const holder = group(t, 'holder').children!;
    assert.equal(holder[0].contextValue, 'hotspot.holder');
    assert.equal(holder[0].line, marker('testdata/ledger/main.go', 'hot-unlock'));
    assert.equal(holder[0].file, ws('testdata/ledger/main.go'));
    assert.match(holder[0].description!, /^\d+% · \S+ s · sync\.Mutex\.Unlock$/);
    assert.equal(group(t, 'waiter').children![0].contextValue, 'hotspot.waiter');
    assert.ok(group(t, 'trace').children!.every((n) => n.contextValue === 'hotspot.trace'));
    assert.ok(group(t, 'other').children!.every((n) => n.contextValue === 'hotspot.other'));
    const trace = group(t, 'trace').children!.map((n) => Number(n.description!.split(' · ')[1].split(' ')[0]));
    assert.ok(trace.length >= 2);
  });

  it('lists map writes contended first, then the rest', () => {
    const writes = group(tree('ledger'), 'mapWrites').children!;
    assert.deepEqual(
      writes.map((w) => [w.contextValue, w.line]),
      [
        ['mapWrite.contended', marker('testdata/ledger/main.go', 'hot-write')],
        ['mapWrite', marker('testdata/ledger/main.go', 'cold-write')],
      ],
    );
  });

  it('expands a chain into its links, first waiter to last holder', () => {
    const chains = group(tree('handoff'), 'chains').children!;
    const f = 'testdata/handoff/main.go';
    const longest = chains.reduce((a, b) => (b.children!.length > a.children!.length ? b : a));
    assert.equal(longest.contextValue, 'chain');
    assert.deepEqual(
      longest.children!.map((l) => [l.contextValue, l.line]),
      [
        ['link', marker(f, 'chain-waiter')],
        ['link', marker(f, 'chain-middle')],
        ['link', marker(f, 'chain-last-wait')],
        ['link', marker(f, 'chain-holder')],
      ],
    );
    assert.equal(longest.label, `withdraw:${marker(f, 'chain-waiter')} → auditor:${marker(f, 'chain-holder')}`);
  });

  it('shows the crash with its other writer, and both unguarded writes', () => {
    const t = tree('crashmap');
    const crash = group(t, 'crash').children![0];
    assert.equal(crash.contextValue, 'crash');
    assert.equal(crash.label, 'concurrent map writes');
    assert.equal(crash.children![0].contextValue, 'link');
    assert.match(crash.children![0].label, /^other writer main\.go:\d+$/);
    assert.deepEqual(
      group(t, 'mapWrites').children!.map((n) => n.contextValue),
      ['mapWrite.unguarded', 'mapWrite.unguarded'],
    );
  });

  it('shows a race with both accesses', () => {
    const race = group(tree('racymap'), 'races').children![0];
    assert.equal(race.contextValue, 'race');
    assert.match(race.label, /^write main\.go:\d+ ↔ write main\.go:\d+$/);
    assert.equal(race.children!.length, 2);
  });

  it('leaves the root goroutine out, but keeps its chain marked as not contention', () => {
    const t = tree('testwait');
    const f = ws('testdata/profiles/testwait/wait_test.go');
    walk(t, (n) => {
      if (n.contextValue.startsWith('hotspot')) {
        assert.ok(!(n.file === f && n.line === marker('testdata/profiles/testwait/wait_test.go', 'test-wait')), n.id);
      }
    });
    assert.ok(!t.some((n) => n.id === 'group:other'));
    assert.ok(group(t, 'chains').children!.some((c) => /root goroutine, not contention/.test(c.description!)));
  });

  it('lists the paths it could not place', () => {
    const t = tree('handoff-trace');
    const g = group(t, 'unplaced');
    assert.deepEqual(
      g.children!.map((n) => [n.label, n.contextValue]),
      [['handoff/main.go', 'unplaced']],
    );
    // Hotspots still show, without a file to open.
    assert.ok(group(t, 'trace').children!.every((n) => n.file === undefined));
  });
});

describe('buildTree ids and edge cases', () => {
  it('keeps ids while the numbers change (the periodic refresh)', () => {
    const r = fixture('ledger');
    const before: string[] = [];
    walk(buildTree(r, wsResolve(), []), (n) => before.push(n.id));
    const later: Report = {
      ...r,
      hotspots: r.hotspots
        .map((h, i) => ({ ...h, delayNs: h.delayNs * (i + 2), share: h.share / 2, count: h.count + 7 }))
        .reverse(),
      chains: r.chains.map((c) => ({ ...c, waitNs: c.waitNs * 3 })).reverse(),
    };
    const after: string[] = [];
    walk(buildTree(later, wsResolve(), []), (n) => after.push(n.id));
    assert.deepEqual([...after].sort(), [...before].sort());
  });

  it('gives [] for an empty report', () => {
    assert.deepEqual(
      buildTree(emptyReport(), () => undefined, []),
      [],
    );
    assert.deepEqual(
      buildTree({ ...emptyReport(), notes: ['nothing captured'] }, () => undefined, []),
      [],
    );
  });
});
