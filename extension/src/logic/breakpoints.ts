/**
 * Choosing among the adapter's suggested breakpoints, and not setting the
 * same one twice.
 *
 * The adapter (internal/recipes) suggests, per map write: a stopping
 * breakpoint for a contended write ("stop when N or more goroutines wait for
 * mu", condition `mu.mu.state >> 3 >= N`) and its logpoint ("log when ...",
 * with a logMessage); for an unguarded write (or one under RLock only) a
 * second-writer breakpoint ("stop when another goroutine is writing m at the
 * same moment", condition `....writing != 0`, or `flags & 4 != 0` before
 * swiss maps). The label is the recipe's own words; the condition backs it
 * up when a label is missing.
 */
import { baseName } from './paths';
import { Breakpoint, BreakpointsResponseBody } from './report';

/** What the user asked for: stop on contention, or catch the second writer. */
export type Want = 'contended' | 'secondWriter';
/** A breakpoint that stops, or a logpoint. */
export type Variant = 'stop' | 'log';

/** A breakpoint VS Code already has, reduced to what tells two apart. */
export interface ExistingBreakpoint {
  file?: string;
  line?: number;
  functionName?: string;
  condition?: string;
  hitCondition?: string;
  logMessage?: string;
}

/** wantOf tells which recipe made a suggestion, or undefined when it is neither. */
export function wantOf(bp: Breakpoint): Want | undefined {
  const label = bp.label.toLowerCase();
  const cond = bp.condition;
  if (
    label.includes('another goroutine is writing') ||
    /\.writing\s*!=\s*0/.test(cond) ||
    /flags\s*&\s*4\s*!=\s*0/.test(cond)
  ) {
    return 'secondWriter';
  }
  if (/goroutines wait for/.test(label) || /state\s*>>\s*3/.test(cond)) {
    return 'contended';
  }
  return undefined;
}

/** variantOf is 'log' for a logpoint, 'stop' otherwise. */
export function variantOf(bp: Breakpoint): Variant {
  return bp.logMessage ? 'log' : 'stop';
}

function wanted(want: Want, variant: Variant): string {
  if (want === 'contended') {
    return variant === 'log' ? 'a "log when contended" logpoint' : 'a "break when contended" breakpoint';
  }
  return variant === 'log' ? 'a "log on the second writer" logpoint' : 'a "break on the second writer" breakpoint';
}

/**
 * pickBreakpoint returns the first suggestion of the kind asked for, or the
 * reason there is none: the adapter's own reason when it gave one, else a
 * sentence naming what it does suggest for the line.
 */
export function pickBreakpoint(
  body: BreakpointsResponseBody,
  want: Want,
  variant: Variant,
): { bp: Breakpoint } | { reason: string } {
  const bp = body.breakpoints.find((b) => wantOf(b) === want && variantOf(b) === variant);
  if (bp) {
    return { bp };
  }
  if (body.reason) {
    return { reason: body.reason };
  }
  if (body.breakpoints.length === 0) {
    return {
      reason: `lockscope has no breakpoint to suggest for this line: it is not a contended or unguarded map write in the report.`,
    };
  }
  const offered = [...new Set(body.breakpoints.map((b) => b.label).filter((l) => l !== ''))];
  return {
    reason:
      `lockscope suggests no ${wanted(want, variant).replace(/^an? /, '')} for this line` +
      (offered.length > 0 ? `; it suggests: ${offered.join('; ')}.` : '.'),
  };
}

function norm(s: string | undefined): string {
  return (s ?? '').trim();
}

/** samePath compares two paths whatever their separators; drive-letter paths ignore case. */
export function samePath(a: string, b: string): boolean {
  const n = (p: string): string => {
    const s = p.replace(/\\/g, '/').replace(/\/+$/, '');
    return /^[A-Za-z]:/.test(s) ? s.toLowerCase() : s;
  };
  return n(a) === n(b);
}

/**
 * isDuplicate reports whether VS Code already has this breakpoint: the same
 * place (file and line, or function) with the same condition, hit condition
 * and log message. `resolve`, when given, maps the suggestion's report path
 * to the editor's first.
 */
export function isDuplicate(
  existing: ExistingBreakpoint[],
  bp: Breakpoint,
  resolve?: (file: string) => string | undefined,
): boolean {
  const file = resolve?.(bp.file) ?? bp.file;
  return existing.some((e) => {
    const samePlace =
      bp.kind === 'function'
        ? e.functionName !== undefined && e.functionName === bp.function
        : e.file !== undefined && e.line === bp.line && samePath(e.file, file);
    return (
      samePlace &&
      norm(e.condition) === norm(bp.condition) &&
      norm(e.hitCondition) === norm(bp.hitCondition) &&
      norm(e.logMessage) === norm(bp.logMessage)
    );
  });
}

/**
 * describeSet is the notification after setting a suggestion, in the
 * recipe's own words: "Breakpoint set at main.go:32: stop when 5 or more
 * goroutines wait for balMu." Absolute paths in the label are shortened.
 */
export function describeSet(bp: Breakpoint): string {
  const where = bp.kind === 'function' ? bp.function : `${baseName(bp.file)}:${bp.line}`;
  const what = bp.kind === 'function' ? 'Function breakpoint' : bp.logMessage ? 'Logpoint' : 'Breakpoint';
  let label = bp.label;
  if (bp.forWrite) {
    const i = bp.forWrite.lastIndexOf(':');
    const short = i > 0 ? `${baseName(bp.forWrite.slice(0, i))}${bp.forWrite.slice(i)}` : bp.forWrite;
    label = label.split(bp.forWrite).join(short);
  }
  label = label.trim().replace(/[.\s]+$/, '');
  return label ? `${what} set at ${where}: ${label}.` : `${what} set at ${where}.`;
}
