/**
 * Running `lockscope analyze --json` without a debug session (Analyze
 * Package…, Load Profile or Trace File… with no session), with a progress
 * notification fed by its stderr. Cancelling sends SIGINT, on which analyze
 * stops the program, takes its profiles and still prints the report.
 */
import { spawn } from 'node:child_process';
import * as vscode from 'vscode';
import { parseAnalyzeProgress } from './logic/progress';
import { Report, parseReport } from './logic/report';

/** Exit codes of lockscope analyze, as its usage text lists them. */
const EXIT_MEANING: Record<number, string> = {
  1: 'lockscope failed',
  // analyze also exits 2 when the program's Go is older than the capture
  // agent needs; its message, shown below this, names the version.
  2: 'usage error, or a Go too old for capture',
  3: 'the program did not build',
  4: 'an input could not be read',
  5: 'no input could be analysed',
};

export async function runAnalyze(
  bin: string,
  args: string[],
  cwd: string,
  title: string,
  log: vscode.LogOutputChannel,
  env: Record<string, string> = {},
): Promise<Report | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    (progress, token) =>
      new Promise<Report | undefined>((resolve, reject) => {
        const full = ['analyze', '--json', ...args];
        log.info(`running ${bin} ${full.join(' ')} in ${cwd}`);
        const child = spawn(bin, full, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        let err = '';
        let pending = '';
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.stderr.on('data', (b: Buffer) => {
          const text = b.toString('utf8');
          err = (err + text).slice(-64 << 10);
          pending += text;
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) {
            log.debug(`analyze: ${line}`);
            const msg = parseAnalyzeProgress(line);
            if (msg) {
              progress.report({ message: msg });
            }
          }
        });
        token.onCancellationRequested(() => {
          progress.report({ message: 'stopping the program and taking its profiles…' });
          child.kill('SIGINT');
        });
        child.on('error', (e) => reject(new Error(`cannot run ${bin}: ${e.message}`)));
        child.on('close', (code) => {
          const stdout = Buffer.concat(out).toString('utf8');
          if (code !== 0) {
            const why = EXIT_MEANING[code ?? 1] ?? `exit code ${code}`;
            reject(new Error(`lockscope analyze: ${why}.\n${err.trim().split('\n').slice(-8).join('\n')}`));
            return;
          }
          try {
            resolve(parseReport(JSON.parse(stdout) as unknown));
          } catch (e) {
            reject(new Error(`lockscope analyze printed no report: ${(e as Error).message}`));
          }
        });
      }),
  );
}
