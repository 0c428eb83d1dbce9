import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { describeChain } from '../../src/logic/chains';
import { hoverMarkdown } from '../../src/logic/hover';
import { TreeNode, buildTree } from '../../src/logic/tree';
import { fixture, lineOf, marker, real, ws } from './helpers';

// Real reports of programs whose locks sit outside their own code (see
// scripts/gen-fixtures.sh): testdata/logjam logs from 16 goroutines through
// one log.Logger (the wait is charged to the user's Printf line, via the
// logger's lock), and testdata/lrucache hammers two golang-lru caches (the
// hot lines are the library's, each with the user's call site).

/** resolve places the checkout's files and, as an editor would once opened, the module cache's. */
const resolve = (p: string): string | undefined =>
  p.startsWith('/workspace/') ? (real(p) && fs.existsSync(real(p)!) ? p : undefined) : fs.existsSync(p) ? p : undefined;

function nodes(tree: TreeNode[]): TreeNode[] {
  return tree.flatMap((n) => [n, ...nodes(n.children ?? [])]);
}

/** plain undoes markdown escapes, to match sentences. */
function plain(md: string): string {
  return md.replace(/\\(.)/g, '$1');
}

describe('library locks charged to the user line (logjam)', () => {
  const r = fixture('logjam');
  const src = 'testdata/logjam/main.go';
  const line = marker(src, 'log-call');

  it('says in the hover which library lock the wait went through', () => {
    const md = plain(hoverMarkdown(r, ws(src), line, resolve)!);
    assert.ok(md.includes('Through a library lock: log.(*Logger).output → sync.Mutex.Lock'), md);
  });

  it('shows it on the tree item', () => {
    const items = nodes(buildTree(r, resolve, [])).filter(
      (n) => n.contextValue === 'hotspot.waiter' && n.line === line && n.file === ws(src),
    );
    assert.equal(items.length, 1);
    assert.match(items[0].description ?? '', / · log\.\(\*Logger\)\.output → sync\.Mutex\.Lock$/);
    assert.match(items[0].tooltip ?? '', /\nthrough log\.\(\*Logger\)\.output → sync\.Mutex\.Lock/);
  });
});

describe('dependency locks with the user call site (lrucache)', () => {
  const r = fixture('lrucache');
  const src = 'testdata/lrucache/main.go';
  const getLine = lineOf(src, 'sessions.Get(key)');
  // The hottest waiter-side line inside golang-lru's Cache, reached from the sessions.Get line.
  const lib = r.hotspots
    .filter((h) => h.kind === 'block' && h.callSite?.line === getLine && h.file.endsWith('/lru.go'))
    .sort((a, b) => b.delayNs - a.delayNs)[0];

  it('has a library hotspot reached from sessions.Get', () => {
    assert.ok(lib, JSON.stringify(r.hotspots.map((h) => [h.file, h.line, h.callSite])));
    assert.equal(lib.callSite!.file, ws(src));
  });

  it('says "via main.go:N" on the tree item and in the hover of the library line', () => {
    const item = nodes(buildTree(r, resolve, [])).find(
      (n) => n.id === `hotspot:block:${lib.file}:${lib.line}:${lib.function}`,
    )!;
    assert.ok(item.description?.endsWith(`· via main.go:${getLine}`), item.description);
    const md = plain(hoverMarkdown(r, lib.file, lib.line, resolve)!);
    assert.ok(md.includes(`Reached from your code via [main.go:${getLine}](file:///workspace/${src}#L${getLine})`), md);
  });

  it("names the library lock in the hover of the user's own line", () => {
    const md = plain(hoverMarkdown(r, ws(src), getLine, resolve) ?? '');
    assert.match(md, /\*\*Library lock reached from here\*\* · sync\.(RW)?Mutex\.Lock in Cache\[\.\.\.\]\.Get at /);
    assert.ok(md.includes(`lru.go:${lib.line}`), md);
  });

  it('reads a queue on one lock as "N waiting in line", not as hops', () => {
    const q = r.chains.find((c) => c.links.length === 2 && (c.links[0].queue ?? 0) > 1);
    assert.ok(q, 'the lrucache run has a queue on one lock');
    const n = q.links[0].queue!;
    const item = nodes(buildTree(r, resolve, [])).find(
      (x) => x.contextValue === 'chain' && x.tooltip === describeChain(q, resolve).title,
    )!;
    assert.match(item.description ?? '', new RegExp(` · ${n} waiting in line$`));
    assert.doesNotMatch(item.description ?? '', /hop/);
    const d = describeChain(q, resolve);
    assert.match(d.steps[0].label, new RegExp(`^${n} waiting in line at \\w*lru\\.go:\\d+`));
    assert.match(d.title, new RegExp(`\\(${n} waiting in line\\)`));
    // A single wait stays a hop.
    const single = r.chains.find((c) => c.links.length === 2 && (c.links[0].queue ?? 0) <= 1);
    if (single) {
      assert.match(describeChain(single, resolve).steps[0].label, / waits at /);
    }
  });
});

describe('map writes in helpers called with the lock held (lockedhelpers)', () => {
  const r = fixture('lockedhelpers');
  const src = 'testdata/lockedhelpers/main.go';
  const tree = nodes(buildTree(r, resolve, []));
  const item = (name: string): TreeNode => {
    const line = marker(src, name);
    const n = tree.find((x) => x.contextValue.startsWith('mapWrite') && x.file === ws(src) && x.line === line);
    assert.ok(n, `no map write at ${name} (line ${line})`);
    return n;
  };

  it('says a helper is guarded by its callers, and lists the calls that hold the lock', () => {
    const n = item('helper-set');
    assert.equal(n.description, 'guarded by c.mu (its callers hold it)');
    assert.ok(n.children?.some((c) => /^called with c\.mu held at main\.go:\d+$/.test(c.label)));
    const md = plain(hoverMarkdown(r, ws(src), marker(src, 'helper-set'), resolve)!);
    assert.match(md, /Its callers hold c\.mu: \[main\.go:\d+\]/);
  });

  it('says when a write under a contended lock was not seen contended (sameLockOnly)', () => {
    // No recorded run has one yet: the helper's write, as the adapter marks
    // a write whose function is not on its lock's contended stacks.
    const line = marker(src, 'helper-set');
    const w = r.mapWrites.find((x) => x.line === line)!;
    const only = { ...r, mapWrites: [{ ...w, guardedVia: undefined, sameLockOnly: true }] };
    delete only.mapWrites[0].guardedVia;
    const n = nodes(buildTree(only, resolve, [])).find((x) => x.contextValue === 'mapWrite')!;
    assert.equal(n.description, 'under c.mu: same lock, not seen contended');
    assert.match(plain(hoverMarkdown(only, ws(src), line, resolve)!), /Same lock, not seen contended/);
  });

  it('names the callers that enter a sometimes-unguarded helper without the lock', () => {
    const n = item('helper-sometimes');
    const touch = marker(src, 'touch-call');
    const str = marker(src, 'string-call');
    assert.equal(n.contextValue, 'mapWrite.unguarded');
    assert.equal(n.description, `sometimes unguarded: entered without the lock from main.go:${touch}, main.go:${str}`);
    assert.deepEqual(
      n.children?.filter((c) => c.label.startsWith('entered')).map((c) => c.line),
      [touch, str],
    );
    const md = plain(hoverMarkdown(r, ws(src), marker(src, 'helper-sometimes'), resolve)!);
    assert.ok(md.includes(`Sometimes unguarded: entered without the lock from [main.go:${touch}]`), md);
  });
});
