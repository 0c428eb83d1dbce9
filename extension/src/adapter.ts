/**
 * Starting the adapter: the `lockscope dap` binary bundled in the VSIX, the
 * `lockscope.adapterPath` setting, or a binary built with `go build` from a
 * checkout of the lockscope module; or a `debugServer` port for developing the
 * adapter; and the environment that makes it use the Go that vscode-go's
 * settings pick. Also the tracker that logs DAP traffic at trace level.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { GoSettings, goToolEnv } from './logic/goEnv';

const MODULE = 'github.com/lockscope/lockscope';

/** AdapterLocator finds (or builds) the lockscope binary. */
export class AdapterLocator {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** configured returns the adapterPath setting, ignoring workspace values in an untrusted workspace. */
  configured(): string | undefined {
    const inspect = vscode.workspace.getConfiguration('lockscope').inspect<string>('adapterPath');
    const fromWorkspace = inspect?.workspaceFolderValue ?? inspect?.workspaceValue;
    if (fromWorkspace && !vscode.workspace.isTrusted) {
      this.log.warn(`lockscope.adapterPath ${fromWorkspace} comes from an untrusted workspace: not running it`);
      void vscode.window.showWarningMessage(
        'lockscope: this workspace is not trusted, so its lockscope.adapterPath setting is not run. Trust the workspace or set the path in your user settings.',
      );
      return inspect?.globalValue || undefined;
    }
    return fromWorkspace || inspect?.globalValue || undefined;
  }

  /**
   * goEnv is the environment (added to the extension host's) in which a
   * lockscope process builds and runs Go for a file or folder: the Go that
   * go.goroot, go.alternateTools.go and go.toolsEnvVars pick (logic/goEnv).
   * In an untrusted workspace only the user's own values count: the
   * workspace's would choose which program runs.
   */
  goEnv(scope?: vscode.Uri): Record<string, string> {
    const folder = scope ? vscode.workspace.getWorkspaceFolder(scope) : vscode.workspace.workspaceFolders?.[0];
    const config = vscode.workspace.getConfiguration('go', folder?.uri ?? scope);
    const trusted = vscode.workspace.isTrusted;
    const pick = (key: string): unknown => {
      const i = config.inspect(key);
      const workspace = i?.workspaceFolderValue ?? i?.workspaceValue;
      if (workspace !== undefined && !trusted) {
        this.log.warn(`go.${key} comes from an untrusted workspace: lockscope uses only your user setting`);
        return i?.globalValue;
      }
      return workspace ?? i?.globalValue;
    };
    const settings: GoSettings = {
      goroot: pick('goroot'),
      alternateTools: pick('alternateTools'),
      toolsEnvVars: pick('toolsEnvVars'),
    };
    const got = goToolEnv(settings, {
      processEnv: process.env,
      platform: process.platform,
      workspaceFolder: folder?.uri.fsPath,
      homeDir: os.homedir(),
      shimRoot: this.context.globalStorageUri.fsPath,
      hash: (s) => createHash('sha256').update(s).digest('hex').slice(0, 16),
    });
    for (const note of got.notes) {
      this.log.info(`Go for lockscope: ${note}`);
    }
    if (got.shim) {
      try {
        fs.mkdirSync(got.shim.dir, { recursive: true });
        // Written to a temporary name and renamed: another window may be
        // running this shim right now.
        const tmp = `${got.shim.file}.${process.pid}`;
        fs.writeFileSync(tmp, got.shim.text, { mode: 0o755 });
        fs.renameSync(tmp, got.shim.file);
      } catch (err) {
        this.log.error(`Go for lockscope: cannot write ${got.shim.file}: ${(err as Error).message}`);
      }
    }
    return got.env;
  }

  /** bundled is the binary the VSIX carries. */
  bundled(): string {
    return path.join(
      this.context.extensionPath,
      'extension',
      'bin',
      `lockscope${process.platform === 'win32' ? '.exe' : ''}`,
    );
  }

  /** built is where a binary built by the extension goes. */
  built(): string {
    return path.join(this.context.globalStorageUri.fsPath, 'lockscope');
  }

  /** find returns a runnable binary, offering to build one when there is none. */
  async find(): Promise<string | undefined> {
    const configured = this.configured();
    if (configured) {
      if (!isExecutable(configured)) {
        throw new Error(`lockscope.adapterPath is ${configured}, which is not an executable file.`);
      }
      return configured;
    }
    for (const p of [this.bundled(), this.built()]) {
      if (isExecutable(p)) {
        return p;
      }
    }
    const choice = await vscode.window.showInformationMessage(
      'lockscope: no adapter binary is bundled for this platform. Build it now with `go build`?',
      { modal: true },
      'Build',
    );
    if (choice !== 'Build') {
      return undefined;
    }
    return this.build();
  }

  /** build runs go build (from a checkout) or go install (from the module proxy) with progress. */
  async build(): Promise<string> {
    const out = this.built();
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const checkout = fs.existsSync(path.join(this.context.extensionPath, 'go.mod'))
      ? this.context.extensionPath
      : undefined;
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'lockscope: building the adapter' },
      async (progress) => {
        if (checkout) {
          progress.report({ message: `go build ./adapter in ${checkout}` });
          await run('go', ['build', '-o', out, './adapter'], checkout, this.log, this.goEnv());
        } else {
          const version = (this.context.extension.packageJSON as { version?: string }).version ?? 'latest';
          const gobin = path.dirname(out);
          progress.report({ message: `go install ${MODULE}/adapter@v${version}` });
          await run('go', ['install', `${MODULE}/adapter@v${version}`], gobin, this.log, {
            ...this.goEnv(),
            GOBIN: gobin,
          });
          fs.renameSync(path.join(gobin, 'adapter'), out);
        }
        return out;
      },
    );
  }
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  log: vscode.LogOutputChannel,
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  log.info(`running ${cmd} ${args.join(' ')} in ${cwd}`);
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (!err) {
        resolve();
        return;
      }
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') {
        reject(
          new Error('`go` was not found on PATH: install Go 1.26 or set lockscope.adapterPath to a lockscope binary.'),
        );
        return;
      }
      reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
    });
  });
}

/** AdapterFactory hands VS Code the adapter for a lockscope session. */
export class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(
    private readonly locator: AdapterLocator,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async createDebugAdapterDescriptor(session: vscode.DebugSession): Promise<vscode.DebugAdapterDescriptor | undefined> {
    const port = session.configuration.debugServer as unknown;
    if (typeof port === 'number') {
      this.log.info(`connecting to the adapter at 127.0.0.1:${port} (debugServer)`);
      return new vscode.DebugAdapterServer(port, '127.0.0.1');
    }
    let bin: string | undefined;
    try {
      bin = await this.locator.find();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.log.error(msg);
      void vscode.window.showErrorMessage(`lockscope: ${msg}`);
      return undefined;
    }
    if (!bin) {
      void vscode.window.showErrorMessage(
        'lockscope: no adapter binary. Set lockscope.adapterPath, or build one with `go build -o lockscope ./adapter` in a lockscope checkout.',
      );
      return undefined;
    }
    this.log.info(`starting ${bin} dap`);
    return new vscode.DebugAdapterExecutable(bin, ['dap'], { env: this.locator.goEnv(session.workspaceFolder?.uri) });
  }
}

/** TrafficTracker logs every DAP message at trace level, as vscode-go does. */
export class TrafficTracker implements vscode.DebugAdapterTrackerFactory {
  constructor(private readonly log: vscode.LogOutputChannel) {}

  createDebugAdapterTracker(session: vscode.DebugSession): vscode.DebugAdapterTracker {
    const log = this.log;
    const name = session.name;
    return {
      onWillReceiveMessage: (m: unknown) => log.trace(`[${name}] -> to adapter ${JSON.stringify(m)}`),
      onDidSendMessage: (m: unknown) => log.trace(`[${name}] <- from adapter ${JSON.stringify(m)}`),
      onError: (e: Error) => log.error(`[${name}] adapter error: ${e.message}`),
      onExit: (code: number | undefined, signal: string | undefined) =>
        log.info(`[${name}] adapter exited (code ${code ?? '-'}, signal ${signal ?? '-'})`),
    };
  }
}
