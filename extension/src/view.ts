/**
 * Drawing the report: gutter heat icons, after-line text and overview-ruler
 * marks; CodeLens on map writes; hovers; the Contention tree; and the context
 * keys that show menu entries only on the lines they apply to. The models come
 * from ./logic; this file only hands them to VS Code.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { buildLenses } from './logic/lenses';
import { lineSets } from './logic/lines';
import { Heat, LineMark, Side, buildMarks } from './logic/marks';
import { hoverMarkdown } from './logic/hover';
import { TreeNode, buildTree } from './logic/tree';
import { ReportStore } from './store';

const SIDES: Side[] = ['holder', 'waiter', 'trace', 'other'];
const HEATS: Heat[] = [1, 2, 3, 4];

const RULER: Record<Side, string> = {
  holder: 'rgba(213, 94, 0, 0.8)',
  waiter: 'rgba(0, 114, 178, 0.8)',
  trace: 'rgba(204, 121, 167, 0.8)',
  other: 'rgba(128, 128, 128, 0.6)',
};

/** Commands a hover's markdown may run. */
const HOVER_COMMANDS = [
  'lockscope.breakWhenContended',
  'lockscope.logWhenContended',
  'lockscope.breakOnSecondWriter',
  'lockscope.showChain',
  'lockscope.openLocation',
];

type Style = 'both' | 'gutter' | 'text';

function settings(): { minShare: number; style: Style } {
  const c = vscode.workspace.getConfiguration('lockscope');
  const style = c.get<string>('decorations', 'both');
  return {
    minShare: c.get<number>('minShare', 0.02),
    style: style === 'gutter' || style === 'text' ? style : 'both',
  };
}

/** Decorations owns one decoration type per side and heat, made once, so updates never flicker. */
export class Decorations implements vscode.Disposable {
  private types = new Map<string, vscode.TextEditorDecorationType>();
  private marks = new Map<string, LineMark[]>();
  private unplaced: string[] = [];
  private drawn = new Map<vscode.TextEditor, string>();
  private style: Style = 'both';

  constructor(
    private readonly store: ReportStore,
    private readonly extensionPath: string,
  ) {
    this.makeTypes();
  }

  private makeTypes(): void {
    this.types.forEach((t) => t.dispose());
    this.types.clear();
    this.drawn.clear();
    this.style = settings().style;
    for (const side of SIDES) {
      for (const heat of HEATS) {
        const icon = (theme: string): vscode.Uri =>
          vscode.Uri.file(path.join(this.extensionPath, 'extension', 'media', `heat-${side}-${heat}-${theme}.svg`));
        const gutter = this.style !== 'text';
        this.types.set(
          `${side}-${heat}`,
          vscode.window.createTextEditorDecorationType({
            isWholeLine: true,
            overviewRulerColor: RULER[side],
            overviewRulerLane: vscode.OverviewRulerLane.Right,
            light: gutter ? { gutterIconPath: icon('light'), gutterIconSize: 'contain' } : {},
            dark: gutter ? { gutterIconPath: icon('dark'), gutterIconSize: 'contain' } : {},
            after: {
              color: new vscode.ThemeColor('editorCodeLens.foreground'),
              margin: '0 0 0 2em',
              fontStyle: 'italic',
            },
            rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
          }),
        );
      }
    }
  }

  /** settingsChanged rebuilds the types when the style setting changes. */
  settingsChanged(): void {
    if (settings().style !== this.style) {
      this.makeTypes();
    }
    this.update();
  }

  /** update recomputes the marks from the store and redraws every visible editor. */
  update(): void {
    const report = this.store.report;
    this.marks.clear();
    this.unplaced = [];
    if (report) {
      const built = buildMarks(report, { minShare: settings().minShare, resolve: this.store.resolve });
      this.unplaced = built.unplaced;
      for (const m of built.marks) {
        const list = this.marks.get(m.file) ?? [];
        list.push(m);
        this.marks.set(m.file, list);
      }
    }
    this.redraw();
  }

  get unplacedPaths(): string[] {
    return this.unplaced;
  }

  redraw(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      this.draw(editor);
    }
  }

  private draw(editor: vscode.TextEditor): void {
    const file = editor.document.uri.fsPath;
    const byType = new Map<string, vscode.DecorationOptions[]>();
    for (const m of this.marks.get(file) ?? []) {
      const line = this.store.edits.map(file, m.line);
      if (line === undefined || line > editor.document.lineCount) {
        continue; // the line was edited: never point at the wrong one
      }
      const range = editor.document.lineAt(line - 1).range;
      const key = `${m.side}-${m.heat}`;
      const opts: vscode.DecorationOptions = { range };
      if (this.style !== 'gutter') {
        opts.renderOptions = { after: { contentText: m.text } };
      }
      const list = byType.get(key) ?? [];
      list.push(opts);
      byType.set(key, list);
    }
    // Skip editors whose decorations did not change: the report arrives
    // every few seconds while the program runs.
    const signature = JSON.stringify(
      [...byType].map(([k, v]) => [k, v.map((o) => [o.range.start.line, o.renderOptions?.after?.contentText])]),
    );
    if (this.drawn.get(editor) === signature) {
      return;
    }
    this.drawn.set(editor, signature);
    for (const [key, type] of this.types) {
      editor.setDecorations(type, byType.get(key) ?? []);
    }
  }

  forget(editors: readonly vscode.TextEditor[]): void {
    for (const e of [...this.drawn.keys()]) {
      if (!editors.includes(e)) {
        this.drawn.delete(e);
      }
    }
  }

  dispose(): void {
    this.types.forEach((t) => t.dispose());
    this.types.clear();
  }
}

/** Lenses shows "Break when contended" and its kin over map writes. */
export class Lenses implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly store: ReportStore) {}

  fire(): void {
    this.changed.fire();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const report = this.store.report;
    if (!report) {
      return [];
    }
    const file = document.uri.fsPath;
    const out: vscode.CodeLens[] = [];
    for (const l of buildLenses(report, this.store.resolve)) {
      if (l.file !== file) {
        continue;
      }
      const line = this.store.edits.map(file, l.line);
      if (line === undefined || line > document.lineCount) {
        continue;
      }
      out.push(
        new vscode.CodeLens(document.lineAt(line - 1).range, { title: l.title, command: l.command, arguments: l.args }),
      );
    }
    return out;
  }
}

/** Hovers explains a hot line: shares, stacks, chains and the one-click actions. */
export class Hovers implements vscode.HoverProvider {
  constructor(private readonly store: ReportStore) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const report = this.store.report;
    if (!report) {
      return undefined;
    }
    const file = document.uri.fsPath;
    const line = reportLine(this.store, file, position.line + 1);
    if (line === undefined) {
      return undefined;
    }
    const md = hoverMarkdown(report, file, line, this.store.resolve);
    if (!md) {
      return undefined;
    }
    const s = new vscode.MarkdownString(md);
    s.isTrusted = { enabledCommands: HOVER_COMMANDS };
    s.supportThemeIcons = true;
    return new vscode.Hover(s, document.lineAt(position.line).range);
  }
}

/** reportLine maps a line of the current text back to the report's line, across edits. */
export function reportLine(store: ReportStore, file: string, current: number): number | undefined {
  return store.edits.unmap(file, current);
}

/** ContentionTree is the "Contention" view in Run and Debug. */
export class ContentionTree implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private roots: TreeNode[] = [];

  constructor(
    private readonly store: ReportStore,
    private readonly unplaced: () => string[],
    /** Groups shown first: the comparison with a saved capture. */
    private readonly extra: () => TreeNode[] = () => [],
  ) {}

  update(): void {
    const report = this.store.report;
    const own = report ? buildTree(report, this.store.resolve, this.unplaced()) : [];
    // A deadlock is the headline, above even the comparison.
    const headline = own.filter((n) => n.id === 'group:stuck');
    this.roots = [...headline, ...this.extra(), ...own.filter((n) => n.id !== 'group:stuck')];
    this.changed.fire(undefined);
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? (node.children ?? []) : this.roots;
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const item = new vscode.TreeItem(
      node.label,
      node.children?.length
        ? node.contextValue === 'group' || node.contextValue === 'deadlock'
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed
        : vscode.TreeItemCollapsibleState.None,
    );
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    if (node.icon) {
      item.iconPath = new vscode.ThemeIcon(node.icon);
    }
    if (node.file && node.line) {
      item.resourceUri = vscode.Uri.file(node.file);
      item.command = {
        title: 'Open Line',
        command: 'lockscope.openLocation',
        arguments: [{ file: node.file, line: node.line }],
      };
    }
    return item;
  }
}

/** ContextKeys keeps the `when` clause keys of the menus current. */
export class ContextKeys {
  private last = '';

  constructor(private readonly store: ReportStore) {}

  update(editor: vscode.TextEditor | undefined): void {
    const report = this.store.report;
    const keys: Record<string, unknown> = { 'lockscope.hasReport': !!report };
    let contended: number[] = [];
    let unguarded: number[] = [];
    let chain: number[] = [];
    if (report && editor) {
      const file = editor.document.uri.fsPath;
      const sets = lineSets(report, file, this.store.resolve);
      const map = (lines: number[]): number[] =>
        lines.map((l) => this.store.edits.map(file, l)).filter((l): l is number => l !== undefined);
      contended = map(sets.contended);
      unguarded = map(sets.unguarded);
      chain = map([...sets.chain, ...sets.hot]);
    }
    const cursor = editor ? editor.selection.active.line + 1 : 0;
    Object.assign(keys, {
      'lockscope.contendedLines': contended,
      'lockscope.unguardedLines': unguarded,
      'lockscope.chainLines': chain,
      'lockscope.cursorContended': contended.includes(cursor),
      'lockscope.cursorUnguarded': unguarded.includes(cursor),
      'lockscope.cursorChain': chain.includes(cursor),
    });
    const json = JSON.stringify(keys);
    if (json === this.last) {
      return;
    }
    this.last = json;
    for (const [k, v] of Object.entries(keys)) {
      void vscode.commands.executeCommand('setContext', k, v);
    }
  }
}
