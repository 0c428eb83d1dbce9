/**
 * Shared by the unit tests: the checkout's root, the recorded reports in
 * extension/test/fixtures (made by scripts/gen-fixtures.sh, with the
 * checkout's path written as /workspace), a PathContext that maps /workspace
 * back to the checkout, and the `// lockscope:NAME` markers of the testdata
 * programs, so that tests name lines by marker and never by number.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PathContext, createResolver, parseGoModModulePath } from '../../src/logic/paths';
import { Report, parseReport } from '../../src/logic/report';

/** WS is the checkout's path as the fixtures write it. */
export const WS = '/workspace';

let rootCache: string | undefined;

/** repoRoot finds the checkout from the bundled test's folder (out/unit) or the working directory. */
export function repoRoot(): string {
  if (rootCache) {
    return rootCache;
  }
  for (const start of [__dirname, process.cwd()]) {
    let dir = start;
    for (;;) {
      const mod = path.join(dir, 'go.mod');
      if (fs.existsSync(mod) && fs.existsSync(path.join(dir, 'extension', 'test', 'fixtures'))) {
        rootCache = dir;
        return dir;
      }
      const up = path.dirname(dir);
      if (up === dir) {
        break;
      }
      dir = up;
    }
  }
  throw new Error('cannot find the lockscope checkout (go.mod with extension/test/fixtures)');
}

/** fixtureJSON reads a recorded report as plain JSON. */
export function fixtureJSON(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(repoRoot(), 'extension', 'test', 'fixtures', `${name}.json`), 'utf8'));
}

/** fixture reads and parses a recorded report. */
export function fixture(name: string): Report {
  return parseReport(fixtureJSON(name));
}

/** fixtureText reads another fixture file (e.g. ledger.stderr.txt). */
export function fixtureText(file: string): string {
  return fs.readFileSync(path.join(repoRoot(), 'extension', 'test', 'fixtures', file), 'utf8');
}

/** real maps a /workspace path to the checkout, or undefined for any other path. */
export function real(p: string): string | undefined {
  if (p === WS) {
    return repoRoot();
  }
  if (p.startsWith(`${WS}/`)) {
    return path.join(repoRoot(), p.slice(WS.length + 1));
  }
  return undefined;
}

/** wsContext is the PathContext of an editor with the checkout open as /workspace. */
export function wsContext(extra: Partial<PathContext> = {}): PathContext {
  const modPath = parseGoModModulePath(fs.readFileSync(path.join(repoRoot(), 'go.mod'), 'utf8'));
  return {
    workspaceRoots: [WS],
    modules: modPath ? [{ path: modPath, dir: WS }] : [],
    substitutePath: [],
    exists: (p) => {
      const r = real(p);
      return r !== undefined && fs.existsSync(r);
    },
    ...extra,
  };
}

/** wsResolve resolves report paths as the editor of wsContext would. */
export function wsResolve(extra: Partial<PathContext> = {}): (file: string) => string | undefined {
  return createResolver(wsContext(extra));
}

/** ws is the /workspace path of a checkout-relative path. */
export function ws(rel: string): string {
  return `${WS}/${rel}`;
}

/** marker returns the 1-based line of `// lockscope:NAME` in a checkout-relative file. */
export function marker(rel: string, name: string): number {
  const lines = fs.readFileSync(path.join(repoRoot(), rel), 'utf8').split('\n');
  const re = new RegExp(`// lockscope:${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`);
  const found = lines.flatMap((l, i) => (re.test(l) ? [i + 1] : []));
  if (found.length !== 1) {
    throw new Error(`${rel}: want one // lockscope:${name} marker, found ${found.length}`);
  }
  return found[0];
}

/** lineOf returns the 1-based line of the only line of a file that contains text. */
export function lineOf(rel: string, text: string, after = 0): number {
  const lines = fs.readFileSync(path.join(repoRoot(), rel), 'utf8').split('\n');
  const found = lines.flatMap((l, i) => (i + 1 > after && l.includes(text) ? [i + 1] : []));
  if (found.length === 0) {
    throw new Error(`${rel}: no line contains ${JSON.stringify(text)} after line ${after}`);
  }
  return found[0];
}
