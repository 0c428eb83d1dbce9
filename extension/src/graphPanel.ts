/**
 * The "Blocking Graph" webview panel: the waits-for graph of the current
 * report (logic/graph.ts), laid out and drawn by the page in
 * src/webview/graphView.ts (bundled to dist/graphView.js). It redraws when
 * the report changes, and a click on a node opens its line through
 * lockscope.openLocation. The page may load only the extension's own
 * script (by nonce) and stylesheet, and nothing from the network.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { GraphView, LineReader, buildGraph, graphView } from './logic/graph';
import { Report } from './logic/report';
import { webviewHtml } from './logic/webviewHtml';
import { ReportStore } from './store';

export class GraphPanel implements vscode.Disposable {
  static readonly viewType = 'lockscope.graph';
  private panel: vscode.WebviewPanel | undefined;
  private posted: Report | undefined;
  private postedOrigin: string | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly store: ReportStore,
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    // The store also fires for edits and settings; the graph changes only
    // with the report (or its origin).
    this.subs.push(
      store.onDidChange(() => {
        if (store.report !== this.posted || store.origin?.label !== this.postedOrigin) {
          this.post();
        }
      }),
    );
  }

  /** show opens the panel beside the editor, or brings it forward. */
  show(): void {
    if (this.panel) {
      this.panel.reveal(undefined, false);
      this.post();
      return;
    }
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const media = vscode.Uri.joinPath(this.extensionUri, 'extension', 'media');
    const panel = vscode.window.createWebviewPanel(
      GraphPanel.viewType,
      'Blocking Graph',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      { enableScripts: true, localResourceRoots: [dist, media] },
    );
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(media, 'lockscope.svg');
    panel.webview.html = this.html(panel.webview, dist, media);
    panel.onDidDispose(() => (this.panel = undefined), null, this.subs);
    panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m), null, this.subs);
  }

  private async receive(m: unknown): Promise<void> {
    const msg = m as { type?: unknown; file?: unknown; line?: unknown };
    if (msg.type === 'ready') {
      this.post();
      return;
    }
    if (msg.type === 'open' && typeof msg.file === 'string' && typeof msg.line === 'number') {
      // Open the line in another editor group than the graph's, never over
      // it: the graph would be hidden, and a hidden webview loses its page.
      // The group is named, not focused first: focus moves asynchronously,
      // and the active group at the click is the graph's own.
      const graphColumn = this.panel?.viewColumn ?? vscode.ViewColumn.Two;
      const viewColumn = graphColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
      await vscode.commands.executeCommand('lockscope.openLocation', { file: msg.file, line: msg.line, viewColumn });
    }
  }

  /** view builds what the page draws from the store's report. */
  view(): GraphView {
    const report = this.store.report;
    if (!report) {
      return {
        nodes: [],
        edges: [],
        legend: [],
        empty:
          'No report yet: start a lockscope debug session (F5), or run lockscope: Analyze Package… or Load Profile or Trace File….',
      };
    }
    return graphView(buildGraph(report, this.lines()));
  }

  /** lines reads the report's source lines from disk (where the report's build came from) for the lock names. */
  private lines(): LineReader {
    const cache = new Map<string, string[] | undefined>();
    return (file, line) => {
      if (!cache.has(file)) {
        const local = this.store.resolve(file);
        let text: string[] | undefined;
        try {
          text = local ? fs.readFileSync(local, 'utf8').split('\n') : undefined;
        } catch (err) {
          this.log.debug(`graph: reading ${local}: ${(err as Error).message}`);
        }
        cache.set(file, text);
      }
      return cache.get(file)?.[line - 1];
    };
  }

  private post(): void {
    if (this.panel) {
      const origin = this.store.origin?.label;
      this.posted = this.store.report;
      this.postedOrigin = origin;
      this.panel.title = origin ? `Blocking Graph: ${origin}` : 'Blocking Graph';
      void this.panel.webview.postMessage({ type: 'graph', view: this.view() });
    }
  }

  private html(webview: vscode.Webview, dist: vscode.Uri, media: vscode.Uri): string {
    return webviewHtml({
      title: 'Blocking Graph',
      nonce: randomBytes(16).toString('base64'),
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'graphView.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'graph.css')).toString(),
      body: '<div id="graph"></div>\n<div id="legend"></div>',
    });
  }

  dispose(): void {
    this.panel?.dispose();
    for (const s of this.subs) {
      s.dispose();
    }
  }
}
