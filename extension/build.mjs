// Bundles the extension (and, with --tests, the unit tests) with esbuild.
// The extension is one CommonJS file in dist/ with `vscode` left external,
// as VS Code loads it; unit tests go to out/unit/ and run under node --test.
import * as esbuild from 'esbuild';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
};

if (tests) {
  const dir = 'extension/test/unit';
  const entryPoints = readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
  await esbuild.build({ ...common, entryPoints, outdir: 'out/unit', external: ['vscode'] });
} else {
  const opts = {
    ...common,
    entryPoints: ['extension/src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
  };
  // The Blocking Graph panel's page runs in the webview, a browser: one
  // script with dagre inside, loaded by nonce (the page allows nothing else).
  const page = {
    ...common,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    entryPoints: ['extension/src/webview/graphView.ts'],
    outfile: 'dist/graphView.js',
    // dagre and graphlib are MIT-licensed: their notices ship with the bundle.
    banner: {
      js: ['@dagrejs/dagre', '@dagrejs/graphlib']
        .map((p) => `/*! ${p}\n${readFileSync(`node_modules/${p}/LICENSE`, 'utf8').replaceAll('*/', '* /')}*/`)
        .join('\n'),
    },
  };
  if (watch) {
    const ctx = await esbuild.context(opts);
    await ctx.watch();
    const pageCtx = await esbuild.context(page);
    await pageCtx.watch();
  } else {
    await Promise.all([esbuild.build(opts), esbuild.build(page)]);
  }
}
