/**
 * launch.json support: a default configuration when there is none (F5 on a
 * Go file), envFile merged into env (Delve's DAP server has no envFile), and
 * the workspace-trust rule for URLs taken from the workspace.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { mergeEnv, parseEnvFile } from './logic/envfile';
import { parsePs, sortProcesses } from './logic/processes';

export class ConfigProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly log: vscode.LogOutputChannel) {}

  resolveDebugConfiguration(
    _folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): vscode.DebugConfiguration | undefined {
    if (!config.type && !config.request && !config.name) {
      // F5 with no launch.json: debug the package of the open Go file.
      const doc = vscode.window.activeTextEditor?.document;
      if (doc?.languageId !== 'go') {
        void vscode.window.showInformationMessage(
          'lockscope: open a Go file, or add a launch configuration of type lockscope.',
        );
        return undefined;
      }
      return {
        type: 'lockscope',
        request: 'launch',
        name: 'lockscope: Launch Package',
        mode: 'auto',
        program: doc.fileName,
      };
    }
    if (config.request === 'launch' && !config.program) {
      config.program = vscode.window.activeTextEditor?.document.fileName ?? '${workspaceFolder}';
    }
    return config;
  }

  resolveDebugConfigurationWithSubstitutedVariables(
    _folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): vscode.DebugConfiguration | undefined {
    const envFile = config.envFile as unknown;
    if (envFile !== undefined) {
      const files = (Array.isArray(envFile) ? envFile : [envFile]).filter((f): f is string => typeof f === 'string');
      const parsed: Record<string, string>[] = [];
      for (const file of files) {
        let text: string;
        try {
          text = fs.readFileSync(file, 'utf8');
        } catch (err) {
          void vscode.window.showErrorMessage(`lockscope: cannot read envFile ${file}: ${(err as Error).message}`);
          return undefined;
        }
        const p = parseEnvFile(text, file);
        p.errors.forEach((e) => this.log.warn(e));
        parsed.push(p.env);
      }
      config.env = mergeEnv(parsed, config.env as Record<string, unknown> | undefined);
      delete config.envFile;
    }
    const ls = config.lockscope as { pprofURL?: unknown } | undefined;
    if (ls?.pprofURL && !vscode.workspace.isTrusted) {
      // A URL from an untrusted folder's launch.json is not contacted.
      void vscode.window.showWarningMessage(
        `lockscope: this workspace is not trusted, so lockscope.pprofURL (${JSON.stringify(ls.pprofURL)}) is not contacted.`,
      );
      delete ls.pprofURL;
    }
    return config;
  }
}

/** pickProcess is lockscope's own process picker for attach (`${command:lockscope.pickProcess}`). */
export async function pickProcess(): Promise<string | undefined> {
  const text = await new Promise<string>((resolve, reject) => {
    execFile('ps', ['-A', '-o', 'pid=,comm=,args='], { maxBuffer: 16 << 20 }, (err, stdout) =>
      err ? reject(new Error(`ps failed: ${err.message}`)) : resolve(stdout),
    );
  });
  const goPids = new Set<number>();
  const isGo = (pid: number): boolean => goPids.has(pid);
  for (const p of parsePs(text, process.pid)) {
    if (goExe(p.pid)) {
      goPids.add(p.pid);
    }
  }
  const items = sortProcesses(parsePs(text, process.pid), isGo).map((p) => ({
    label: `${p.command} (${p.pid})`,
    description: isGo(p.pid) ? 'Go' : undefined,
    detail: p.args,
    pid: p.pid,
  }));
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Attach lockscope to a process',
    matchOnDetail: true,
    placeHolder: 'Pick the Go process to attach to',
  });
  return picked ? String(picked.pid) : undefined;
}

function goExe(pid: number): boolean {
  try {
    const fd = fs.openSync(`/proc/${pid}/exe`, 'r');
    try {
      // The Go linker puts the build id note right after the ELF headers.
      const buf = Buffer.alloc(64 << 10);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      return buf.subarray(0, n).includes('Go build ID:');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}
