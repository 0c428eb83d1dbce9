/**
 * The one report the editor draws, and where it came from: a debug session's
 * `lockscope/report` events, or a `lockscope analyze --json` run. Everything
 * that draws (decorations, lenses, hovers, the tree) reads this store and
 * redraws on its change event; nothing else holds report state.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { EditTracker } from './logic/edits';
import { PathContext, parseGoModModulePath, resolveReportPath } from './logic/paths';
import { Report } from './logic/report';

export interface ReportOrigin {
  /** The debug session that sent the report, when there is one. */
  session?: vscode.DebugSession;
  /** A short description for the view, e.g. "analyze ./cmd/server". */
  label: string;
}

export class ReportStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  readonly edits = new EditTracker();

  report: Report | undefined;
  origin: ReportOrigin | undefined;
  /** A plain sentence shown at the top of the Contention view (e.g. "the program is stopped"). */
  status: string | undefined;

  private modules: { path: string; dir: string }[] = [];
  private resolved = new Map<string, string | undefined>();
  /** resolved path -> the path the adapter used, to ask it about a line. */
  private original = new Map<string, string>();
  private lastJSON = '';

  constructor(private readonly log: vscode.LogOutputChannel) {}

  /** set replaces the report. An identical report (the periodic refresh of an idle program) changes nothing. */
  set(report: Report, origin: ReportOrigin): void {
    const json = JSON.stringify(report);
    const sameOrigin = this.origin?.session?.id === origin.session?.id && this.origin?.label === origin.label;
    if (json === this.lastJSON && sameOrigin) {
      return;
    }
    this.lastJSON = json;
    this.report = report;
    this.origin = origin;
    this.resolved.clear();
    this.original.clear();
    // Report lines are fresh: forget the edits made against the last one.
    this.edits.resetAll();
    this.changed.fire();
  }

  clear(): void {
    if (!this.report && !this.status) {
      return;
    }
    this.report = undefined;
    this.origin = undefined;
    this.status = undefined;
    this.lastJSON = '';
    this.resolved.clear();
    this.original.clear();
    this.changed.fire();
  }

  setStatus(status: string | undefined): void {
    if (status !== this.status) {
      this.status = status;
      this.changed.fire();
    }
  }

  /** refresh redraws without a new report (an edit moved lines, a setting changed). */
  refresh(): void {
    this.changed.fire();
  }

  /** findModules reads the workspace's go.mod files, so -trimpath paths can be placed. */
  async findModules(): Promise<void> {
    const files = await vscode.workspace.findFiles('**/go.mod', '**/{node_modules,vendor,.git}/**', 200);
    const modules: { path: string; dir: string }[] = [];
    for (const f of files) {
      try {
        const mod = parseGoModModulePath(fs.readFileSync(f.fsPath, 'utf8'));
        if (mod) {
          modules.push({ path: mod, dir: vscode.Uri.joinPath(f, '..').fsPath });
        }
      } catch (err) {
        this.log.warn(`reading ${f.fsPath}: ${(err as Error).message}`);
      }
    }
    this.modules = modules;
    this.resolved.clear();
    this.original.clear();
  }

  private pathContext(): PathContext {
    const sub = this.origin?.session?.configuration.substitutePath as unknown;
    const substitutePath: { from: string; to: string }[] = [];
    if (Array.isArray(sub)) {
      for (const s of sub as unknown[]) {
        const e = s as { from?: unknown; to?: unknown } | null;
        if (typeof e?.from === 'string' && typeof e.to === 'string') {
          substitutePath.push({ from: e.from, to: e.to });
        }
      }
    }
    return {
      workspaceRoots: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      modules: this.modules,
      substitutePath,
      exists: (p) => fs.existsSync(p),
    };
  }

  /** resolve maps a report path to a file in this workspace (cached per report). */
  readonly resolve = (file: string): string | undefined => {
    if (this.resolved.has(file)) {
      return this.resolved.get(file);
    }
    const r = resolveReportPath(file, this.pathContext());
    this.resolved.set(file, r);
    if (r && !this.original.has(r)) {
      this.original.set(r, file);
    }
    return r;
  };

  /** reportPath is the path the report (and so the adapter) uses for a local file. */
  reportPath(local: string): string {
    return this.original.get(local) ?? local;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
