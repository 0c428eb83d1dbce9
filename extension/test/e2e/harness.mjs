// The real-VS-Code harness: one code-server per scenario (fresh user data,
// fresh XDG dirs, a fresh copy of a testdata workspace, bound to 127.0.0.1 on
// a free port), driven in Debian's Chromium by playwright-core. Every wait
// is a condition with a timeout whose message names what did not appear;
// there are no fixed sleeps. scripts/test-vscode.sh sets the environment
// (and installs the VSIX into LOCKSCOPE_E2E_EXTENSIONS) before node --test
// runs the scenarios in vscode.test.mjs.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { installHelpers } from './dom.mjs';

export const root = path.resolve(import.meta.dirname, '../../..');

function need(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the suite with scripts/test-vscode.sh`);
  }
  return v;
}

export const env = {
  node24: need('LOCKSCOPE_NODE24'),
  codeServer: need('LOCKSCOPE_CODE_SERVER'),
  chromium: process.env.LOCKSCOPE_CHROMIUM || '/usr/bin/chromium',
  extensions: need('LOCKSCOPE_E2E_EXTENSIONS'),
  scratch: need('LOCKSCOPE_E2E_SCRATCH'),
  output: process.env.LOCKSCOPE_E2E_OUTPUT || path.join(root, '.e2e-output'),
};

// The go command's own settings, read before XDG_* point elsewhere: the
// debuggee builds with the user's build cache (a cold one costs a minute)
// and go env file.
const goEnv = JSON.parse(
  execFileSync('go', ['env', '-json', 'GOCACHE', 'GOENV', 'GOMODCACHE', 'GOPATH'], { encoding: 'utf8' }),
);

/** Timeouts, in milliseconds. */
export const T = {
  ui: 15_000, // a UI element after an action
  session: 60_000, // a debug session to start (Delve builds the program)
  report: 30_000, // the first report (refreshSeconds 1) after the program runs
  stop: 30_000, // a conditional breakpoint to be hit
};

/** log prints a progress line with the time since the scenario started. */
function logger(name) {
  const t0 = Date.now();
  return (msg) => console.log(`[${name} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

/** until polls fn (sync or async) until it returns a truthy value; the error names what. */
export async function until(what, fn, timeout = T.ui, interval = 100) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) {
        return v;
      }
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function healthz(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** markerLine returns the 1-based line of file that carries `lockscope:<marker>`. */
export function markerLine(file, marker) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => new RegExp(`lockscope:${marker}(\\s|$)`).test(l));
  if (i < 0) {
    throw new Error(`no marker lockscope:${marker} in ${file}`);
  }
  return i + 1;
}

// ---- processes, from /proc -------------------------------------------------

function readProc(pid) {
  const p = { pid };
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    p.state = rest[0];
    p.ppid = Number(rest[1]);
    p.comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return undefined; // gone
  }
  const tryRead = (f) => {
    try {
      return f();
    } catch {
      return '';
    }
  };
  p.cmdline = tryRead(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim());
  p.exe = tryRead(() => fs.readlinkSync(`/proc/${pid}/exe`));
  p.cwd = tryRead(() => fs.readlinkSync(`/proc/${pid}/cwd`));
  return p;
}

/** processes lists every process on the machine. */
export function processes() {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p) => p !== undefined);
}

/** ours lists the processes that belong to this run: their exe, cwd or command line names the scratch folder. */
export function ours() {
  return processes().filter(
    (p) => p.pid !== process.pid && [p.exe, p.cwd, p.cmdline].some((s) => s.includes(env.scratch)),
  );
}

/**
 * debugProcesses lists this run's lockscope adapters, debuggees and builds:
 * ours(), minus code-server's own Node processes and Chromium.
 */
export function debugProcesses() {
  const node = fs.realpathSync(path.join(env.node24, 'bin', 'node'));
  const csDir = path.resolve(env.codeServer, '../../..');
  return ours().filter(
    (p) =>
      p.exe !== node &&
      !p.exe.startsWith(csDir) &&
      !p.exe.includes('/chromium') &&
      !/^chrom/.test(p.comm) &&
      p.comm !== 'node',
  );
}

/** describeProcs prints processes for an error message. */
export function describeProcs(list) {
  return list
    .map((p) => `pid ${p.pid} (${p.comm}, state ${p.state}) exe=${p.exe} cwd=${p.cwd} cmd=${p.cmdline.slice(0, 200)}`)
    .join('\n');
}

// ---- workspace and code-server ---------------------------------------------

function copyDir(from, to) {
  fs.cpSync(from, to, { recursive: true });
}

/**
 * makeWorkspace copies testdata/<template> (and the .go files of
 * testdata/<program>, when given) into a fresh folder and returns its path.
 */
export function makeWorkspace(dir, { template, program, launch }) {
  fs.mkdirSync(dir, { recursive: true });
  copyDir(path.join(root, 'testdata', template), dir);
  if (program) {
    for (const f of fs.readdirSync(path.join(root, 'testdata', program))) {
      if (f.endsWith('.go')) {
        fs.copyFileSync(path.join(root, 'testdata', program, f), path.join(dir, f));
      }
    }
  }
  if (launch !== undefined) {
    fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(dir, '.vscode', 'launch.json'), launch);
  }
  return dir;
}

const USER_SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'remote.autoForwardPorts': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'editor.minimap.enabled': false,
  // The launch.json scenario relies on edits staying unsaved.
  'files.autoSave': 'off',
  // Sticky rows duplicate tree rows in the DOM.
  'workbench.tree.enableStickyScroll': false,
  'editor.stickyScroll.enabled': false,
};

/**
 * VSCode is one scenario's code-server and browser page. Everything it
 * starts is stopped by close(), and close() checks /proc that nothing of the
 * scenario is left.
 */
export class VSCode {
  constructor(name) {
    this.name = name;
    this.dir = path.join(env.scratch, name);
    this.out = path.join(env.output, name);
    this.shots = [];
    /** Failed checks that do not stop the scenario (soft); it fails at its end. */
    this.errors = [];
    this.step = 0;
    this.log = logger(name);
    fs.rmSync(this.out, { recursive: true, force: true });
    fs.mkdirSync(this.out, { recursive: true });
  }

  /** start runs code-server on folder and opens it in Chromium. */
  async start(folder) {
    this.folder = folder;
    const ud = path.join(this.dir, 'user-data');
    const xdg = path.join(this.dir, 'xdg');
    for (const d of ['config', 'data', 'cache', 'state', 'runtime']) {
      fs.mkdirSync(path.join(xdg, d), { recursive: true, mode: 0o700 });
    }
    fs.mkdirSync(path.join(ud, 'User'), { recursive: true });
    fs.writeFileSync(path.join(ud, 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));
    const logFile = path.join(this.out, 'code-server.log');
    this.logFile = logFile;
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const cfg = path.join(this.dir, 'code-server.yaml');
      fs.writeFileSync(cfg, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
      const fd = fs.openSync(logFile, 'a');
      const child = spawn(
        path.join(env.node24, 'bin', 'node'),
        [
          env.codeServer,
          '--config',
          cfg,
          '--user-data-dir',
          ud,
          '--extensions-dir',
          env.extensions,
          '--disable-telemetry',
          '--disable-update-check',
          '--auth',
          'none',
          '--disable-workspace-trust',
          '--ignore-last-opened',
          '--bind-addr',
          `127.0.0.1:${port}`,
          folder,
        ],
        {
          cwd: this.dir,
          detached: true, // its own process group, so close() can end it and its helpers
          stdio: ['ignore', fd, fd],
          env: {
            ...process.env,
            PATH: `${path.join(env.node24, 'bin')}:${process.env.PATH}`,
            XDG_CONFIG_HOME: path.join(xdg, 'config'),
            XDG_DATA_HOME: path.join(xdg, 'data'),
            XDG_CACHE_HOME: path.join(xdg, 'cache'),
            XDG_STATE_HOME: path.join(xdg, 'state'),
            XDG_RUNTIME_DIR: path.join(xdg, 'runtime'),
            EXTENSIONS_GALLERY: '{}',
            GOCACHE: goEnv.GOCACHE,
            GOENV: goEnv.GOENV,
            GOMODCACHE: goEnv.GOMODCACHE,
            GOPATH: goEnv.GOPATH,
          },
        },
      );
      fs.closeSync(fd);
      let exited = false;
      child.on('exit', () => (exited = true));
      this.server = child;
      try {
        await until(`code-server's /healthz on 127.0.0.1:${port} (log: ${logFile})`, async () => {
          if (exited) {
            throw new Error('code-server exited');
          }
          return healthz(port);
        });
        this.port = port;
        break;
      } catch (err) {
        this.killServer();
        if (attempt >= 3) {
          throw err;
        }
        this.log(`code-server did not start (${err.message}); trying another port`);
      }
    }
    this.log(`code-server on 127.0.0.1:${this.port}`);

    this.browser = await chromium.launchPersistentContext(path.join(this.dir, 'browser'), {
      executablePath: env.chromium,
      headless: true,
      viewport: { width: 1440, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    this.page = this.browser.pages()[0] ?? (await this.browser.newPage());
    this.page.setDefaultTimeout(T.ui);
    await this.page.addInitScript(installHelpers);
    await this.page.goto(`http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(folder)}`, {
      timeout: T.session,
    });
    await this.waitFor(
      'the workbench',
      () => !!document.querySelector('.monaco-workbench .part.editor'),
      undefined,
      T.session,
    );
    this.log('workbench loaded');
    await this.waitFor(
      'the Explorer to list the workspace folder',
      () => document.querySelectorAll('.explorer-folders-view .monaco-list-row').length > 0,
    );
    // The Problems count joins the status bar once the workbench has
    // restored its parts: before that, on a loaded machine, the command
    // palette was seen to offer a row and not run it for 15 s.
    await this.waitFor(
      'the workbench to finish loading (the Problems count in the status bar)',
      () => window.e2e.visible('[id="status.problems"]'),
      undefined,
      T.session,
    );
    return this;
  }

  /** shot saves a screenshot for this step and returns its path. */
  async shot(label) {
    this.step++;
    const file = path.join(this.out, `${String(this.step).padStart(2, '0')}-${label}.png`);
    await this.page.screenshot({ path: file });
    this.shots.push(file);
    return file;
  }

  /**
   * waitFor waits until fn (run in the page, with arg) returns a truthy value
   * and returns that value; on timeout the error names what did not appear.
   */
  async waitFor(what, fn, arg, timeout = T.ui) {
    try {
      const h = await this.page.waitForFunction(fn, arg, { timeout, polling: 100 });
      return await h.jsonValue();
    } catch (err) {
      if (/Timeout/i.test(err.message)) {
        throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`, { cause: err });
      }
      throw err;
    }
  }

  async quickInputClosed() {
    await this.waitFor('the quick input to close', () => {
      const w = document.querySelector('.quick-input-widget');
      return !w || w.style.display === 'none' || w.offsetParent === null;
    });
  }

  /**
   * quickPick opens a quick input with key, types text and clicks the row
   * whose label is exactly label (Enter on a half-loaded list can run another
   * entry). A quick input that closes under us (a debug session taking the
   * focus) or a row not offered yet (the workbench still registering views)
   * is tried again until the timeout; then the error lists the rows offered.
   * When the pick opens a quick input of its own (a file dialog), opens is
   * that input's title, and the pick is done when it shows.
   */
  async quickPick(key, text, label, what, timeout = T.ui, opens = undefined) {
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    const row = widget
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRe(label)}\\s*$`) }) })
      .first();
    const deadline = Date.now() + timeout;
    let offered;
    for (;;) {
      if (!(await input.isVisible())) {
        await this.page.keyboard.press(key);
      }
      try {
        await input.waitFor({ state: 'visible', timeout: 5000 });
        await input.fill(text, { timeout: 3000 });
        await row.waitFor({ state: 'visible', timeout: 3000 });
        await row.click({ timeout: 3000 });
        await (opens ? this.quickInputTitled(opens) : this.quickInputClosed());
        return;
      } catch (err) {
        offered = await widget
          .locator('.quick-input-list .monaco-list-row')
          .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))
          .catch(() => []);
        if (Date.now() > deadline) {
          throw new Error(`${what} offers no row "${label}"; rows: ${JSON.stringify(offered)}`, { cause: err });
        }
        this.log(`${what}: "${label}" not picked yet (${err.message.split('\n')[0]}); trying again`);
        await this.page.keyboard.press('Escape');
      }
    }
  }

  /**
   * command runs a command palette entry by its exact title; opens is the
   * title of the quick input that the command opens, if it opens one.
   */
  command(title, opens = undefined) {
    return this.quickPick('Control+Shift+P', `>${title}`, title, 'the command palette', T.ui, opens);
  }

  /** quickInputTitled waits for a quick input with a title that holds title. */
  async quickInputTitled(title, timeout = T.ui) {
    await this.waitFor(
      `the quick input "${title}"`,
      (title) => {
        const w = document.querySelector('.quick-input-widget');
        return (
          !!w && w.offsetParent !== null && (w.querySelector('.quick-input-title')?.textContent || '').includes(title)
        );
      },
      title,
      timeout,
    );
  }

  /**
   * fileDialog answers the file dialog that a command opened: code-server
   * shows showOpenDialog and showSaveDialog as VS Code's "simple" dialog, a
   * quick input whose box holds a path. It waits for the dialog (by its
   * title) to list its first folder (it sets the box then, over anything
   * typed before), types file's full path over it and presses Enter. An
   * Enter that comes while the dialog still lists the typed path's folder
   * only finishes that listing, as it does for a person: then the path is
   * typed again if the dialog changed it, and Enter pressed again.
   */
  async fileDialog(title, file) {
    const ready = (title) => {
      const w = document.querySelector('.quick-input-widget');
      if (
        !w ||
        w.offsetParent === null ||
        !(w.querySelector('.quick-input-title')?.textContent || '').includes(title)
      ) {
        return null;
      }
      const input = w.querySelector('.quick-input-box input');
      const rows = w.querySelectorAll('.quick-input-list .monaco-list-row').length;
      return input && input.value.startsWith('/') && rows > 0 ? input.value : null;
    };
    await this.waitFor(`the file dialog "${title}" to list a folder`, ready, title);
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    const deadline = Date.now() + T.ui;
    for (;;) {
      if ((await input.inputValue()) !== file) {
        await input.fill(file);
      }
      await this.check('frame');
      await input.press('Enter');
      try {
        await this.waitFor(
          `the file dialog "${title}" to close`,
          (title) => {
            const w = document.querySelector('.quick-input-widget');
            return (
              !w ||
              w.offsetParent === null ||
              !(w.querySelector('.quick-input-title')?.textContent || '').includes(title)
            );
          },
          title,
          3000,
        );
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          const says = await widget
            .locator('.quick-input-message')
            .innerText()
            .catch(() => '');
          throw new Error(
            `the file dialog "${title}" did not take ${file}: its box holds ${await input.inputValue()}; it says "${says}"`,
            { cause: err },
          );
        }
      }
    }
  }

  /**
   * open opens a workspace file (a path relative to the folder) from the
   * Explorer, pinned. The Explorer is there as soon as the workbench is, while
   * Quick Open waits for the server's file search.
   */
  async open(relative) {
    await this.command('View: Show Explorer');
    const parts = relative.split('/');
    for (const [i, part] of parts.entries()) {
      const row = this.page
        .locator(`.explorer-folders-view .monaco-list-row[aria-level="${i + 1}"][aria-label="${part}"]`)
        .first();
      await row.waitFor({ state: 'visible' });
      if (i < parts.length - 1) {
        if ((await row.getAttribute('aria-expanded')) !== 'true') {
          await row.click();
        }
        await this.waitFor(
          `the Explorer to open the folder ${part}`,
          (part) =>
            document
              .querySelector(`.explorer-folders-view .monaco-list-row[aria-label="${part}"]`)
              ?.getAttribute('aria-expanded') === 'true',
          part,
        );
      } else {
        await row.dblclick();
      }
    }
    const base = path.basename(relative);
    await this.waitFor(
      `an editor tab for ${relative}`,
      (base) =>
        [...document.querySelectorAll('.tabs-container .tab.active')].some((t) =>
          (t.getAttribute('aria-label') || '').startsWith(base),
        ),
      base,
    );
    // The first editor of a workbench that is still loading was seen to
    // take more than T.ui on a loaded machine.
    await this.waitFor(
      `the editor of ${relative} to show text`,
      (base) => !!window.e2e.editor(base)?.querySelector('.view-lines .view-line'),
      base,
      T.session,
    );
  }

  /**
   * activated waits for the lockscope extension to finish activating (its log
   * channel says so, in the extension host's log folder): an F5 pressed while
   * it activates was seen to start nothing.
   */
  async activated() {
    const logs = path.join(this.dir, 'user-data', 'logs');
    const said = () => {
      for (const session of fs.existsSync(logs) ? fs.readdirSync(logs) : []) {
        for (const host of fs.readdirSync(path.join(logs, session)).filter((d) => d.startsWith('exthost'))) {
          const f = path.join(logs, session, host, 'lockscope.lockscope', 'lockscope.log');
          if (fs.existsSync(f) && fs.readFileSync(f, 'utf8').includes('lockscope activated')) {
            return true;
          }
        }
      }
      return false;
    };
    await until('the lockscope extension to activate ("lockscope activated" in its log)', said, T.session);
  }

  /** check runs a window.e2e helper once. */
  check(name, ...args) {
    return this.page.evaluate(({ name, args }) => window.e2e[name](...args), { name, args });
  }

  /** until waits for a window.e2e helper to return a truthy value. */
  until(what, name, args = [], timeout = T.ui) {
    return this.waitFor(what, ({ name, args }) => window.e2e[name](...args), { name, args }, timeout);
  }

  /**
   * focusEditor clicks into a file's editor, on a line's text when given (or
   * the first line in view), so that it has the keyboard. Clicks go to page
   * coordinates of rendered rows: a click that makes the browser scroll the
   * editor's DOM would break Monaco's own scrolling.
   */
  async focusEditor(file, line) {
    const at = line ?? (await this.until(`a line of ${file} in view`, 'firstShownLine', [file]));
    const r = await this.reveal(file, at);
    await this.page.mouse.click(r.x + r.width - 40, r.y + r.height / 2);
  }

  /**
   * reveal brings a line of a file's editor fully into view and returns its
   * rectangle: Go to Line when it is not rendered, then the mouse wheel (Go
   * to Line leaves a line cut at the viewport's edge where it is). CodeLens
   * zones come and go and move lines: it tries again until the timeout.
   */
  async reveal(file, line, timeout = T.ui) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const shown = await this.check('lineRect', file, line);
      if (shown) {
        return shown;
      }
      if (!(await this.check('linePlace', file, line))) {
        await this.page.keyboard.press('Control+G');
        const input = this.page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor({ state: 'visible' });
        await input.fill(`:${line}`);
        await input.press('Enter');
        await this.quickInputClosed();
      }
      const p = await this.until(`line ${line} of ${file} to be rendered`, 'linePlace', [file, line]);
      if (!(await this.check('lineRect', file, line))) {
        await this.page.mouse.move(p.x, (p.portTop + p.portBottom) / 2);
        await this.page.mouse.wheel(0, Math.round((p.top + p.bottom - p.portTop - p.portBottom) / 2));
      }
      try {
        return await this.until(`line ${line} of ${file} to be in view`, 'lineRect', [file, line], 2000);
      } catch (err) {
        if (Date.now() > deadline) {
          throw err;
        }
      }
    }
  }

  /**
   * hoverLine moves the mouse over the start of a line's text and returns the
   * hover's text. A report arriving while the hover is pending (every
   * refreshSeconds) can cancel it: then the mouse moves a little and tries
   * again, until the timeout.
   */
  async hoverLine(file, line, timeout = T.ui) {
    const deadline = Date.now() + timeout;
    for (let attempt = 0; ; attempt++) {
      const r = await this.reveal(file, line);
      if (attempt === 0) {
        // Away first, so that a hover already shown elsewhere goes.
        await this.page.mouse.move(1, 1);
        await this.waitFor('no hover', () => !window.e2e.hover());
      }
      await this.page.mouse.move(r.x + 60 + (attempt % 5) * 3, r.y + r.height / 2, { steps: 4 });
      try {
        return await this.until(`the hover over ${file}:${line}`, 'hover', [], 3000);
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${timeout / 1000} s waiting for the hover over ${file}:${line}`, {
            cause: err,
          });
        }
      }
    }
  }

  /**
   * clickLens clicks the CodeLens command whose text starts with title, in
   * the zone above a line, and waits for done (a page function) to hold. The
   * lenses are drawn again with every report (each second): the click goes to
   * the link's place on the page, and is tried again if done does not follow.
   */
  async clickLens(file, line, title, done, what) {
    await this.focusEditor(file);
    await this.reveal(file, line);
    const deadline = Date.now() + T.report;
    for (;;) {
      const at = await this.waitFor(
        `the CodeLens "${title}" above ${file}:${line}`,
        ({ file, line, title }) => {
          const top = window.e2e.rowTop(file, line);
          const prev = window.e2e.rowTop(file, line - 1);
          const ed = window.e2e.editor(file);
          if (!ed || top === undefined || prev === undefined) {
            return null;
          }
          for (const a of ed.querySelectorAll('.codelens-decoration a')) {
            const zone = a.closest('.codelens-decoration');
            const t = parseFloat(zone.style.top);
            const text = a.textContent.replace(/\u00a0/g, ' ');
            if (t > prev && t < top && text.startsWith(title)) {
              const r = a.getBoundingClientRect();
              return { text, x: r.left + r.width / 2, y: r.top + r.height / 2 };
            }
          }
          return null;
        },
        { file, line, title },
        T.report,
      );
      await this.page.mouse.click(at.x, at.y);
      try {
        await this.waitFor(what, done, file, 5000);
        return at.text;
      } catch (err) {
        if (Date.now() > deadline) {
          throw err;
        }
        this.log(`clicked "${at.text}" without effect yet; clicking again`);
      }
    }
  }

  /**
   * callStack reads the whole Call Stack view and returns [{ thread, frames }],
   * with every thread expanded and folded frames shown. The list renders only
   * the rows in view, so the page is made very tall while it reads, and the
   * list is scrolled with the mouse wheel for what is still below.
   */
  async callStack() {
    await this.command('Run and Debug: Focus on Call Stack View');
    const cs = '.debug-call-stack';
    const size = this.page.viewportSize();
    await this.page.setViewportSize({ width: size.width, height: 8000 });
    try {
      const state = () =>
        this.page.evaluate((cs) => {
          const list = document.querySelector(`${cs} .monaco-list`);
          const el = list && list.querySelector('.monaco-list-rows');
          if (!el) {
            return undefined;
          }
          const r = list.getBoundingClientRect();
          return {
            rows: [...el.querySelectorAll('.monaco-list-row')].map((row) => ({
              index: Number(row.getAttribute('data-index')),
              level: row.getAttribute('aria-level'),
              expanded: row.getAttribute('aria-expanded'),
              label: row.getAttribute('aria-label') || '',
            })),
            scrollTop: -parseFloat(el.style.top || '0'),
            height: parseFloat(el.style.height || '0'),
            view: list.clientHeight,
            x: r.left + r.width / 2,
            y: r.top + Math.min(r.height / 2, 200),
          };
        }, cs);
      // settled waits until the list's height has changed and then holds still.
      const settled = async (what, before) => {
        let last = -1;
        let same = 0;
        await until(what, async () => {
          const h = (await state())?.height ?? 0;
          same = h === last ? same + 1 : 0;
          last = h;
          return h !== before && same >= 3;
        });
      };
      const scroll = async (s, dy) => {
        await this.page.mouse.move(s.x, s.y);
        await this.page.mouse.wheel(0, dy);
        await until('the Call Stack view to scroll', async () => (await state()).scrollTop !== s.scrollTop);
        return state();
      };
      let s = await this.until('the Call Stack view', 'visible', [cs]).then(state);
      // Expand every thread and load its frames (after a stop VS Code has
      // only each goroutine's top frame, then "Load More Stack Frames").
      // Frames it folds ("Show N More Stack Frames") are the runtime's: a
      // goroutine's own functions stay in view. Rows are clicked from the
      // bottom up, so that the rows still to click do not move.
      for (let guard = 0; guard < 100; guard++) {
        const targets = s.rows
          .filter((r) => (r.level === '1' && r.expanded === 'false') || r.label === 'Load More Stack Frames')
          .sort((a, b) => b.index - a.index);
        if (targets.length > 0) {
          for (const t of targets) {
            const row = this.page.locator(`${cs} .monaco-list-row[data-index="${t.index}"]`);
            await (t.level === '1' ? row.locator('.monaco-tl-twistie') : row).click();
          }
          await settled(`the frames of ${targets.length} goroutines in the Call Stack view`, s.height);
          s = await state();
          continue;
        }
        if (s.scrollTop + s.view >= s.height - 1) {
          break;
        }
        s = await scroll(s, Math.round(s.view * 0.8));
      }
      // Read every row, from the top (the clicks may have scrolled the list).
      await this.check('frame');
      s = await state();
      while (s.scrollTop > 0) {
        s = await scroll(s, -Math.round(s.height + s.view));
      }
      const rows = new Map();
      for (let guard = 0; guard < 500; guard++) {
        s.rows.forEach((r) => rows.set(r.index, r));
        if (s.scrollTop + s.view >= s.height - 1) {
          break;
        }
        s = await scroll(s, Math.round(s.view * 0.8));
      }
      const threads = [];
      for (const r of [...rows.values()].sort((a, b) => a.index - b.index)) {
        if (r.level === '1') {
          threads.push({ thread: r.label, frames: [] });
        } else if (threads.length > 0) {
          threads[threads.length - 1].frames.push(r.label);
        }
      }
      return threads;
    } finally {
      await this.page.setViewportSize(size);
    }
  }

  /** evaluate types an expression into the Debug Console and returns the row that answers it. */
  async evaluate(expression) {
    await this.command('Debug Console: Focus on Debug Console View');
    const before = (await this.check('replRows')).length;
    await this.page.keyboard.type(expression);
    await this.page.keyboard.press('Enter');
    return this.waitFor(
      `the Debug Console's answer to ${expression}`,
      ({ expression, before }) => {
        const rows = window.e2e.replRows();
        const i = rows.lastIndexOf(expression);
        return i >= before && rows.length > i + 1 ? rows[i + 1] : null;
      },
      { expression, before },
    );
  }

  /** debugProcesses lists this scenario's adapters and debuggees. */
  debugProcesses() {
    return debugProcesses().filter((p) => [p.exe, p.cwd, p.cmdline].some((s) => s.includes(this.dir)));
  }

  /**
   * soft awaits a check (a promise, or a function that asserts) and, when it
   * fails, records the failure with a screenshot and goes on: the scenario
   * still fails at its end, and the steps after it still run.
   */
  async soft(check) {
    try {
      await (typeof check === 'function' ? check() : check);
    } catch (err) {
      const shot = await this.shot('CHECK-FAILED').catch(() => '');
      this.errors.push(`${err.message} (${path.basename(shot)})`);
      this.log(`CHECK FAILED: ${err.message}`);
    }
  }

  /** fail saves a screenshot of the failure and says where the scenario's files are. */
  async fail(err) {
    try {
      if (this.page) {
        await this.shot('FAILED');
      }
    } catch {
      // the page is gone
    }
    console.error(`[${this.name}] FAILED: ${err.message}\n  screenshots and logs: ${this.out}`);
  }

  killServer() {
    if (this.server && this.server.exitCode === null && this.server.signalCode === null) {
      try {
        process.kill(-this.server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }

  /**
   * close stops the browser and code-server, then ends (by pid) anything of
   * this scenario that is left and reports it: leftovers are a failure.
   */
  async close() {
    if (this.browser) {
      await this.browser.close().catch(() => {});
    }
    if (this.server) {
      const server = this.server;
      const gone = new Promise((resolve) => {
        if (server.exitCode !== null || server.signalCode !== null) {
          resolve();
        } else {
          server.once('exit', resolve);
        }
      });
      this.killServer();
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null && server.signalCode === null) {
        process.kill(-server.pid, 'SIGKILL');
      }
    }
    // VS Code's own logs (the extension host's and the lockscope channel's).
    const logs = path.join(this.dir, 'user-data', 'logs');
    if (fs.existsSync(logs)) {
      fs.cpSync(logs, path.join(this.out, 'vscode-logs'), { recursive: true });
    }
    const mine = (p) => [p.exe, p.cwd, p.cmdline].some((s) => s.includes(this.dir));
    let left = [];
    try {
      await until(
        'the processes of this scenario to end',
        () => {
          left = ours().filter((p) => mine(p) && p.state !== 'Z');
          return left.length === 0;
        },
        10_000,
      );
    } catch {
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      throw new Error(`processes left after code-server and the browser closed (now killed):\n${describeProcs(left)}`);
    }
  }
}

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
