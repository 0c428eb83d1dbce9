import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMarks } from '../../src/logic/marks';
import {
  PathContext,
  baseName,
  createResolver,
  fileUri,
  parseGoModModulePath,
  resolveReportPath,
} from '../../src/logic/paths';
import { fixture, ws, wsContext, wsResolve } from './helpers';

/** ctxOf is a PathContext over a fixed set of existing files. */
function ctxOf(files: string[], over: Partial<PathContext> = {}): PathContext & { asked: string[] } {
  const set = new Set(files);
  const asked: string[] = [];
  return {
    workspaceRoots: [],
    modules: [],
    substitutePath: [],
    exists: (p) => {
      asked.push(p);
      return set.has(p);
    },
    asked,
    ...over,
  };
}

describe('resolveReportPath', () => {
  it('keeps an absolute path that exists', () => {
    assert.equal(resolveReportPath('/home/me/shop/main.go', ctxOf(['/home/me/shop/main.go'])), '/home/me/shop/main.go');
  });

  it('maps the binary side (to) of substitutePath onto the editor side (from), longest rule first', () => {
    const ctx = ctxOf(['/home/me/shop/store/store.go', '/home/me/vendored/store.go'], {
      substitutePath: [
        { from: '/home/me/shop', to: '/build' },
        { from: '/home/me/vendored', to: '/build/store' },
      ],
    });
    assert.equal(resolveReportPath('/build/store/store.go', ctx), '/home/me/vendored/store.go');
    assert.equal(resolveReportPath('/build/main.go', ctxOf([], ctx)), undefined);
  });

  it('matches prefixes by whole components only', () => {
    const ctx = ctxOf(['/src/app/x.go'], { substitutePath: [{ from: '/src/app', to: '/build/a' }] });
    assert.equal(resolveReportPath('/build/ab/x.go', ctx), undefined);
    assert.equal(resolveReportPath('/build/a/x.go', ctx), '/src/app/x.go');
  });

  it('places -trimpath paths through the longest module path', () => {
    const ctx = ctxOf(['/ws/shop/store/store.go', '/ws/tools/store/store.go'], {
      modules: [
        { path: 'example.com/shop', dir: '/ws/shop' },
        { path: 'example.com/shop/tools', dir: '/ws/tools' },
      ],
    });
    assert.equal(resolveReportPath('example.com/shop/store/store.go', ctx), '/ws/shop/store/store.go');
    assert.equal(resolveReportPath('example.com/shop/tools/store/store.go', ctx), '/ws/tools/store/store.go');
    assert.equal(resolveReportPath('example.com/shopping/store.go', ctx), undefined);
  });

  it('falls back to the longest suffix that exists under a workspace root', () => {
    const ctx = ctxOf(['/ws/store/store.go', '/ws/store.go'], { workspaceRoots: ['/ws'] });
    assert.equal(resolveReportPath('/build/ci/shop/store/store.go', ctx), '/ws/store/store.go');
    assert.equal(resolveReportPath('/elsewhere/store.go', ctx), '/ws/store.go');
  });

  it('gives undefined when nothing fits, and never returns a path it did not check', () => {
    const ctx = ctxOf([], { workspaceRoots: ['/ws'], modules: [{ path: 'example.com/m', dir: '/ws' }] });
    assert.equal(resolveReportPath('/build/main.go', ctx), undefined);
    assert.equal(resolveReportPath('example.com/m/main.go', ctx), undefined);
    assert.equal(resolveReportPath('', ctx), undefined);
  });

  it('treats an exists that throws as "does not exist"', () => {
    const ctx: PathContext = {
      workspaceRoots: ['/ws'],
      modules: [],
      substitutePath: [],
      exists: () => {
        throw new Error('EACCES');
      },
    };
    assert.equal(resolveReportPath('/a/b.go', ctx), undefined);
  });

  it('handles Windows paths: drive letters, backslashes, case-insensitive prefixes', () => {
    const ctx = ctxOf(['C:\\src\\shop\\main.go'], {
      substitutePath: [{ from: 'C:\\src\\shop', to: '/build/shop' }],
    });
    assert.equal(resolveReportPath('/build/shop/main.go', ctx), 'C:\\src\\shop\\main.go');
    const ctx2 = ctxOf(['D:\\w\\shop\\main.go'], { workspaceRoots: ['D:\\w'] });
    assert.equal(resolveReportPath('C:\\Users\\ci\\shop\\main.go', ctx2), 'D:\\w\\shop\\main.go');
    const ctx3 = ctxOf(['/home/me/x/main.go'], { substitutePath: [{ from: '/home/me/x', to: 'c:\\Build' }] });
    assert.equal(resolveReportPath('C:\\build\\main.go', ctx3), '/home/me/x/main.go');
  });

  it('caches answers in createResolver', () => {
    const ctx = ctxOf(['/a/b.go']);
    const resolve = createResolver(ctx);
    assert.equal(resolve('/a/b.go'), '/a/b.go');
    assert.equal(resolve('/a/b.go'), '/a/b.go');
    assert.equal(ctx.asked.length, 1);
  });
});

describe('resolveReportPath on recorded reports', () => {
  it('places every path of a live report (absolute, existing)', () => {
    const { unplaced } = buildMarks(fixture('ledger'), { minShare: 0, resolve: wsResolve() });
    assert.deepEqual(unplaced, []);
  });

  it('places -trimpath profiles through the module path in go.mod', () => {
    const r = fixture('ledger-trimpath');
    assert.ok(r.hotspots.every((h) => h.file === 'github.com/lockscope/lockscope/testdata/ledger/main.go'));
    assert.equal(resolveReportPath(r.hotspots[0].file, wsContext()), ws('testdata/ledger/main.go'));
  });

  it('places a trace recorded in another module with a relative substitutePath rule, and not without', () => {
    const r = fixture('handoff-trace');
    assert.ok(r.hotspots.every((h) => h.file === 'handoff/main.go'));
    assert.equal(resolveReportPath('handoff/main.go', wsContext()), undefined);
    const ctx = wsContext({ substitutePath: [{ from: ws('testdata/handoff'), to: 'handoff' }] });
    assert.equal(resolveReportPath('handoff/main.go', ctx), ws('testdata/handoff/main.go'));
  });
});

describe('parseGoModModulePath', () => {
  const rows: [string, string | undefined][] = [
    ['module github.com/lockscope/lockscope\n\ngo 1.26\n', 'github.com/lockscope/lockscope'],
    ['// comment\nmodule   example.com/shop // trailing\n', 'example.com/shop'],
    ['module "example.com/quoted"\n', 'example.com/quoted'],
    ['module `example.com/raw`\r\ngo 1.22\r\n', 'example.com/raw'],
    ['/* module example.com/not */\nmodule example.com/yes\n', 'example.com/yes'],
    ['go 1.22\nrequire x v1\n', undefined],
    ['modulex example.com/no\n', undefined],
    ['', undefined],
  ];
  for (const [text, want] of rows) {
    it(`${JSON.stringify(text)} is ${want}`, () => assert.equal(parseGoModModulePath(text), want));
  }
});

describe('baseName and fileUri', () => {
  it('names the file whatever the separators', () => {
    assert.equal(baseName('/a/b/main.go'), 'main.go');
    assert.equal(baseName('C:\\a\\store.go'), 'store.go');
    assert.equal(baseName('main.go'), 'main.go');
  });
  it('percent-encodes components, including characters markdown links break on', () => {
    assert.equal(fileUri('/w/my shop/(x)/main.go'), 'file:///w/my%20shop/%28x%29/main.go');
    assert.equal(fileUri('C:\\src\\main.go'), 'file:///c%3A/src/main.go');
    assert.equal(fileUri('\\\\server\\share\\a.go'), 'file://server/share/a.go');
  });
});
