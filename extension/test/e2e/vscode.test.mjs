// The extension in a real VS Code (code-server in Chromium): the scenarios
// of the project's issue, each against a fresh code-server, user data and
// copy of a testdata workspace. Run with scripts/test-vscode.sh. Lines are
// found by their lockscope:NAME markers; every wait names what it waits for.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { T, VSCode, describeProcs, env, makeWorkspace, markerLine, ours, root, until } from './harness.mjs';

const MAIN = 'main.go';
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** scenario runs body against a fresh VS Code and always closes it. */
async function scenario(name, body) {
  const vs = new VSCode(name);
  const t0 = Date.now();
  try {
    await body(vs);
    if (vs.errors.length > 0) {
      throw new Error(`${vs.errors.length} check(s) failed:\n- ${vs.errors.join('\n- ')}`);
    }
  } catch (err) {
    await vs.fail(err);
    throw err;
  } finally {
    await vs.close();
    vs.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** startDebugging presses F5 in a file's editor and waits for the debug toolbar. */
async function startDebugging(vs, file) {
  await vs.activated();
  await vs.focusEditor(file);
  await vs.page.keyboard.press('F5');
  await vs.until('the debug toolbar (F5 started a session)', 'toolbar', [], T.session);
  // The Debug Console opens with the first session and moves the editor's
  // lines: let it settle before looking at lines.
  await vs.until('the Debug Console to open', 'visible', ['.repl'], T.session);
}

/**
 * stopDebugging presses Shift+F5 in a file's editor and waits for the debug
 * toolbar to go and for the session's adapter and debuggee to exit.
 */
async function stopDebugging(vs, file) {
  await vs.focusEditor(file);
  await vs.page.keyboard.press('Shift+F5');
  await vs.waitFor('the debug toolbar to go (Shift+F5)', () => !window.e2e.toolbar(), undefined, T.session);
  await until(
    'the adapter and the debuggee to exit',
    () => vs.debugProcesses().filter((p) => p.state !== 'Z').length === 0,
  ).catch((err) => {
    throw new Error(`${err.message}:\n${describeProcs(vs.debugProcesses())}`);
  });
}

/** describeStack prints a Call Stack for a message: each goroutine, its first and last frames. */
function describeStack(stack) {
  const short = (f) => f.replace(/^Stack Frame /, '');
  return stack
    .map((t) => `  ${t.thread}: ${[...t.frames.slice(0, 2), '…', ...t.frames.slice(-2)].map(short).join(' < ')}`)
    .join('\n');
}

/** breakpointRows lists the Breakpoints view's source breakpoints (not the exception filters). */
async function breakpointRows(vs) {
  await vs.command('Run and Debug: Focus on Breakpoints View');
  await vs.until('the Breakpoints view', 'visible', ['.debug-breakpoints']);
  return vs.check('breakpoints');
}

/** expectHeat waits for a heat icon and after-line text on a line, and returns them. */
async function expectHeat(vs, file, line, side, timeout = T.report) {
  await vs.reveal(file, line);
  const got = await vs.waitFor(
    `a heat-${side}-* gutter icon and after-line text on ${file}:${line}`,
    ({ file, line, side }) => {
      const icon = window.e2e.heatAt(file, line);
      const texts = window.e2e.afterTexts(file, line);
      return icon && icon.startsWith(`heat-${side}-`) && texts.some((t) => t.trim() !== '') ? { icon, texts } : null;
    },
    { file, line, side },
    timeout,
  );
  assert.match(got.texts.join(' '), /waited/, `the after-line text on ${file}:${line} says how long others waited`);
  return got;
}

async function noOverlays(vs, file) {
  await vs.waitFor(
    `the heat icons and after-line texts in ${file} to go`,
    (file) => window.e2e.heatIcons(file).length === 0 && window.e2e.allAfterTexts(file).length === 0,
    file,
  );
  // CodeLens refreshes only while the editor has the keyboard.
  await vs.focusEditor(file);
  await vs.waitFor(`the CodeLenses in ${file} to go`, (file) => window.e2e.allLenses(file).length === 0, file);
}

after(() => {
  const left = ours();
  assert.equal(left.length, 0, `processes of this run are still running:\n${describeProcs(left)}`);
});

test(
  'contention: F5 draws the ledger hot lock; one click breaks on the contended write',
  { timeout: 240_000 },
  async () => {
    await scenario('1-contention', async (vs) => {
      const ws = makeWorkspace(path.join(vs.dir, 'ledger'), { template: 'vscode-ledger' });
      const src = path.join(ws, MAIN);
      const lock = markerLine(src, 'hot-lock');
      const write = markerLine(src, 'hot-write');
      const unlock = markerLine(src, 'hot-unlock');
      await vs.start(ws);

      await vs.open(MAIN);
      assert.deepEqual(await breakpointRows(vs), [], 'a fresh profile starts with no breakpoints');
      assert.deepEqual(await vs.check('breakpointGlyphs', MAIN), [], 'no breakpoint glyph at start');
      await vs.shot('no-breakpoints');

      await startDebugging(vs, MAIN);
      vs.log('debug toolbar shown');
      await vs.shot('debugging');

      // The report arrives while the program runs: holder and waiter lines.
      const holder = await expectHeat(vs, MAIN, unlock, 'holder');
      const waiter = await expectHeat(vs, MAIN, lock, 'waiter');
      vs.log(
        `decorations: ${holder.icon} ${JSON.stringify(holder.texts)}; ${waiter.icon} ${JSON.stringify(waiter.texts)}`,
      );
      await vs.shot('decorations');

      const hover = await vs.hoverLine(MAIN, unlock);
      assert.match(hover, /stack/i, `the hover over the hot line shows a stack:\n${hover}`);
      assert.match(
        hover,
        new RegExp(`deposit main\\.go:${unlock}\\b`),
        `the hover's stack names main.deposit:\n${hover}`,
      );
      await vs.shot('hover');

      // The lens over the contended write.
      await vs.focusEditor(MAIN);
      const lens = await vs.waitFor(
        `the "Break when contended" CodeLens above the map write (${MAIN}:${write})`,
        ({ file, line }) => window.e2e.lensesAbove(file, line).find((t) => t.includes('Break when contended')),
        { file: MAIN, line: write },
        T.report,
      );
      vs.log(`lens: ${lens}`);

      // The README's picture: decorations, the lens and a hover, no toasts.
      await docsScreenshot(vs, src, lock);

      await vs.clickLens(
        MAIN,
        write,
        'Break when contended',
        (f) => window.e2e.conditionalBreakpoints(f).length > 0,
        'a conditional breakpoint glyph after the click',
      );
      const glyphs = await vs.check('conditionalBreakpoints', MAIN);
      assert.equal(glyphs.length, 1, 'exactly one conditional breakpoint glyph');
      assert.equal(glyphs[0], await vs.check('rowTop', MAIN, write), `the glyph is on the map write, line ${write}`);
      // It stops on the write, while goroutines wait. (Wait for the stop
      // before using the command palette: the stop takes the focus, and
      // text typed into a closing palette would land in the editor.)
      await vs.waitFor(
        `the program to stop on ${MAIN}:${write} (top stack frame)`,
        ({ file, line }) => window.e2e.stoppedLine(file) === line,
        { file: MAIN, line: write },
        T.stop,
      );
      assert.equal(await vs.check('toolbar'), 'paused', 'the debug toolbar shows the program paused');
      await vs.shot('stopped');

      const bps = await breakpointRows(vs);
      assert.equal(bps.length, 1, `exactly one breakpoint in the Breakpoints view: ${JSON.stringify(bps)}`);
      const m = bps[0].match(/^main\.go (\d+), Condition: (.+)$/);
      assert.ok(m, `the breakpoint has a condition: ${bps[0]}`);
      assert.equal(Number(m[1]), write, 'the breakpoint is on the map write');
      const condition = m[2];
      vs.log(`breakpoint: ${bps[0]}`);
      await vs.shot('breakpoint');

      const cm = condition.match(/^(.+?)\s*(>=|>|==)\s*(\d+)$/);
      assert.ok(cm, `the condition compares a lock expression with a count: ${condition}`);
      const answer = await vs.evaluate(cm[1]);
      const n = Number(answer.trim());
      assert.ok(Number.isInteger(n), `the Debug Console answers ${cm[1]} with a number, not ${JSON.stringify(answer)}`);
      const meets = { '>=': n >= Number(cm[3]), '>': n > Number(cm[3]), '==': n === Number(cm[3]) }[cm[2]];
      assert.ok(meets, `${cm[1]} is ${n} at the stop, which does not meet ${condition}`);
      vs.log(`evaluate ${cm[1]} = ${n} (condition ${condition})`);
      await vs.shot('evaluate');

      const stack = await vs.callStack();
      const stopped = stack.filter((t) => !/ Paused$/.test(t.thread));
      assert.equal(stopped.length, 1, `one goroutine stopped: ${stack.map((t) => t.thread).join('; ')}`);
      assert.match(stopped[0].thread, /Paused on breakpoint$/, 'it stopped on the breakpoint');
      assert.match(
        stopped[0].frames[0] || '',
        new RegExp(`^Stack Frame main\\.deposit, line ${write}, main\\.go$`),
        'the stopped goroutine is in main.deposit on the write',
      );
      // The walk saw every goroutine, frames included: all eight depositors.
      const depositors = stack.filter((t) => t.frames.some((f) => f.startsWith('Stack Frame main.main.func2,')));
      assert.equal(depositors.length, 8, `the Call Stack shows the 8 depositors:\n${describeStack(stack)}`);
      const agent = stack.filter((t) => [t.thread, ...t.frames].some((l) => /lockscope_?agent/i.test(l)));
      await vs.soft(() =>
        assert.deepEqual(
          agent.map((t) => t.thread),
          [],
          `the Call Stack lists none of the capture agent’s goroutines:\n${describeStack(agent)}`,
        ),
      );
      vs.log(`call stack: ${stack.length} goroutines:\n${describeStack(stack)}`);
      await vs.shot('call-stack');

      // The Contention view lists the hotspot; clicking it opens its line.
      await vs.command('Run and Debug: Focus on Contention View');
      const hot = `main.go:${unlock}`;
      await vs.waitFor(
        `the Contention view to list the hotspot ${hot}`,
        (hot) => (window.e2e.paneRows('Contention') || []).some((r) => r.label.includes(hot)),
        hot,
      );
      await vs.shot('contention-view');
      await vs.command('View: Close All Editors');
      await vs.waitFor('the editors to close', () => !document.querySelector('.tabs-container .tab'));
      await vs.page
        .locator('.pane', { has: vs.page.locator('.pane-header[aria-label^="Contention"]') })
        .locator('.monaco-list-row', { hasText: hot })
        .first()
        .click();
      await vs.waitFor(
        `${MAIN} to open at line ${unlock} from the Contention view`,
        (line) =>
          !!document.querySelector('.tabs-container .tab.active[aria-label^="main.go"]') &&
          (document.querySelector('[id="status.editor.selection"]')?.innerText || '').startsWith(`Ln ${line},`),
        unlock,
      );
      await vs.shot('opened-from-view');

      // Restart: a new process, its output in the Debug Console, decorations again.
      await vs.command('Remove All Breakpoints');
      await vs.command('lockscope: Clear Overlays');
      await vs.waitFor('the overlays to clear', (file) => window.e2e.heatIcons(file).length === 0, MAIN);
      const before = vs.debugProcesses().map((p) => p.pid);
      await vs.command('Clear Console');
      await vs.focusEditor(MAIN);
      await vs.page.keyboard.press('Control+Shift+F5');
      const fresh = await until(
        'a new debuggee process after the restart',
        () => {
          const now = vs.debugProcesses().filter((p) => !before.includes(p.pid) && p.comm.startsWith('__debug_bin'));
          return now.length > 0 ? now : null;
        },
        T.session,
      );
      vs.log(`restarted: pid ${fresh.map((p) => p.pid).join(', ')}`);
      await vs.waitFor(
        'the restarted program’s output ("ledger: 8 depositors started") in the Debug Console',
        () => window.e2e.replRows().some((r) => r.startsWith('ledger: 8 depositors started')),
        undefined,
        T.session,
      );
      await vs.soft(
        vs.waitFor(
          'the debug toolbar to show the restarted program running (a Pause button, not Continue)',
          () => window.e2e.toolbar() === 'running',
        ),
      );
      await expectHeat(vs, MAIN, unlock, 'holder');
      await expectHeat(vs, MAIN, lock, 'waiter');
      await vs.shot('restarted');

      // Stop: overlays go, nothing is left running, no port is forwarded.
      await vs.focusEditor(MAIN);
      await vs.page.keyboard.press('Shift+F5');
      await vs.waitFor('the debug toolbar to go (Shift+F5)', () => !window.e2e.toolbar(), undefined, T.session);
      await noOverlays(vs, MAIN);
      await until(
        'the adapter and the debuggee to exit',
        () => vs.debugProcesses().filter((p) => p.state !== 'Z').length === 0,
        T.ui,
      ).catch((err) => {
        throw new Error(`${err.message}:\n${describeProcs(vs.debugProcesses())}`);
      });
      await vs.command('Ports: Focus on Ports View');
      const ports = await vs.waitFor('the Ports view', () => window.e2e.forwardedPorts());
      await vs.soft(() => assert.deepEqual(ports, [], 'the Ports view lists no port'));
      await vs.shot('stopped-session');
      const errors = (await vs.check('notifications')).filter((n) => n.error).map((n) => n.text);
      await vs.soft(() => assert.deepEqual(errors, [], `no error notification during the session: ${errors}`));
    });
  },
);

/** docsScreenshot saves the README's picture when LOCKSCOPE_E2E_DOCS=1, and always into the output folder. */
async function docsScreenshot(vs, src, hoverLine) {
  await vs.command('Notifications: Clear All Notifications');
  await vs.command('View: Hide Panel');
  await vs.command('Run and Debug: Focus on Contention View');
  // The cursor goes to a blank line above the hot one: no word highlight.
  const lines = fs.readFileSync(src, 'utf8').split('\n');
  let blank = hoverLine - 1;
  while (blank > 1 && lines[blank - 1].trim() !== '') {
    blank--;
  }
  await vs.focusEditor(MAIN, blank);
  await vs.waitFor('the lens to render again', (f) => window.e2e.allLenses(f).length > 0, MAIN, T.report);
  // A report arriving every second may redraw under the hover: take the
  // picture again until the hover is still there after it.
  let file;
  for (let i = 0; ; i++) {
    await vs.hoverLine(MAIN, hoverLine);
    file = await vs.shot('readme');
    if (await vs.check('hover')) {
      break;
    }
    assert.ok(i < 5, 'the hover stays up long enough for a screenshot');
  }
  if (process.env.LOCKSCOPE_E2E_DOCS === '1') {
    fs.copyFileSync(file, path.join(root, 'docs', 'vscode-ledger.png'));
    vs.log('wrote docs/vscode-ledger.png');
  }
  await vs.page.mouse.move(1, 1);
}

test('second writer: the crash shows on its line; the lens catches both writers', { timeout: 150_000 }, async () => {
  await scenario('2-second-writer', async (vs) => {
    const ws = makeWorkspace(path.join(vs.dir, 'crashmap'), { template: 'vscode-crashmap', program: 'crashmap' });
    const src = path.join(ws, MAIN);
    const writers = { [markerLine(src, 'crash-hit')]: 'main.hit', [markerLine(src, 'crash-reset')]: 'main.resetPage' };
    await vs.start(ws);
    await vs.open(MAIN);
    await startDebugging(vs, MAIN);

    // The runtime's fatal error stops the program as an exception.
    await vs.waitFor(
      'the program to stop on the fatal error (the debug toolbar shows Continue)',
      () => window.e2e.toolbar() === 'paused',
      undefined,
      T.session,
    );
    const crashStack = await vs.callStack();
    const crashed = crashStack.filter((t) => !/ Paused$/.test(t.thread));
    assert.equal(crashed.length, 1, `one goroutine stopped: ${crashStack.map((t) => t.thread).join('; ')}`);
    assert.match(crashed[0].thread, /(exception|fatal error|panic)$/i, 'it stopped on the fatal error');
    const writerFrame = new RegExp(
      `^Stack Frame main\\.(hit|resetPage), line (${Object.keys(writers).join('|')}), main\\.go$`,
    );
    assert.ok(
      crashed[0].frames.some((f) => writerFrame.test(f)),
      `the crashed goroutine is at a map write: ${crashed[0].frames.join(' < ')}`,
    );
    vs.log(`crash: ${crashed[0].thread}`);
    await vs.shot('exception');

    // The crash lens on one writer line, naming the other.
    await vs.page.locator('.tabs-container .tab[aria-label^="main.go"]').first().click();
    await vs.focusEditor(MAIN);
    const crash = await vs.waitFor(
      'the "Crashed here" CodeLens on a writer line',
      ({ file, lines }) => {
        for (const l of lines) {
          const t = window.e2e.lensesAbove(file, l).find((x) => x.includes('Crashed here'));
          if (t) {
            return { line: l, text: t };
          }
        }
        return null;
      },
      { file: MAIN, lines: Object.keys(writers).map(Number) },
      T.report,
    );
    const other = Number(Object.keys(writers).find((l) => Number(l) !== crash.line));
    assert.match(crash.text, /Crashed here: concurrent map writes/, 'the lens names the crash');
    assert.match(crash.text, new RegExp(`other writer at main\\.go:${other}\\b`), 'the lens names the other writer');
    vs.log(`crash lens on line ${crash.line}: ${crash.text}`);
    await vs.shot('crash-lens');

    await vs.clickLens(
      MAIN,
      crash.line,
      'Break on the second writer',
      (f) => window.e2e.conditionalBreakpoints(f).length > 0,
      'a conditional breakpoint glyph after the click',
    );
    const glyphs = await vs.check('conditionalBreakpoints', MAIN);
    assert.equal(glyphs.length, 1, 'exactly one conditional breakpoint glyph');
    assert.equal(glyphs[0], await vs.check('rowTop', MAIN, crash.line), `the glyph is on line ${crash.line}`);
    const bps = await breakpointRows(vs);
    assert.equal(bps.length, 1, `exactly one breakpoint: ${JSON.stringify(bps)}`);
    assert.match(
      bps[0],
      new RegExp(`^main\\.go ${crash.line}, Condition: .+`),
      'a conditional breakpoint on the crash line',
    );
    vs.log(`breakpoint: ${bps[0]}`);
    await vs.shot('breakpoint');

    await vs.focusEditor(MAIN);
    await vs.page.keyboard.press('Control+Shift+F5');
    const stopLine = await vs.waitFor(
      `the restarted program to stop on a writer line (${Object.keys(writers)}): the top stack frame`,
      ({ file, lines }) => {
        const l = window.e2e.stoppedLine(file);
        return lines.includes(l) ? l : null;
      },
      { file: MAIN, lines: Object.keys(writers).map(Number) },
      T.session,
    );
    const stack = await vs.callStack();
    const stoppedThreads = stack.filter((t) => !/ Paused$/.test(t.thread));
    assert.equal(stoppedThreads.length, 1, `one goroutine stopped: ${stack.map((t) => t.thread).join('; ')}`);
    const stopped = stoppedThreads[0];
    assert.match(stopped.thread, /Paused on breakpoint$/, 'it stopped on the breakpoint');
    const otherLine = Number(Object.keys(writers).find((l) => Number(l) !== stopLine));
    const frame = new RegExp(`^Stack Frame ${writers[otherLine].replace('.', '\\.')}, line ${otherLine}, main\\.go$`);
    const witness = stack.filter((t) => t !== stopped && t.frames.some((f) => frame.test(f)));
    assert.ok(
      witness.length > 0,
      `another goroutine is at the other writer, ${writers[otherLine]} main.go:${otherLine}; goroutines:\n` +
        describeStack(stack),
    );
    vs.log(`stopped on line ${stopLine}; ${witness[0].thread} is at line ${otherLine}`);
    await vs.shot('second-writer');

    await stopDebugging(vs, MAIN);
  });
});

const CANARY = `{
  "version": "0.2.0",
  "configurations": [
    {
      "zzzCanary": true,
      "name": "canary",
      "type": "lockscope",
      "request": "launch",
      "mode": "debug",
      "program": "\${workspaceFolder}"
    }
  ]
}
`;

test('launch.json: each lockscope snippet inserts a configuration with no problem', { timeout: 150_000 }, async () => {
  const snippets = manifest.contributes.debuggers.find((d) => d.type === 'lockscope').configurationSnippets;
  assert.ok(snippets.length >= 1, 'the manifest contributes lockscope snippets');
  await scenario('3-launch-json', async (vs) => {
    const ws = makeWorkspace(path.join(vs.dir, 'launchjson'), { template: 'vscode-ledger', launch: CANARY });
    const launch = path.join(ws, '.vscode', 'launch.json');
    const FILE = 'launch.json';
    await vs.start(ws);
    await vs.open('.vscode/launch.json');
    await vs.command('View: Focus Problems (Errors, Warnings, Infos)');
    for (const [i, s] of snippets.entries()) {
      // A canary attribute the schema does not declare: its warning proves the
      // validation runs, and its removal after the insertion proves the
      // validation saw the inserted snippet.
      if (i > 0) {
        // Back to the canary on disk (never saved over).
        await vs.command('File: Revert File');
      }
      await vs.waitFor(
        'launch.json to hold only the canary configuration',
        (f) => {
          const t = window.e2e.editorText(f);
          return t.includes('zzzCanary') && !t.includes('"name": "lockscope:');
        },
        FILE,
      );
      await vs.waitFor('the Problems view to flag the canary ("Property zzzCanary is not allowed")', () =>
        window.e2e.problems().some((p) => /zzzCanary is not allowed/.test(p)),
      );
      await vs.focusEditor(FILE);
      await vs.page.locator('.floating-menu-overlay-widget a', { hasText: 'Add Configuration' }).click();
      await vs.waitFor(
        'the snippet suggestions',
        () => !!document.querySelector('.suggest-widget.visible .monaco-list-row'),
      );
      await vs.page.keyboard.type('lockscope');
      const row = vs.page.locator(`.suggest-widget.visible .monaco-list-row[aria-label^="${s.label},"]`);
      try {
        await row.waitFor();
      } catch {
        const offered = await vs.page
          .locator('.suggest-widget .monaco-list-row')
          .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
        throw new Error(`"Add Configuration..." does not offer "${s.label}": ${JSON.stringify(offered)}`);
      }
      await row.click();
      await vs.waitFor(
        `the "${s.label}" configuration in launch.json`,
        ({ f, name }) => window.e2e.editorText(f).includes(`"name": "${name}"`),
        { f: FILE, name: s.body.name },
      );
      await vs.page.keyboard.press('Escape');
      await vs.page.keyboard.press('Escape');
      const canary = vs.page
        .locator('.part.editor .monaco-editor[data-uri$="/launch.json"] .view-line', { hasText: 'zzzCanary' })
        .first();
      await canary.click();
      await vs.page.keyboard.press('Control+Shift+K');
      await vs.waitFor('the canary line to go', (f) => !window.e2e.editorText(f).includes('zzzCanary'), FILE);
      try {
        await vs.waitFor('the Problems view to be empty', () => window.e2e.problems().length === 0);
      } catch {
        const problems = await vs.check('problems');
        await vs.shot(`snippet-${i + 1}-problems`);
        throw new Error(
          `the "${s.label}" snippet leaves problems in launch.json:\n  ${problems.join('\n  ')}\n` +
            `launch.json:\n${await vs.check('editorText', FILE)}`,
        );
      }
      await vs.shot(`snippet-${i + 1}`);
      vs.log(`snippet "${s.label}": no problem`);
    }
    assert.equal(fs.readFileSync(launch, 'utf8'), CANARY, 'the test never saved launch.json');
  });
});

test(
  'analyze: Analyze Package… without a session draws the same decorations, with progress',
  { timeout: 150_000 },
  async () => {
    await scenario('4-analyze', async (vs) => {
      const ws = makeWorkspace(path.join(vs.dir, 'ledger'), { template: 'vscode-ledger' });
      const goRuns = useGoWrapper(ws);
      const src = path.join(ws, MAIN);
      const lock = markerLine(src, 'hot-lock');
      const write = markerLine(src, 'hot-write');
      const unlock = markerLine(src, 'hot-unlock');
      await vs.start(ws);
      await vs.open(MAIN);
      await vs.focusEditor(MAIN);
      await vs.command('lockscope: Analyze Package…');
      const progress = await vs.waitFor(
        'a progress notification "lockscope: analyzing …"',
        () => window.e2e.notifications().find((n) => /lockscope: analyzing/.test(n.text))?.text,
      );
      vs.log(`progress: ${progress}`);
      await vs.shot('progress');
      assert.equal(await vs.check('toolbar'), undefined, 'no debug session runs');

      await expectHeat(vs, MAIN, unlock, 'holder', T.session);
      await expectHeat(vs, MAIN, lock, 'waiter');
      await vs.focusEditor(MAIN);
      await vs.waitFor(
        `the "Break when contended" CodeLens above the map write (${MAIN}:${write})`,
        ({ file, line }) => window.e2e.lensesAbove(file, line).some((t) => t.includes('Break when contended')),
        { file: MAIN, line: write },
      );
      await vs.waitFor(
        'the progress notification to go',
        () => !window.e2e.notifications().some((n) => /lockscope: analyzing/.test(n.text)),
      );
      await vs.shot('analyzed');
      const errors = (await vs.check('notifications')).filter((n) => n.error).map((n) => n.text);
      assert.deepEqual(errors, [], 'no error notification');
      await until('lockscope analyze and its program to exit', () => vs.debugProcesses().length === 0);
      // analyze built the program with the Go that go.alternateTools picks.
      assert.ok(
        goRuns().some((c) => c.startsWith('build ')),
        `go build through the workspace's go.alternateTools.go; it ran: ${goRuns().join(' | ')}`,
      );
    });
  },
);

/**
 * useGoWrapper makes a workspace pick its Go the vscode-go way, through
 * go.alternateTools.go, with a wrapper that is not named go (as direnv
 * wrappers are): it logs each command, then runs this machine's go. It
 * returns a function that reads the commands run so far.
 */
function useGoWrapper(ws) {
  const realGo = execFileSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).trim();
  const log = path.join(ws, 'tools', 'go.log');
  fs.mkdirSync(path.join(ws, 'tools'), { recursive: true });
  fs.writeFileSync(
    path.join(ws, 'tools', 'go.sh'),
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${realGo}' "$@"\n`,
    { mode: 0o755 },
  );
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  fs.writeFileSync(
    path.join(ws, '.vscode', 'settings.json'),
    JSON.stringify({ 'go.alternateTools': { go: '${workspaceFolder}/tools/go.sh' } }, null, 2),
  );
  return () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
}

/**
 * graphFrame finds the Blocking Graph panel's page among the page's frames
 * (a webview is an iframe inside an iframe) and returns the frame whose
 * document has the graph's root.
 */
async function graphFrame(vs) {
  return until('the Blocking Graph page (a webview frame with #graph)', async () => {
    for (const f of vs.page.frames()) {
      if (await f.$('#graph').catch(() => null)) {
        return f;
      }
    }
    return null;
  });
}

/** graphState reads what the panel shows: its nodes (id, line, text, classes), edges and legend. */
function graphState(frame) {
  return frame.evaluate(() => ({
    empty: document.querySelector('#graph .empty')?.textContent ?? null,
    nodes: [...document.querySelectorAll('#graph g.node')].map((g) => ({
      id: g.getAttribute('data-id'),
      line: Number(g.getAttribute('data-line')),
      text: [...g.querySelectorAll('text')].map((t) => t.textContent),
      cls: g.getAttribute('class'),
    })),
    edges: [...document.querySelectorAll('#graph g.edge')].map((g) => ({
      from: g.getAttribute('data-from'),
      to: g.getAttribute('data-to'),
      width: Number(g.querySelector('path').getAttribute('stroke-width')),
    })),
    legend: [...document.querySelectorAll('#legend p')].map((p) => p.textContent),
  }));
}

/**
 * waitForGraph waits until accept, given what the Blocking Graph shows
 * (graphState), returns a truthy value, and returns it. The panel's frame is
 * looked up again each time: the webview is rebuilt when the panel moves.
 */
function waitForGraph(vs, what, accept, timeout = T.ui) {
  return until(what, async () => accept(await graphState(await graphFrame(vs))), timeout);
}

/** hop returns the edge from the node on one line to the node on another, or undefined. */
function hop(state, fromLine, toLine) {
  const from = state.nodes.find((n) => n.line === fromLine);
  const to = state.nodes.find((n) => n.line === toLine);
  return from && to ? state.edges.find((e) => e.from === from.id && e.to === to.id) : undefined;
}

/**
 * launchJSON is a workspace's .vscode/launch.json with one lockscope launch
 * of the workspace folder's program; extra adds or overrides attributes.
 */
function launchJSON(name, extra) {
  const config = {
    name,
    type: 'lockscope',
    request: 'launch',
    mode: 'debug',
    program: '${workspaceFolder}',
    ...extra,
  };
  return JSON.stringify({ version: '0.2.0', configurations: [config] }, null, 2) + '\n';
}

const HANDOFF_LAUNCH = launchJSON('handoff', {
  args: ['-d', '0'],
  lockscope: { refreshSeconds: 1, traceSeconds: 2 },
});

test(
  'graph: the Blocking Graph draws the handoff chain from a live session; a node opens its line',
  { timeout: 180_000 },
  async () => {
    await scenario('5-graph', async (vs) => {
      const ws = makeWorkspace(path.join(vs.dir, 'handoff'), {
        template: 'vscode-crashmap',
        program: 'handoff',
        launch: HANDOFF_LAUNCH,
      });
      const goRuns = useGoWrapper(ws);
      const src = path.join(ws, MAIN);
      const chain = ['chain-waiter', 'chain-middle', 'chain-last-wait', 'chain-holder'].map((m) => markerLine(src, m));
      await vs.start(ws);
      await vs.open(MAIN);
      await vs.activated();

      // Opened before any report: it says so, then follows the report.
      await vs.command('lockscope: Show Blocking Graph');
      await waitForGraph(vs, 'the graph to say there is no report yet', (st) => /No report yet/.test(st.empty ?? ''));
      await vs.shot('graph-empty');

      await startDebugging(vs, MAIN);
      // The trace window (2 s) gives the chain: withdraw → transfer → reconcile → auditor.
      const state = await waitForGraph(
        vs,
        `the graph to draw the chain through lines ${chain.join(' → ')}`,
        (st) => (chain.slice(1).every((l, i) => hop(st, chain[i], l)) ? st : null),
        T.session,
      );
      const byLine = new Map(state.nodes.map((n) => [n.line, n]));
      assert.deepEqual(
        chain.map((l) => byLine.get(l).text[0]),
        ['vaultMu.Lock()', 'ledgerMu.Lock()', 'auditMu.Lock()', 'auditMu.Unlock()'],
        'each node is named by the lock expression on its line',
      );
      assert.match(byLine.get(chain[3]).cls, /\bholds\b/, 'the last holder is drawn as a holder');
      assert.ok(
        state.edges.every((e) => e.width >= 1 && e.width <= 10),
        `edge widths: ${state.edges.map((e) => e.width)}`,
      );
      assert.ok(
        state.edges.some((e) => e.width > 1),
        'edges with wait time are wider than those without',
      );
      assert.equal(state.empty, null);
      vs.log(
        `graph: ${state.nodes.length} nodes (${state.nodes.map((n) => n.text[0]).join(', ')}), ${state.edges.length} edges`,
      );
      await vs.shot('graph');
      // Delve built the debuggee with the Go that go.alternateTools picks.
      assert.ok(
        goRuns().some((c) => c.startsWith('build ')),
        `go build through the workspace's go.alternateTools.go; it ran: ${goRuns().join(' | ')}`,
      );

      // A click on transfer's node opens main.go at its line, beside the graph.
      await vs.focusEditor(MAIN, 1);
      await vs.waitFor('the cursor on line 1', () =>
        (document.querySelector('[id="status.editor.selection"]')?.innerText || '').startsWith('Ln 1,'),
      );
      const frame = await graphFrame(vs);
      await frame.locator(`#graph g.node[data-line="${chain[1]}"] rect`).click();
      await vs.waitFor(
        `${MAIN} to open at line ${chain[1]} from the graph`,
        (line) =>
          !!document.querySelector('.tabs-container .tab.active[aria-label^="main.go"]') &&
          (document.querySelector('[id="status.editor.selection"]')?.innerText || '').startsWith(`Ln ${line},`),
        chain[1],
      );
      // The line opens in the editor's group, not over the graph: a hidden
      // webview would lose its page.
      await vs.waitFor(
        'the Blocking Graph to stay in view beside main.go',
        () =>
          [...document.querySelectorAll('.editor-group-container')].filter((g) =>
            g.querySelector('.tabs-container .tab.active[aria-label^="Blocking Graph"]'),
          ).length === 1 &&
          [...document.querySelectorAll('.editor-group-container')].filter((g) =>
            g.querySelector('.tabs-container .tab.active[aria-label^="main.go"]'),
          ).length === 1,
      );
      await graphFrame(vs);
      await vs.shot('opened-from-graph');

      // The session ends: its report goes, and the graph with it.
      await stopDebugging(vs, MAIN);
      await waitForGraph(vs, 'the graph to empty when the report goes', (st) => /No report yet/.test(st.empty ?? ''));
      const errors = (await vs.check('notifications')).filter((n) => n.error).map((n) => n.text);
      await vs.soft(() => assert.deepEqual(errors, [], `no error notification: ${errors}`));
    });
  },
);

const DEADLOCK_LAUNCH = launchJSON('deadlock', { lockscope: { refreshSeconds: 1, traceSeconds: 0 } });

test(
  'deadlock: F5 stops on the runtime deadlock; the Contention view heads with the cycle, the lines carry it',
  { timeout: 150_000 },
  async () => {
    await scenario('6-deadlock', async (vs) => {
      const ws = makeWorkspace(path.join(vs.dir, 'deadlock'), {
        template: 'vscode-crashmap',
        program: 'stuck/deadlock',
        launch: DEADLOCK_LAUNCH,
      });
      const src = path.join(ws, MAIN);
      const waitB = markerLine(src, 'transfer-lock-b');
      const lockB = markerLine(src, 'audit-lock-b');
      await vs.start(ws);
      await vs.open(MAIN);
      await startDebugging(vs, MAIN);

      // lockscope's agent steps aside; the runtime's fatal error stops the
      // program under Delve, and the report names the cycle.
      await vs.waitFor(
        'the program to stop on the deadlock (the debug toolbar shows Continue)',
        () => window.e2e.toolbar() === 'paused',
        undefined,
        T.session,
      );
      await vs.command('Run and Debug: Focus on Contention View');
      const rows = await vs.waitFor(
        'the Contention view to head with "Deadlocks and stuck waits" and the cycle',
        () => {
          const r = window.e2e.paneRows('Contention') || [];
          // A row's accessible name is its tooltip when it has one, else its label and description.
          return r.length > 1 &&
            r[0].label.startsWith('Deadlocks and stuck waits') &&
            /^Deadlock: goroutine \d+ → \d+ → \d+/.test(r[1].label)
            ? r
            : null;
        },
        undefined,
        T.report,
      );
      vs.log(`contention view: ${rows.map((r) => r.label).join(' | ')}`);
      await vs.soft(() =>
        assert.ok(
          rows.some((r) => r.label.includes(`/main.go:${waitB}`)),
          `a link row names the wait for b at main.go:${waitB}: ${rows.map((r) => r.label).join(' | ')}`,
        ),
      );

      await vs.shot('deadlock-view');

      // The waiting line and the holder's Lock line carry the deadlock. The
      // stop opened the runtime's proc.go: open main.go again first.
      await vs.open(MAIN);
      await vs.reveal(MAIN, waitB);
      const waiting = await vs.waitFor(
        `the deadlock mark on main.go:${waitB}`,
        ({ file, line }) => {
          const icon = window.e2e.heatAt(file, line);
          const texts = window.e2e.afterTexts(file, line);
          return icon && icon.startsWith('heat-waiter-4') && texts.some((t) => t.includes('deadlock'))
            ? { icon, texts }
            : null;
        },
        { file: MAIN, line: waitB },
        T.report,
      );
      assert.match(waiting.texts.join(' '), /⛔ deadlock · goroutine \d+ waits for b\b/);
      // Only the lines on screen are in the page: bring the holder's in.
      await vs.reveal(MAIN, lockB);
      const holder = await vs.waitFor(
        `the holder's mark on main.go:${lockB}`,
        ({ file, line }) => {
          const icon = window.e2e.heatAt(file, line);
          const texts = window.e2e.afterTexts(file, line);
          return icon && icon.startsWith('heat-holder-4') && texts.some((t) => t.includes('took b here'))
            ? { icon, texts }
            : null;
        },
        { file: MAIN, line: lockB },
      );
      vs.log(`marks: ${waiting.texts.join(' ')} / ${holder.texts.join(' ')}`);
      await vs.shot('deadlock');

      await stopDebugging(vs, MAIN);
    });
  },
);

const SHARDS_LAUNCH = launchJSON('shards', {
  args: ['-d', '8s'],
  lockscope: { refreshSeconds: 1, traceSeconds: 0 },
});

test(
  'compare: Save Capture… before the fix, Compare with Capture… after it: the coarse lock is gone, nothing is worse; the graph draws the Stats lock',
  { timeout: 300_000 },
  async () => {
    await scenario('7-compare', async (vs) => {
      const STORE = 'store.go';
      const ws = makeWorkspace(path.join(vs.dir, 'shards'), {
        template: 'vscode-crashmap',
        program: 'shards',
        launch: SHARDS_LAUNCH,
      });
      const src = path.join(ws, STORE);
      const coarseLock = markerLine(src, 'coarse-lock');
      const coarseUnlock = markerLine(src, 'coarse-unlock');
      const oldStats = markerLine(src, 'stats-lock');
      const oldStatsUnlock = markerLine(src, 'stats-unlock');
      // main's last line, after the 8 s of work: a breakpoint there holds
      // each session open on a finished run. A session's capture does not
      // record how long the program ran, so the comparison is per capture,
      // not per second, and only runs of one length compare fairly.
      const end =
        fs
          .readFileSync(path.join(ws, MAIN), 'utf8')
          .split('\n')
          .findIndex((l) => l.includes('fmt.Println("counted"')) + 1;
      assert.ok(end > 0, 'main.go prints what it counted');
      // Outside the workspace: the path is typed, not the dialog's default.
      const capture = path.join(vs.dir, 'captures', 'before-the-fix.zip');
      fs.mkdirSync(path.dirname(capture), { recursive: true });
      await vs.start(ws);
      await vs.open(MAIN);
      await vs.focusEditor(MAIN, end);
      await vs.page.keyboard.press('F9');
      await vs.waitFor(`a breakpoint on ${MAIN}:${end} (F9)`, (f) => window.e2e.breakpointGlyphs(f).length === 1, MAIN);

      // runToEnd starts a session from store.go and waits for it to stop at
      // the end of the run, with the report of the whole run.
      const runToEnd = async () => {
        await vs.open(STORE);
        await startDebugging(vs, STORE);
        await vs.waitFor(
          `the program to stop at the end of its run (${MAIN}:${end})`,
          ({ file, line }) => window.e2e.stoppedLine(file) === line,
          { file: MAIN, line: end },
          T.session,
        );
        await vs.open(STORE);
      };

      // Before the fix: every Add waits for the one Store lock.
      await runToEnd();
      await expectHeat(vs, STORE, coarseUnlock, 'holder');
      await expectHeat(vs, STORE, coarseLock, 'waiter');
      await expectHeat(vs, STORE, oldStats, 'waiter');
      await vs.reveal(STORE, coarseLock);
      await vs.shot('before-the-fix');

      await vs.command('lockscope: Save Capture…', 'Save the capture');
      await vs.fileDialog('Save the capture', capture);
      await vs.waitFor(
        `the status bar to say the capture was saved to ${capture}`,
        (capture) =>
          (document.querySelector('.part.statusbar')?.innerText || '').includes(
            `lockscope: saved the capture to ${capture}`,
          ),
        capture,
      );
      // The adapter read it back before it answered: here, only that it is a zip.
      assert.equal(fs.readFileSync(capture).subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'the capture is a zip');
      vs.log(`saved ${capture} (${fs.statSync(capture).size} bytes)`);
      await vs.shot('saved');
      await stopDebugging(vs, STORE);
      await noOverlays(vs, STORE);

      // The fix, written over store.go as a patch would: the lock split
      // into shards, every line below it moved.
      fs.copyFileSync(path.join(root, 'testdata', 'shards', 'fix', 'store.go.txt'), src);
      const shardLines = [markerLine(src, 'shard-lock'), markerLine(src, 'shard-unlock')];
      const newStats = markerLine(src, 'stats-lock');
      const statsUnlock = markerLine(src, 'stats-unlock');
      await vs.reveal(STORE, 4);
      await vs.waitFor(
        'the editor to show the fixed store.go',
        (f) => window.e2e.editorText(f).includes('hash/maphash'),
        STORE,
      );

      // After the fix: a run of the same length, compared with the capture.
      await runToEnd();
      await expectHeat(vs, STORE, newStats, 'waiter');
      await vs.command('lockscope: Compare with Capture…', 'Compare with a saved capture');
      await vs.fileDialog('Compare with a saved capture', capture);

      // The Stats lock, 22 lines lower now, is matched to its old line and
      // is as it was: "= a → b" after the line.
      await vs.reveal(STORE, newStats);
      const stats = await vs.waitFor(
        `the comparison's text after ${STORE}:${newStats} (the Stats lock)`,
        ({ file, line }) => window.e2e.afterTexts(file, line).find((t) => /[▲▼=] .* → |▲ new/.test(t)),
        { file: STORE, line: newStats },
        T.report,
      );
      assert.match(stats, /^= \S+ \S+ → \S+ \S+$/, 'the Stats lock is as it was');
      await vs.shot('compared-stats');

      // The Contention view: the coarse Lock and Unlock gone, the Stats
      // lock's two lines matched across the edit, and nothing worse. A "new"
      // line is only the shards' own lock, which did not exist before. The
      // view has only the rows in sight in the page: it is read in a tall page.
      await vs.command('Run and Debug: Focus on Contention View');
      const size = vs.page.viewportSize();
      await vs.page.setViewportSize({ width: size.width, height: 1600 });
      try {
        const stats = [
          [newStats, oldStats],
          [statsUnlock, oldStatsUnlock],
        ];
        const group = await vs.waitFor(
          `the "Compared with …" group: store.go:${coarseLock} and :${coarseUnlock} gone, the Stats lock matched`,
          ({ gone, stats }) => {
            const rows = window.e2e.compareRows();
            const has = (name, change) => rows.some((r) => r.name === name && r.description.startsWith(change));
            return gone.every((l) => has(`store.go:${l}`, '▼ gone (was ')) &&
              stats.every(([now, was]) => has(`store.go:${now} (was line ${was})`, '= '))
              ? rows
              : null;
          },
          { gone: [coarseLock, coarseUnlock], stats },
          T.report,
        );
        vs.log(`compared: ${group.map((r) => `${r.name} ${r.description}`).join(' | ')}`);
        const [head, ...changes] = group;
        const counts = head.description.match(/^(\d+) better or gone, (\d+) worse or new$/);
        assert.ok(counts, `the group's description counts the changes: ${head.description}`);
        const up = changes.filter((r) => r.description.startsWith('▲'));
        assert.equal(up.length, Number(counts[2]), 'every line that is worse or new is listed');
        assert.deepEqual(
          up.filter((r) => !(shardLines.some((l) => r.name === `store.go:${l}`) && r.description.startsWith('▲ new'))),
          [],
          `no line but the shards' lock (lines ${shardLines}) is new or worse`,
        );
        await vs.shot('compared-view');
      } finally {
        await vs.page.setViewportSize(size);
      }

      // On the code: the shards' lines carry at most "▲ new"; the coarse
      // lock's old line numbers hold other code now, and no change.
      for (const line of [...shardLines, coarseLock, coarseUnlock]) {
        await vs.reveal(STORE, line);
        const texts = (await vs.check('afterTexts', STORE, line)).filter((t) => /^[▲▼=] /.test(t));
        if (shardLines.includes(line)) {
          assert.ok(
            texts.every((t) => t.startsWith('▲ new · ')),
            `${STORE}:${line}: ${JSON.stringify(texts)}`,
          );
        } else {
          assert.deepEqual(texts, [], `${STORE}:${line} holds other code now: no change drawn`);
        }
      }
      await vs.reveal(STORE, shardLines[0]);
      await vs.shot('compared-shards');

      // The Blocking Graph of the compared report: Tick's wait for Hold's release.
      await vs.command('lockscope: Show Blocking Graph');
      const graph = await waitForGraph(
        vs,
        `the graph to draw the Stats lock: line ${newStats} waits for the holder at line ${statsUnlock}`,
        (st) => (hop(st, newStats, statsUnlock) ? st : null),
        T.report,
      );
      const node = (line) => graph.nodes.find((n) => n.line === line);
      assert.deepEqual(
        [node(newStats).text[0], node(statsUnlock).text[0]],
        ['st.mu.Lock()', 'st.mu.Unlock()'],
        'the nodes are named by the lock expression on their lines',
      );
      assert.equal(graph.empty, null);
      vs.log(`graph: ${graph.nodes.length} nodes (${graph.nodes.map((n) => n.text[0]).join(', ')})`);
      await vs.shot('graph');

      await stopDebugging(vs, STORE);
      const errors = (await vs.check('notifications')).filter((n) => n.error).map((n) => n.text);
      await vs.soft(() => assert.deepEqual(errors, [], `no error notification: ${errors}`));
    });
  },
);

// Fail loudly if the environment is not the one the script sets up.
assert.ok(fs.existsSync(env.extensions), `no extensions folder at ${env.extensions}`);
