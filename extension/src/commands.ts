/**
 * The lockscope commands. Each asks the adapter through DAP
 * (`session.customRequest`) when a lockscope session runs, or runs
 * `lockscope analyze --json` when none does; breakpoints go through
 * `vscode.debug.addBreakpoints`, so they are VS Code's own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AdapterLocator } from './adapter';
import { runAnalyze } from './analyze';
import { ExistingBreakpoint, Variant, Want, describeSet, isDuplicate, pickBreakpoint } from './logic/breakpoints';
import { chainsThrough, describeChain } from './logic/chains';
import { Breakpoint, BreakpointsResponseBody, parseBreakpointsBody, parseReport } from './logic/report';
import { ReportStore } from './store';
import { reportLine } from './view';

/** A line argument, as lenses, hovers and tree items pass it. */
interface LineArg {
  file: string;
  line: number;
  /** viewColumn, when given, is the editor group to open the line in (openLocation only). */
  viewColumn?: number;
}

export class Commands {
  constructor(
    private readonly store: ReportStore,
    private readonly locator: AdapterLocator,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  register(context: vscode.ExtensionContext): void {
    const reg = (id: string, fn: (...args: unknown[]) => unknown): void => {
      context.subscriptions.push(
        vscode.commands.registerCommand(id, async (...args: unknown[]) => {
          try {
            await fn(...args);
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            this.log.error(`${id}: ${msg}`);
            void vscode.window.showErrorMessage(`lockscope: ${msg}`);
          }
        }),
      );
    };
    reg('lockscope.captureNow', () => this.captureNow());
    reg('lockscope.loadFile', (uri) => this.loadFile(uri instanceof vscode.Uri ? uri : undefined));
    reg('lockscope.analyzePackage', (uri) => this.analyzePackage(uri instanceof vscode.Uri ? uri : undefined));
    reg('lockscope.clear', () => this.clear());
    reg('lockscope.breakWhenContended', (a) => this.addBreakpoint(a, 'contended', 'stop'));
    reg('lockscope.logWhenContended', (a) => this.addBreakpoint(a, 'contended', 'log'));
    reg('lockscope.breakOnSecondWriter', (a) => this.addBreakpoint(a, 'secondWriter', 'stop'));
    reg('lockscope.showChain', (a) => this.showChain(a));
    reg('lockscope.openLocation', (a) => this.openLocation(a));
  }

  /** session is the lockscope session to ask: the active one, or the one that made the report. */
  private session(): vscode.DebugSession | undefined {
    const active = vscode.debug.activeDebugSession;
    if (active?.type === 'lockscope') {
      return active;
    }
    return this.store.origin?.session;
  }

  private async captureNow(): Promise<void> {
    const session = this.session();
    if (!session) {
      void vscode.window.showInformationMessage(
        'lockscope: Capture Now needs a running lockscope debug session. Without one, use Analyze Package….',
      );
      return;
    }
    try {
      const body = (await session.customRequest('lockscope/capture', {})) as unknown;
      this.store.setStatus(undefined);
      this.store.set(parseReport(body), { session, label: session.name });
    } catch (err) {
      // A stopped or ended program is a state, not an error: say it in the view.
      const msg = err instanceof Error ? err.message : String(err);
      if (/stopped|exited|nothing to capture/i.test(msg)) {
        this.store.setStatus(msg);
        vscode.window.setStatusBarMessage(`lockscope: ${msg}`, 5000);
        return;
      }
      throw err;
    }
  }

  private async loadFile(uri?: vscode.Uri): Promise<void> {
    const file =
      uri ??
      (
        await vscode.window.showOpenDialog({
          title: 'Load a mutex or block profile, or an execution trace',
          canSelectMany: false,
          filters: { 'Profiles and traces': ['pb', 'gz', 'pprof', 'out', 'trace'], 'All files': ['*'] },
        })
      )?.[0];
    if (!file) {
      return;
    }
    const session = this.session();
    if (session) {
      const body = (await session.customRequest('lockscope/load', { path: file.fsPath })) as unknown;
      this.store.set(parseReport(body), { session, label: session.name });
      return;
    }
    const bin = await this.locator.find();
    if (!bin) {
      return;
    }
    const cwd = vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath ?? path.dirname(file.fsPath);
    const report = await runAnalyze(
      bin,
      ['--load', file.fsPath],
      cwd,
      `lockscope: analysing ${path.basename(file.fsPath)}`,
      this.log,
      this.locator.goEnv(file),
    );
    if (report) {
      this.store.set(report, { label: `analyze ${path.basename(file.fsPath)}` });
    }
  }

  private async analyzePackage(uri?: vscode.Uri): Promise<void> {
    const file = uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!file || file.scheme !== 'file') {
      void vscode.window.showInformationMessage('lockscope: open a Go file of the package to analyze.');
      return;
    }
    const dir = fs.statSync(file.fsPath).isDirectory() ? file.fsPath : path.dirname(file.fsPath);
    const bin = await this.locator.find();
    if (!bin) {
      return;
    }
    const test = file.fsPath.endsWith('_test.go');
    const report = await runAnalyze(
      bin,
      test ? ['--test', dir] : [dir],
      dir,
      `lockscope: analyzing ${vscode.workspace.asRelativePath(dir)}`,
      this.log,
      this.locator.goEnv(file),
    );
    if (report) {
      this.store.set(report, { label: `analyze ${vscode.workspace.asRelativePath(dir)}` });
    }
  }

  private async clear(): Promise<void> {
    const session = this.session();
    this.store.clear();
    if (session) {
      await session.customRequest('lockscope/clear', {});
    }
  }

  /**
   * lineArg takes the command's argument, or the cursor line of the active Go
   * editor. Lenses, hovers and tree items pass report lines; the line-number
   * menu and the cursor give lines of the text as it is now, which are mapped
   * back to the report's across edits.
   */
  private lineArg(arg: unknown): LineArg | undefined {
    const a = Array.isArray(arg) ? (arg[0] as unknown) : arg;
    if (
      a &&
      typeof a === 'object' &&
      typeof (a as LineArg).file === 'string' &&
      typeof (a as LineArg).line === 'number'
    ) {
      return a as LineArg;
    }
    let file: string;
    let current: number;
    if (a && typeof a === 'object' && typeof (a as { lineNumber?: unknown }).lineNumber === 'number') {
      // editor/lineNumber/context passes { lineNumber, uri }.
      const l = a as { lineNumber: number; uri: vscode.Uri };
      file = l.uri.fsPath;
      current = l.lineNumber;
    } else {
      const editor = vscode.window.activeTextEditor;
      if (!editor) {
        return undefined;
      }
      file = editor.document.uri.fsPath;
      current = editor.selection.active.line + 1;
    }
    const line = reportLine(this.store, file, current);
    return line === undefined ? undefined : { file, line };
  }

  private async addBreakpoint(arg: unknown, want: Want, variant: Variant): Promise<void> {
    const at = this.lineArg(arg);
    if (!at) {
      void vscode.window.showInformationMessage(
        'lockscope: put the cursor on a map write first (an edited line has no suggestions until the next report).',
      );
      return;
    }
    const body = await this.suggestions(this.store.reportPath(at.file), at.line);
    const picked = pickBreakpoint(body, want, variant);
    if ('reason' in picked) {
      void vscode.window.showInformationMessage(`lockscope: ${picked.reason}`);
      return;
    }
    const bp = picked.bp;
    const existing = vscode.debug.breakpoints.map(toExisting);
    const local = bp.kind === 'function' ? bp : { ...bp, file: this.store.resolve(bp.file) ?? bp.file };
    if (isDuplicate(existing, local)) {
      void vscode.window.showInformationMessage(`lockscope: already set: ${bp.label}`);
      return;
    }
    vscode.debug.addBreakpoints([toVSCode(local, this.store, at)]);
    void vscode.window.showInformationMessage(`lockscope: ${describeSet(bp)}`);
  }

  /** suggestions asks the adapter, or reads the report's own suggestions when no session runs. */
  private async suggestions(file: string, line: number): Promise<BreakpointsResponseBody> {
    const session = this.session();
    if (session) {
      const body = (await session.customRequest('lockscope/breakpoints', { file, line })) as unknown;
      return parseBreakpointsBody(body);
    }
    const report = this.store.report;
    if (!report) {
      return {
        breakpoints: [],
        reason: 'there is no report yet: start a lockscope debug session or run Analyze Package… first',
      };
    }
    const forWrite = `${file}:${line}`;
    return { breakpoints: report.breakpoints.filter((b) => b.forWrite === forWrite) };
  }

  private async showChain(arg: unknown): Promise<void> {
    const report = this.store.report;
    const at = this.lineArg(arg);
    if (!report || !at) {
      void vscode.window.showInformationMessage('lockscope: there is no report with blocking chains yet.');
      return;
    }
    let chains = chainsThrough(report, at.file, at.line, this.store.resolve);
    if (chains.length === 0 && !Array.isArray(arg) && arg === undefined) {
      chains = report.chains;
    }
    if (chains.length === 0) {
      void vscode.window.showInformationMessage(
        'lockscope: no blocking chain passes through this line (chains come from the trace: set lockscope.traceSeconds).',
      );
      return;
    }
    const items: (vscode.QuickPickItem & { file?: string; line?: number })[] = [];
    for (const chain of chains) {
      const d = describeChain(chain, this.store.resolve);
      items.push({ label: d.title, kind: vscode.QuickPickItemKind.Separator });
      for (const s of d.steps) {
        items.push({ label: s.label, detail: s.detail, file: s.file, line: s.line });
      }
    }
    const picked = await vscode.window.showQuickPick(items, {
      title: 'Blocking chain: first waiter to last holder',
      matchOnDetail: true,
    });
    if (picked?.file && picked.line) {
      await this.openLocation({ file: picked.file, line: picked.line });
    }
  }

  private async openLocation(arg: unknown): Promise<void> {
    const at = this.lineArg(arg);
    if (!at) {
      return;
    }
    const file = this.store.resolve(at.file) ?? at.file;
    const line = Math.max(1, this.store.edits.map(file, at.line) ?? at.line);
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const pos = new vscode.Position(Math.min(line, doc.lineCount) - 1, 0);
    await vscode.window.showTextDocument(doc, {
      selection: new vscode.Range(pos, pos),
      preview: false,
      viewColumn: typeof at.viewColumn === 'number' ? at.viewColumn : undefined,
    });
  }
}

function toExisting(b: vscode.Breakpoint): ExistingBreakpoint {
  if (b instanceof vscode.SourceBreakpoint) {
    return {
      file: b.location.uri.fsPath,
      line: b.location.range.start.line + 1,
      condition: b.condition,
      hitCondition: b.hitCondition,
      logMessage: b.logMessage,
    };
  }
  if (b instanceof vscode.FunctionBreakpoint) {
    return { functionName: b.functionName, condition: b.condition, hitCondition: b.hitCondition };
  }
  return {};
}

function toVSCode(bp: Breakpoint, store: ReportStore, at: LineArg): vscode.Breakpoint {
  const condition = bp.condition || undefined;
  const hit = bp.hitCondition || undefined;
  if (bp.kind === 'function') {
    return new vscode.FunctionBreakpoint(bp.function, true, condition, hit);
  }
  // The suggestion's line is the report's; place it where that line is now.
  const line = store.edits.map(bp.file, bp.line) ?? (bp.file === at.file ? at.line : bp.line);
  const loc = new vscode.Location(vscode.Uri.file(bp.file), new vscode.Position(line - 1, 0));
  return new vscode.SourceBreakpoint(loc, true, condition, hit, bp.logMessage || undefined);
}
