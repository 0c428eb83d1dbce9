/**
 * The lockscope extension's entry point. activate only wires: the adapter
 * factory and tracker, the launch.json provider, the report store fed by the
 * `lockscope/report` DAP event, and the views that draw it. Every
 * registration goes to context.subscriptions, so deactivation leaves nothing.
 */
import * as vscode from 'vscode';
import { AdapterFactory, AdapterLocator, TrafficTracker } from './adapter';
import { Commands } from './commands';
import { CompareView } from './compare';
import { ConfigProvider, pickProcess } from './config';
import { GraphPanel } from './graphPanel';
import { lineEditOf } from './logic/edits';
import { parseReport } from './logic/report';
import { ReportStore } from './store';
import { ContentionTree, ContextKeys, Decorations, Hovers, Lenses } from './view';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('lockscope', { log: true });
  const sub = context.subscriptions;
  sub.push(log);

  const locator = new AdapterLocator(context, log);
  sub.push(vscode.debug.registerDebugAdapterDescriptorFactory('lockscope', new AdapterFactory(locator, log)));
  sub.push(vscode.debug.registerDebugAdapterTrackerFactory('lockscope', new TrafficTracker(log)));
  sub.push(vscode.debug.registerDebugConfigurationProvider('lockscope', new ConfigProvider(log)));
  sub.push(vscode.commands.registerCommand('lockscope.pickProcess', pickProcess));

  const store = new ReportStore(log);
  const decorations = new Decorations(store, context.extensionPath);
  const lenses = new Lenses(store);
  const compare = new CompareView(store, log);
  sub.push(compare);
  compare.register(context);
  const tree = new ContentionTree(
    store,
    () => decorations.unplacedPaths,
    () => compare.treeRoots(),
  );
  const keys = new ContextKeys(store);
  const view = vscode.window.createTreeView('lockscope.contention', { treeDataProvider: tree, showCollapseAll: true });
  const go: vscode.DocumentSelector = { language: 'go', scheme: 'file' };
  sub.push(
    store,
    decorations,
    view,
    vscode.languages.registerCodeLensProvider(go, lenses),
    vscode.languages.registerHoverProvider(go, new Hovers(store)),
  );
  new Commands(store, locator, log).register(context);
  const graph = new GraphPanel(store, context.extensionUri, log);
  sub.push(
    graph,
    vscode.commands.registerCommand('lockscope.showGraph', () => graph.show()),
  );

  const redraw = (): void => {
    compare.reportChanged();
    decorations.update();
    lenses.fire();
    tree.update();
    keys.update(vscode.window.activeTextEditor);
    view.message = store.status;
    const o = store.origin;
    view.description = o ? o.label : undefined;
  };
  sub.push(store.onDidChange(redraw));

  // The report event: the adapter sends it whenever the report changes.
  sub.push(
    vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
      if (e.session.type !== 'lockscope' || e.event !== 'lockscope/report') {
        return;
      }
      try {
        store.set(parseReport(e.body), { session: e.session, label: e.session.name });
      } catch (err) {
        log.error(`a lockscope/report event could not be read: ${(err as Error).message}`);
      }
    }),
    vscode.debug.onDidStartDebugSession((s) => {
      if (s.type === 'lockscope') {
        store.setStatus(undefined);
      }
    }),
    vscode.debug.onDidTerminateDebugSession((s) => {
      // Decorations belong to the session that made them.
      if (store.origin?.session?.id === s.id && !vscode.workspace.getConfiguration('lockscope').get('keepReport')) {
        store.clear();
      }
    }),
  );

  // Edits move the lines under the report: track them so that nothing
  // points at the wrong line.
  sub.push(
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (!store.report || e.document.uri.scheme !== 'file' || e.contentChanges.length === 0) {
        return;
      }
      const file = e.document.uri.fsPath;
      // Apply in reverse document order: each change's range refers to the
      // text before any of them.
      const changes = [...e.contentChanges].sort((a, b) => b.range.start.line - a.range.start.line);
      for (const c of changes) {
        const after = c.range.start.line < e.document.lineCount ? e.document.lineAt(c.range.start.line).text.length : 0;
        const edit = lineEditOf(
          {
            startLine: c.range.start.line,
            startCharacter: c.range.start.character,
            endLine: c.range.end.line,
            endCharacter: c.range.end.character,
            text: c.text,
          },
          after,
        );
        store.edits.apply(file, edit.startLine, edit.endLine, edit.newLineCount);
      }
      store.refresh();
    }),
    vscode.window.onDidChangeVisibleTextEditors((editors) => {
      decorations.forget(editors);
      decorations.redraw();
    }),
    vscode.window.onDidChangeActiveTextEditor((e) => keys.update(e)),
    vscode.window.onDidChangeTextEditorSelection((e) => keys.update(e.textEditor)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('lockscope')) {
        decorations.settingsChanged();
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => log.info('workspace trusted')),
  );

  void store.findModules().then(redraw, (err: Error) => log.warn(`finding go.mod files: ${err.message}`));
  keys.update(vscode.window.activeTextEditor);
  log.info('lockscope activated');
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}
