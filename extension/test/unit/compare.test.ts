/**
 * The comparison's marks and tree, on a real comparison: compare-shards.json
 * is `lockscope diff --json` of two captures of testdata/shards, before and
 * after its coarse lock was split into shards (fix/store.go.txt), with the
 * copy's folder written as /workspace/shards and the stacks left out.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Change, changeText, compareMarks, compareTree, parseComparison } from '../../src/logic/compare';
import { repoRoot } from './helpers';

const STORE = '/workspace/shards/store.go';

function raw(): Record<string, unknown> {
  return JSON.parse(
    fs.readFileSync(path.join(repoRoot(), 'extension', 'test', 'fixtures', 'compare-shards.json'), 'utf8'),
  ) as Record<string, unknown>;
}

/** markerLine finds `// lockscope:NAME` in a testdata file of the shards program. */
function markerLine(file: string, name: string): number {
  const lines = fs.readFileSync(path.join(repoRoot(), 'testdata', 'shards', file), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(`// lockscope:${name}`));
  assert.ok(i >= 0, `no marker ${name} in ${file}`);
  return i + 1;
}

const same = (f: string): string => f;

describe('parseComparison on the shards fix', () => {
  const cmp = parseComparison(raw());
  assert.ok(cmp);

  it('reads the unit and the base', () => {
    assert.equal(cmp.unit, 'second');
    assert.match(cmp.unitNote, /per second/);
    assert.match(cmp.baseLabel, /shards/);
  });

  it('has the coarse lock gone and the shard lock new', () => {
    const coarse = markerLine('store.go', 'coarse-lock');
    const shard = markerLine('fix/store.go.txt', 'shard-lock');
    assert.ok(cmp.gone.some((g) => g.kind === 'block' && g.line === coarse && g.basePerUnit > 1e9));
    assert.ok(cmp.changes.some((c) => c.kind === 'block' && c.line === shard && c.status === 'new'));
  });

  it('matches the moved Stats lock to its old line', () => {
    const before = markerLine('store.go', 'stats-lock');
    const after = markerLine('fix/store.go.txt', 'stats-lock');
    const stats = cmp.changes.find((c) => c.kind === 'block' && c.line === after);
    assert.ok(stats);
    assert.equal(stats.baseLine, before);
    assert.notEqual(stats.status, 'new');
  });

  it('is undefined for a report that was not compared', () => {
    const r = raw();
    delete r.comparison;
    assert.equal(parseComparison(r), undefined);
    assert.equal(parseComparison(null), undefined);
    assert.equal(parseComparison({ comparison: 'no' }), undefined);
  });

  it('drops garbled entries instead of guessing', () => {
    const r = raw();
    (r.hotspots as unknown[]).push(
      { kind: 'mutex', line: 'x', lock: true, base: { status: 'worse' } },
      { kind: 'mutex', line: 3, lock: true, base: { status: 'exploded' } },
      { kind: 'chan', line: 3, lock: true, base: { status: 'worse' } },
      7,
    );
    assert.equal(parseComparison(r)?.changes.length, cmp.changes.length);
  });
});

describe('changeText', () => {
  const c = (over: Partial<Change>): Change => ({
    kind: 'block',
    file: STORE,
    line: 3,
    function: 'main.f',
    status: 'better',
    basePerUnit: 1.2e9,
    perUnit: 0.1e9,
    ...over,
  });
  it('writes both values with the arrow of the change', () => {
    assert.equal(changeText(c({}), 'second'), '▼ 1.2 s/s → 100 ms/s');
    assert.equal(changeText(c({ status: 'worse', basePerUnit: 1e3, perUnit: 25e3 }), 'op'), '▲ 1.0 µs/op → 25 µs/op');
    assert.equal(changeText(c({ status: 'same', basePerUnit: 1e9, perUnit: 1.05e9 }), 'second'), '= 1.0 s/s → 1.1 s/s');
  });
  it('says new and gone', () => {
    assert.equal(changeText(c({ status: 'new', basePerUnit: 0 }), 'op'), '▲ new · 100 ms/op');
    assert.equal(changeText(c({ status: 'gone', perUnit: 0 }), 'second'), '▼ gone (was 1.2 s/s)');
  });
});

describe('compareMarks and compareTree', () => {
  const cmp = parseComparison(raw());
  assert.ok(cmp);

  it('draws one text per current line, none on gone lines', () => {
    const marks = compareMarks(cmp, same);
    const coarse = markerLine('store.go', 'coarse-lock');
    const shard = markerLine('fix/store.go.txt', 'shard-lock');
    assert.ok(!marks.some((m) => m.line === coarse), 'a gone line is drawn on code that moved there');
    const m = marks.find((x) => x.line === shard);
    assert.ok(m);
    assert.match(m.text, /^▲ new · /);
    const keys = marks.map((x) => `${x.file}:${x.line}`);
    assert.equal(new Set(keys).size, keys.length);
  });

  it('leaves out lines it cannot place', () => {
    assert.deepEqual(
      compareMarks(cmp, () => undefined),
      [],
    );
  });

  it('groups the changes, regressions first, gone lines without a link', () => {
    const node = compareTree(cmp, same);
    assert.match(node.label, /^Compared with /);
    const kids = node.children ?? [];
    assert.equal(kids.length, cmp.changes.length + cmp.gone.length);
    const order = kids.map((k) => k.icon);
    assert.ok(order.indexOf('add') < order.indexOf('pass'), `order ${order.join(',')}`);
    for (const k of kids.filter((x) => x.icon === 'pass')) {
      assert.equal(k.file, undefined);
      assert.match(k.description ?? '', /gone/);
    }
    assert.ok(kids.some((k) => /was line \d+/.test(k.label)));
    assert.equal(new Set(kids.map((k) => k.id)).size, kids.length);
  });
});
