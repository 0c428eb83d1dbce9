/**
 * Blocking chains as sentences: who waited on whom, from the first waiter to
 * the last holder, e.g. "withdraw:28 waits on sync.Mutex.Lock; the holder
 * waits at transfer:35 (sync.Mutex.Lock); the holder releases it at
 * auditor:51".
 */
import { linkPrimitive, shortFunction, validLine } from './classify';
import { baseName } from './paths';
import { Chain, Link, Report, Site } from './report';

type Resolve = (file: string) => string | undefined;

/** at reports whether a report site is the given resolved line. */
function at(resolve: Resolve, site: { file: string; line: number }, file: string, line: number): boolean {
  return site.line === line && site.file !== '' && resolve(site.file) === file;
}

/**
 * chainsThrough returns the chains, in the report's order, that pass through
 * a line of a resolved file: a link on it, or a wait released on it.
 */
export function chainsThrough(report: Report, file: string, line: number, resolve: Resolve): Chain[] {
  return report.chains.filter((c) =>
    c.links.some(
      (l) => at(resolve, l, file, line) || (l.releasedAt !== undefined && at(resolve, l.releasedAt, file, line)),
    ),
  );
}

/** roleOf is a link's role, guessed from its place when an older adapter sent none. */
function roleOf(chain: Chain, i: number): string {
  const l = chain.links[i];
  if (l.role) {
    return l.role;
  }
  if (l.file === '' && l.function === '') {
    return 'runtime';
  }
  return i === chain.links.length - 1 && i > 0 ? 'holds' : 'waits';
}

/** name is a link's short name for the title: "transfer:38". */
function name(l: { function?: string; file: string; line: number }): string {
  const fn = shortFunction(l.function ?? '') || baseName(l.file);
  return `${fn}:${l.line}`;
}

/** place is "main.go:38", or "?" when the report has no file. */
function place(l: { file: string; line: number }): string {
  return l.file ? `${baseName(l.file)}:${l.line}` : '?';
}

export interface ChainStep {
  label: string;
  detail: string;
  /** The resolved path, when the link's file is in the workspace. */
  file?: string;
  line?: number;
}

function located(resolve: Resolve, l: Link): { file?: string; line?: number } {
  if (!l.file || !validLine(l.line)) {
    return {};
  }
  const file = resolve(l.file);
  return file === undefined ? {} : { file, line: l.line };
}

function releasedText(r: Site | undefined): string {
  return r ? ` · released at ${name(r)} (${place(r)})` : '';
}

/**
 * queueOf is how many goroutines a "waits" link stands for when they queued
 * on one lock, each released by the one before (the adapter folds such a
 * queue into one link); 1 for a single wait.
 */
export function queueOf(l: Link): number {
  return l.queue !== undefined && l.queue > 1 ? Math.floor(l.queue) : 1;
}

/** queueText is "5 waiting in line". */
export function queueText(n: number): string {
  return `${n} waiting in line`;
}

/** libraryText says which library lock a link or hotspot went through, and the user's line that called it. */
export function libraryText(x: { via?: string; callSite?: Site }): string {
  const parts: string[] = [];
  if (x.via) {
    parts.push(x.via);
  }
  if (x.callSite) {
    parts.push(`via ${place(x.callSite)}`);
  }
  return parts.join(' · ');
}

/** describeChain writes a chain as one sentence and one step per link. */
export function describeChain(chain: Chain, resolve: Resolve): { title: string; steps: ChainStep[] } {
  const parts: string[] = [];
  const steps: ChainStep[] = [];
  chain.links.forEach((l, i) => {
    const role = roleOf(chain, i);
    const fn = shortFunction(l.function) || 'a goroutine';
    const prim = linkPrimitive(l);
    switch (role) {
      case 'runtime':
        parts.push(`the runtime wakes it (${l.reason || 'a timer, the network poller or the scheduler'})`);
        steps.push({ label: 'the runtime wakes it', detail: l.reason || 'no goroutine released this wait' });
        return;
      case 'holds':
        parts.push(i === 0 ? `${name(l)} holds ${prim}` : `the holder releases it at ${name(l)}`);
        steps.push({ label: `${fn} releases it at ${place(l)}`, detail: prim, ...located(resolve, l) });
        return;
      default: {
        const q = queueOf(l);
        const queue = q > 1 ? ` (${queueText(q)})` : '';
        const lib = libraryText(l);
        parts.push(
          (i === 0 ? `${name(l)} waits on ${prim}` : `the holder waits at ${name(l)} (${prim})`) +
            queue +
            (lib ? ` [${lib}]` : ''),
        );
        steps.push({
          label: q > 1 ? `${queueText(q)} at ${place(l)} (${fn})` : `${fn} waits at ${place(l)}`,
          detail: prim + releasedText(l.releasedAt) + (lib ? ` · ${lib}` : ''),
          ...located(resolve, l),
        });
      }
    }
  });
  const title = parts.join('; ') || 'an empty chain';
  // A chain read from the flight recorder at a stop says so: it is what
  // led up to the stop, not what the running program is doing now.
  return { title: chain.beforeStop ? `${title} (${chain.beforeStop})` : title, steps };
}
