/// <reference lib="dom" />
/**
 * The Blocking Graph panel's page: it receives the graph (already turned
 * into text and widths by logic/graph.ts) from the extension, lays it out
 * with dagre, left to right, and draws it as SVG. Colours come from the
 * theme's CSS variables (media/graph.css), so the picture follows the
 * theme. Clicking a node (or Enter on it) asks the extension to open its
 * line. The page loads nothing from the network: its Content-Security-Policy
 * allows only this script (by nonce) and the stylesheet of the extension.
 */
import dagre, { EdgeLabel, GraphLabel, NodeLabel } from '@dagrejs/dagre';
import type { GraphView, ViewEdge, ViewNode } from '../logic/graph';

interface VSCodeAPI {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VSCodeAPI;

const vscode = acquireVsCodeApi();
const NS = 'http://www.w3.org/2000/svg';
const PAD_X = 10;
const PAD_Y = 8;

function svg<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  parent?: Element,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  parent?.appendChild(e);
  return e;
}

let ctx: CanvasRenderingContext2D | null = null;

/** textWidth measures text in a CSS font, as the SVG will draw it. */
function textWidth(text: string, font: string): number {
  ctx ??= document.createElement('canvas').getContext('2d');
  if (!ctx) {
    return text.length * 7;
  }
  ctx.font = font;
  return ctx.measureText(text).width;
}

/** A font as SVG presentation attributes (no style attribute: the CSP allows none) and as canvas font. */
interface Font {
  attrs: Record<string, string>;
  css: string;
}

interface Fonts {
  title: Font;
  text: Font;
  small: Font;
  line: number;
}

function fonts(): Fonts {
  const style = getComputedStyle(document.body);
  const family = style.getPropertyValue('--vscode-font-family').trim() || 'sans-serif';
  const size = parseFloat(style.getPropertyValue('--vscode-font-size')) || 13;
  const font = (px: number, weight: string): Font => ({
    attrs: { 'font-family': family, 'font-size': `${px}px`, 'font-weight': weight },
    css: `${weight} ${px}px ${family}`,
  });
  return {
    title: font(size, '600'),
    text: font(size - 1, '400'),
    small: font(size - 2, '400'),
    line: Math.round(size * 1.35),
  };
}

/** curve draws dagre's edge points as a smooth path (quadratic joins at the bends). */
function curve(pts: { x: number; y: number }[]): string {
  let d = `M${pts[0].x},${pts[0].y}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const mx = (pts[i].x + pts[i + 1].x) / 2;
    const my = (pts[i].y + pts[i + 1].y) / 2;
    d += ` Q${pts[i].x},${pts[i].y} ${mx},${my}`;
  }
  const last = pts[pts.length - 1];
  return `${d} L${last.x},${last.y}`;
}

function open(n: ViewNode): void {
  vscode.postMessage({ type: 'open', file: n.file, line: n.line });
}

function drawEdge(parent: SVGGElement, e: ViewEdge, l: EdgeLabel, pts: { x: number; y: number }[], f: Fonts): void {
  const cls = ['edge', e.cycle ? 'cycle' : '', e.profiles ? 'profiles' : ''].filter(Boolean).join(' ');
  const g = svg('g', { class: cls, 'data-from': e.from, 'data-to': e.to }, parent);
  svg('title', {}, g).textContent = e.title;
  // The head grows with the edge, so that a thick edge still shows its
  // direction; the line stops at the head's base.
  const tip = pts[pts.length - 1];
  const before = pts[pts.length - 2] ?? pts[0];
  let ux = tip.x - before.x;
  let uy = tip.y - before.y;
  const len = Math.hypot(ux, uy) || 1;
  ux /= len;
  uy /= len;
  const headLen = 8 + 1.2 * e.width;
  const half = 4 + 0.9 * e.width;
  const bx = tip.x - ux * headLen;
  const by = tip.y - uy * headLen;
  const line = [...pts.slice(0, -1), { x: bx + ux, y: by + uy }];
  const attrs: Record<string, string | number> = { class: 'line', d: curve(line), 'stroke-width': e.width.toFixed(2) };
  if (e.profiles) {
    attrs['stroke-dasharray'] = '6 4';
  }
  svg('path', attrs, g);
  svg(
    'polygon',
    {
      class: 'head',
      points: `${tip.x},${tip.y} ${bx - uy * half},${by + ux * half} ${bx + uy * half},${by - ux * half}`,
    },
    g,
  );
  if (e.label) {
    // dagre keeps room for the label at (x, y), on the line: the text goes
    // just above the stroke.
    const mid = l.x !== undefined && l.y !== undefined ? { x: l.x, y: l.y } : pts[Math.floor(pts.length / 2)];
    const y = mid.y - e.width / 2 - 4;
    const t = svg('text', { class: 'label', x: mid.x, y, 'text-anchor': 'middle', ...f.small.attrs }, g);
    t.textContent = e.label;
  }
}

function drawNode(parent: SVGGElement, n: ViewNode, x: number, y: number, w: number, h: number, f: Fonts): void {
  const cls = ['node', n.role, n.cycle ? 'cycle' : ''].filter(Boolean).join(' ');
  const g = svg(
    'g',
    { class: cls, 'data-id': n.id, 'data-line': n.line, tabindex: 0, role: 'button', 'aria-label': n.lines.join(', ') },
    parent,
  );
  svg('title', {}, g).textContent = n.title;
  const rect: Record<string, string | number> = { x, y, width: w, height: h, rx: 5 };
  if (n.role === 'holds') {
    rect['stroke-dasharray'] = '5 3';
  }
  svg('rect', rect, g);
  n.lines.forEach((l, i) => {
    const font = i === 0 ? f.title : f.text;
    const t = svg(
      'text',
      { class: i === 0 ? 'what' : 'where', x: x + PAD_X, y: y + PAD_Y + i * f.line + f.line * 0.75, ...font.attrs },
      g,
    );
    t.textContent = l;
  });
  g.addEventListener('click', () => open(n));
  g.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      open(n);
    }
  });
}

function render(view: GraphView): void {
  const root = document.getElementById('graph');
  const legend = document.getElementById('legend');
  if (!root || !legend) {
    return;
  }
  root.replaceChildren();
  legend.replaceChildren(
    ...view.legend.map((s) => {
      const p = document.createElement('p');
      p.textContent = s;
      return p;
    }),
  );
  if (view.empty !== undefined) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = view.empty;
    root.appendChild(p);
    return;
  }
  const f = fonts();
  const g = new dagre.graphlib.Graph<GraphLabel, NodeLabel, EdgeLabel>();
  g.setGraph({ rankdir: 'LR', nodesep: 26, ranksep: 120, edgesep: 14, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of view.nodes) {
    const w = Math.max(...n.lines.map((l, i) => textWidth(l, i === 0 ? f.title.css : f.text.css)));
    g.setNode(n.id, { width: Math.ceil(w) + 2 * PAD_X, height: n.lines.length * f.line + 2 * PAD_Y });
  }
  for (const e of view.edges) {
    g.setEdge(
      e.from,
      e.to,
      e.label ? { width: textWidth(e.label, f.small.css) + 8, height: f.line, labelpos: 'c' } : {},
    );
  }
  dagre.layout(g);
  // A graph wider than the panel is scaled down to fit, to no less than
  // 60% (smaller text would not be read); past that the panel scrolls.
  const size = g.graph();
  const w = Math.ceil(size.width ?? 0);
  const h = Math.ceil(size.height ?? 0);
  const room = root.clientWidth;
  const scale = room > 0 && w > room ? Math.max(0.6, room / w) : 1;
  const pic = svg(
    'svg',
    { width: Math.floor(w * scale), height: Math.floor(h * scale), viewBox: `0 0 ${w} ${h}`, role: 'img' },
    root,
  );
  svg('title', {}, pic).textContent = 'Blocking graph: who waited for whom';
  const edges = svg('g', { class: 'edges' }, pic);
  for (const e of view.edges) {
    const l = g.edge(e.from, e.to);
    if (l?.points && l.points.length >= 2) {
      drawEdge(edges, e, l, l.points, f);
    }
  }
  const nodes = svg('g', { class: 'nodes' }, pic);
  for (const n of view.nodes) {
    const l = g.node(n.id);
    // dagre.layout sets every node's centre.
    const x = l.x ?? l.width / 2;
    const y = l.y ?? l.height / 2;
    drawNode(nodes, n, x - l.width / 2, y - l.height / 2, l.width, l.height, f);
  }
}

let current: GraphView | undefined;

function show(view: GraphView): void {
  current = view;
  render(view);
}

window.addEventListener('message', (ev: MessageEvent<{ type?: string; view?: GraphView }>) => {
  if (ev.data?.type === 'graph' && ev.data.view) {
    vscode.setState(ev.data.view);
    show(ev.data.view);
  }
});
// The scale follows the panel's width.
let pending = false;
window.addEventListener('resize', () => {
  if (current && !pending) {
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (current) {
        render(current);
      }
    });
  }
});
const saved = vscode.getState() as GraphView | undefined;
if (saved) {
  show(saved);
}
vscode.postMessage({ type: 'ready' });
