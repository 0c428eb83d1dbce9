/**
 * Saved captures and the comparison with one, in the editor: "Save
 * Capture…" asks the adapter for `lockscope/save`, "Compare with Capture…"
 * for `lockscope/compare`, and the change of each lock line is drawn after
 * it (`▼ 1.2 s/s → 0.1 s/s`, `▲ new`) while the heat icons keep showing the
 * current state. The comparison follows the live report: each new report of
 * the session is compared again with the same capture. The models come from
 * ./logic/compare; this file only hands them to VS Code.
 */
import * as vscode from 'vscode';
import { Comparison, compareMarks, compareTree, parseComparison } from './logic/compare';
import { parseReport } from './logic/report';
import { TreeNode } from './logic/tree';
import { ReportStore } from './store';

export class CompareView implements vscode.Disposable {
  private readonly type = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor('editorCodeLens.foreground'), margin: '0 0 0 1.5em', fontWeight: 'bold' },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly subs: vscode.Disposable[] = [];
  private cmp: Comparison | undefined;
  /** The capture compared with, and the session that compares. */
  private base: { path: string; session: vscode.DebugSession } | undefined;
  private asking = false;
  private again = false;

  constructor(
    private readonly store: ReportStore,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subs.push(
      vscode.window.onDidChangeVisibleTextEditors(() => this.draw()),
      // An edit moves the marks with the text (the store tracks it).
      vscode.workspace.onDidChangeTextDocument(() => this.draw()),
      vscode.debug.onDidTerminateDebugSession((s) => {
        if (this.base?.session.id === s.id) {
          this.base = undefined; // the last comparison stays drawn, as the report does
        }
      }),
    );
  }

  register(context: vscode.ExtensionContext): void {
    const reg = (id: string, fn: () => Promise<void>): void => {
      context.subscriptions.push(
        vscode.commands.registerCommand(id, async () => {
          try {
            await fn();
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            this.log.error(`${id}: ${msg}`);
            void vscode.window.showErrorMessage(`lockscope: ${msg}`);
          }
        }),
      );
    };
    reg('lockscope.saveCapture', () => this.save());
    reg('lockscope.compareWithCapture', () => this.compareWith());
  }

  /** treeRoots is the "Compared with …" group, for the Contention view. */
  treeRoots(): TreeNode[] {
    return this.cmp ? [compareTree(this.cmp, this.store.resolve)] : [];
  }

  private session(): vscode.DebugSession | undefined {
    const active = vscode.debug.activeDebugSession;
    if (active?.type === 'lockscope') {
      return active;
    }
    return this.store.origin?.session;
  }

  private async save(): Promise<void> {
    const session = this.session();
    if (!session) {
      void vscode.window.showInformationMessage(
        'lockscope: Save Capture needs a lockscope debug session. Without one, run `lockscope analyze --save FILE`.',
      );
      return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      title: 'Save the capture (report, raw profiles, trace summary)',
      defaultUri: folder ? vscode.Uri.joinPath(folder, 'lockscope-capture.zip') : undefined,
      filters: { 'lockscope captures': ['zip'] },
    });
    if (!target) {
      return;
    }
    const body = (await session.customRequest('lockscope/save', { path: target.fsPath })) as {
      profiles?: number;
      traces?: number;
    };
    this.log.info(
      `saved the capture to ${target.fsPath} (${body?.profiles ?? 0} profiles, ${body?.traces ?? 0} traces)`,
    );
    vscode.window.setStatusBarMessage(`lockscope: saved the capture to ${target.fsPath}`, 5000);
  }

  private async compareWith(): Promise<void> {
    const session = this.session();
    if (!session) {
      void vscode.window.showInformationMessage(
        'lockscope: Compare with Capture needs a lockscope debug session. Without one, run `lockscope diff OLD NEW`.',
      );
      return;
    }
    const file = (
      await vscode.window.showOpenDialog({
        title: 'Compare with a saved capture',
        canSelectMany: false,
        filters: { 'lockscope captures': ['zip'] },
      })
    )?.[0];
    if (!file) {
      return;
    }
    this.base = { path: file.fsPath, session };
    await this.ask();
  }

  /** reportChanged compares the session's new report with the same capture. */
  reportChanged(): void {
    if (!this.store.report) {
      this.clear(); // Clear Overlays, or a new session: the comparison goes with the report
      return;
    }
    if (this.base && this.store.origin?.session?.id === this.base.session.id && !this.cmpIsCurrent()) {
      void this.ask().catch((err: unknown) => this.log.warn(`comparing again: ${String(err)}`));
    }
    this.draw();
  }

  /** cmpIsCurrent: the store holds the report that the last comparison answered. */
  private lastAnswer: unknown;
  private cmpIsCurrent(): boolean {
    return this.store.report === this.lastAnswer;
  }

  private async ask(): Promise<void> {
    if (this.asking) {
      this.again = true; // one more after this one: a report came meanwhile
      return;
    }
    const base = this.base;
    if (!base) {
      return;
    }
    this.asking = true;
    try {
      const body = (await base.session.customRequest('lockscope/compare', { path: base.path })) as unknown;
      const cmp = parseComparison(body);
      const report = parseReport(body);
      this.cmp = cmp;
      this.lastAnswer = report;
      this.store.set(report, { session: base.session, label: base.session.name });
      this.lastAnswer = this.store.report;
      this.store.refresh();
    } finally {
      this.asking = false;
    }
    if (this.again) {
      this.again = false;
      await this.ask();
    }
  }

  /** clear forgets the comparison (Clear Overlays). */
  clear(): void {
    this.cmp = undefined;
    this.base = undefined;
    this.draw();
  }

  private draw(): void {
    const marks = this.cmp ? compareMarks(this.cmp, this.store.resolve) : [];
    for (const editor of vscode.window.visibleTextEditors) {
      const file = editor.document.uri.fsPath;
      const opts: vscode.DecorationOptions[] = [];
      for (const m of marks) {
        if (m.file !== file) {
          continue;
        }
        const line = this.store.edits.map(file, m.line);
        if (line === undefined || line < 1 || line > editor.document.lineCount) {
          continue;
        }
        const range = editor.document.lineAt(line - 1).range;
        opts.push({ range, renderOptions: { after: { contentText: m.text } } });
      }
      editor.setDecorations(this.type, opts);
    }
  }

  dispose(): void {
    this.type.dispose();
    for (const s of this.subs) {
      s.dispose();
    }
  }
}
