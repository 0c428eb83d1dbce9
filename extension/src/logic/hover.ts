/**
 * Hover markdown for one line: the hotspots on it (side, primitive, delay,
 * share, count) with their heaviest stacks, the blocking chains through it,
 * the map write on it with its one-click actions, a crash and data races.
 *
 * Everything that comes from the report is escaped: function names such as
 * `main.(*Cache).Refresh` are full of markdown syntax. Links go only to files
 * that resolve in the workspace; other frames are plain text. Command links
 * carry `[{ file, line }]` (the resolved path and the report's line),
 * URI-encoded JSON, as VS Code's trusted markdown expects.
 */
import {
  chainIsRootWait,
  isRootWait,
  isUnsafeWrite,
  notHotspots,
  primitiveLabel,
  shortFunction,
  sideOf,
  validLine,
} from './classify';
import { chainsThrough, describeChain } from './chains';
import { formatCount, formatDuration, formatShare } from './format';
import { waitingOf, waitingText } from './lenses';
import { baseName, fileUri, uriComponent } from './paths';
import { Frame, Hotspot, RaceAccess, Report, Site } from './report';
import { stuckHover } from './stuck';

type Resolve = (file: string) => string | undefined;

/** How many stacks, frames per stack and chains a hover shows. */
const MAX_STACKS = 3;
const MAX_FRAMES = 4;
const MAX_CHAINS = 3;

/** escapeMarkdown backslash-escapes every character markdown (and VS Code's $(icon) syntax) could read as syntax. */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>~$&]/g, '\\$&').replace(/\r?\n/g, ' ');
}

/** commandLink writes a trusted command link with `[{ file, line }]` as its arguments. */
export function commandLink(title: string, command: string, file: string, line: number): string {
  return `[${escapeMarkdown(title)}](command:${command}?${uriComponent(JSON.stringify([{ file, line }]))})`;
}

/** placeLink writes "main.go:38" as a link to the line when the file resolves, else as plain text. */
function placeLink(resolve: Resolve, s: { file: string; line: number }): string {
  const text = escapeMarkdown(s.file ? `${baseName(s.file)}:${s.line}` : '?');
  if (!s.file || !validLine(s.line)) {
    return text;
  }
  const abs = resolve(s.file);
  return abs === undefined ? text : `[${text}](${fileUri(abs)}#L${s.line})`;
}

function fn(name: string): string {
  return escapeMarkdown(shortFunction(name) || name || '?');
}

const SIDE_TITLE: Record<string, string> = {
  holder: 'Holder side',
  waiter: 'Waiter side',
  trace: 'Trace',
  other: 'Other wait, not lock contention',
};

/**
 * shareOf names what a hotspot's share is a share of: the report counts a
 * lock line's share against the lock wait of its kind alone, and the other
 * waits (WaitGroup, channel, select) apart.
 */
function shareOf(h: Hotspot): string {
  const part = h.lock ? 'of the lock wait' : 'of the other waits';
  switch (h.kind) {
    case 'mutex':
      return `${part} in the mutex profile`;
    case 'block':
      return `${part} in the block profile`;
    case 'trace-blocked':
      return `${part} in the trace's blocked time`;
    case 'trace-blocks':
      return "of the trace's released waits";
    default:
      return `of ${h.kind || 'its kind'}`;
  }
}

/** whatHappened says in words what a hotspot's delay is. */
function whatHappened(h: Hotspot): string {
  switch (h.kind) {
    case 'mutex':
      return 'others waited for this release';
    case 'block':
      return 'waited here';
    case 'trace-blocked':
      return 'blocked here in the trace';
    case 'trace-blocks':
      return 'others stayed blocked until this line released them';
    default:
      return 'waited';
  }
}

function stackLine(resolve: Resolve, frames: Frame[]): string {
  const shown = frames.slice(0, MAX_FRAMES).map((f) => `${fn(f.function)} ${placeLink(resolve, f)}`);
  const more = frames.length > MAX_FRAMES ? ' ← …' : '';
  return `- ${shown.join(' ← ')}${more}`;
}

function hotspotSection(resolve: Resolve, h: Hotspot): string[] {
  const side = sideOf(h);
  const out: string[] = [];
  const head = `**${SIDE_TITLE[side]}** · ${escapeMarkdown(primitiveLabel(h))} in ${fn(h.function)}`;
  const facts =
    side === 'other'
      ? `⏱ ${formatDuration(h.delayNs)} ${escapeMarkdown(whatHappened(h))} · ${formatCount(h.count)}`
      : `⏱ ${formatDuration(h.delayNs)} ${escapeMarkdown(whatHappened(h))} · ${formatShare(h.share)} ${escapeMarkdown(shareOf(h))} · ${formatCount(h.count)}`;
  const lines = [head, facts];
  if (h.via) {
    lines.push(`Through a library lock: ${escapeMarkdown(h.via)}`);
  }
  if (h.callSite) {
    lines.push(
      `Reached from your code via ${placeLink(resolve, h.callSite)}${h.callSite.function ? ` (${fn(h.callSite.function)})` : ''}`,
    );
  }
  if (h.openWaits && h.openWaits > 0) {
    lines.push(
      `Still waiting after ${formatDuration(h.stillWaitingNs ?? 0)} when the trace ended (${h.openWaits === 1 ? '1 wait' : `${h.openWaits} waits`} counted up to its end)`,
    );
  }
  out.push(lines.join('  \n'));
  const stacks = (h.stacks ?? []).filter((s) => s.length > 0).slice(0, MAX_STACKS);
  if (stacks.length > 0) {
    out.push(
      `Heaviest stack${stacks.length > 1 ? 's' : ''}:\n\n${stacks.map((s) => stackLine(resolve, s)).join('\n')}`,
    );
  }
  return out;
}

function sitesText(resolve: Resolve, sites: Site[]): string {
  return sites.map((s) => `${placeLink(resolve, s)}${s.function ? ` (${fn(s.function)})` : ''}`).join(', ');
}

function raceText(resolve: Resolve, self: RaceAccess, other: RaceAccess): string {
  const g = (a: RaceAccess): string => (a.goroutine ? ` (goroutine ${a.goroutine})` : '');
  const otherText = other.file
    ? `${escapeMarkdown(other.op || 'access')} at ${placeLink(resolve, other)} in ${fn(other.function)}${g(other)}`
    : 'an access the report does not name';
  return `**Data race**: ${escapeMarkdown(self.op || 'access')} here${g(self)} and ${otherText}`;
}

/**
 * stuckLinks maps the escaped "main.go:30" of each place the stuck and
 * deadlocks sections name to a link to it; a place text that two files
 * share is left out, so that no link opens the wrong file.
 */
function stuckLinks(report: Report, resolve: Resolve): Map<string, string> {
  const out = new Map<string, string>();
  const clash = new Set<string>();
  const add = (s: { file: string; line: number } | undefined): void => {
    if (!s?.file || !validLine(s.line)) {
      return;
    }
    const text = escapeMarkdown(`${baseName(s.file)}:${s.line}`);
    const link = placeLink(resolve, s);
    if (out.has(text) && out.get(text) !== link) {
      clash.add(text);
    }
    out.set(text, link);
  };
  for (const w of report.stuck) {
    add(w);
    w.holders.forEach((h) => [h.lockedAt, h.waitsAt].forEach(add));
    w.pendingWriters?.forEach(add);
  }
  report.deadlocks.forEach((d) => d.links.forEach((l) => [l.lockedAt, l.waitsAt].forEach(add)));
  clash.forEach((t) => out.delete(t));
  return out;
}

/** linkPlaces turns the known place texts of an escaped sentence into links. */
function linkPlaces(md: string, places: Map<string, string>): string {
  if (places.size === 0) {
    return md;
  }
  const keys = [...places.keys()].sort((a, b) => b.length - a.length);
  const re = new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return md.replace(re, (k) => places.get(k) ?? k);
}

/** hoverMarkdown writes the hover of a line of a resolved file, or undefined when the report has nothing there. */
export function hoverMarkdown(report: Report, file: string, line: number, resolve: Resolve): string | undefined {
  const here = (s: { file: string; line: number }): boolean =>
    s.file !== '' && s.line === line && resolve(s.file) === file;
  const sections: string[] = [];

  // A stuck wait or a deadlock is the headline of its lines.
  const stuckPlaces = stuckLinks(report, resolve);
  for (const s of stuckHover(report, file, line, resolve)) {
    const m = /^(Deadlock|Stuck wait): /.exec(s);
    const text = linkPlaces(escapeMarkdown(m ? s.slice(m[0].length) : s), stuckPlaces);
    sections.push(m ? `**${m[1]}**: ${text}` : text);
  }

  const hotspots = report.hotspots.filter(here);
  const roots = hotspots.filter(isRootWait);
  // Not hotspots: root waits (explained below) and the wg.Done that ended them (left out, as in the marks).
  const skip = hotspots.length > 0 ? notHotspots(report) : new Set<Hotspot>();
  const shown = hotspots
    .filter((h) => !skip.has(h))
    .sort((a, b) => Number(b.lock) - Number(a.lock) || b.delayNs - a.delayNs);
  for (const h of shown) {
    sections.push(...hotspotSection(resolve, h));
  }
  for (const h of roots) {
    sections.push(
      `${fn(h.function)} waits here in ${escapeMarkdown(primitiveLabel(h))} for ${formatDuration(h.delayNs)}: ` +
        'the root goroutine waiting for its workers for the whole run, not a hotspot.',
    );
  }

  // Locks inside a dependency that this line of the user's code reached:
  // the line to change is here, the lock is in the library.
  const reached = report.hotspots
    .filter((h) => h.lock && h.callSite !== undefined && here(h.callSite) && !here(h))
    .sort((a, b) => b.delayNs - a.delayNs);
  for (const h of reached.slice(0, MAX_STACKS)) {
    sections.push(
      `**Library lock reached from here** · ${escapeMarkdown(primitiveLabel(h))} in ${fn(h.function)} at ${placeLink(resolve, h)}  \n` +
        `⏱ ${formatDuration(h.delayNs)} ${escapeMarkdown(whatHappened(h))} · ${formatShare(h.share)} ${escapeMarkdown(shareOf(h))}`,
    );
  }
  if (reached.length > MAX_STACKS) {
    sections.push(`…and ${reached.length - MAX_STACKS} more library lock lines reached from here.`);
  }

  const chains = chainsThrough(report, file, line, resolve);
  chains.slice(0, MAX_CHAINS).forEach((c) => {
    const d = describeChain(c, resolve);
    const kind = c.lock ? 'Blocking chain' : chainIsRootWait(report, c) ? 'Wait chain (root goroutine)' : 'Wait chain';
    sections.push(
      `**${kind}** (${formatDuration(c.waitNs)} · ${formatCount(c.count)}): ${escapeMarkdown(d.title)}  \n` +
        commandLink('Show chain', 'lockscope.showChain', file, line),
    );
  });
  if (chains.length > MAX_CHAINS) {
    sections.push(`…and ${chains.length - MAX_CHAINS} more chains through this line.`);
  }

  for (const w of report.mapWrites.filter(here)) {
    let head = `**Map write** ${escapeMarkdown(w.map)} (${escapeMarkdown(w.op)}) in ${fn(w.function)}`;
    if (w.guard) {
      head += `, guarded by ${escapeMarkdown(w.guard)}${w.guardRead ? ' (RLock only)' : ''}`;
    } else if (w.unguarded) {
      head += ', no lock guards it';
    }
    const lines = [head];
    if (w.contended) {
      const n = waitingOf(report, w);
      lines.push(
        `Contended: ${formatDuration(w.waitNs)} of lock wait${n === undefined ? '' : `, ${waitingText(n)} on average`}`,
      );
    }
    if (w.sometimesUnguarded && w.unguardedVia?.length) {
      lines.push(`Sometimes unguarded: entered without the lock from ${sitesText(resolve, w.unguardedVia)}`);
    }
    if (w.guardedVia?.length) {
      lines.push(`Its callers hold ${escapeMarkdown(w.guard || 'the lock')}: ${sitesText(resolve, w.guardedVia)}`);
    }
    if (w.sameLockOnly) {
      lines.push('Same lock, not seen contended: this function is not on the lock’s contended stacks');
    }
    if (w.writers.length > 0) {
      lines.push(`Other writers: ${sitesText(resolve, w.writers)}`);
    }
    const suggested = report.breakpoints.filter(here);
    for (const b of suggested) {
      lines.push(`_Suggested: ${escapeMarkdown(b.label)}_`);
    }
    const actions: string[] = [];
    if (w.contended) {
      actions.push(commandLink('Break when contended', 'lockscope.breakWhenContended', file, line));
      actions.push(commandLink('Log when contended', 'lockscope.logWhenContended', file, line));
    }
    if (isUnsafeWrite(w)) {
      actions.push(commandLink('Break on the second writer', 'lockscope.breakOnSecondWriter', file, line));
    }
    if (w.noBreakpoint) {
      lines.push(`No breakpoint: ${escapeMarkdown(w.noBreakpoint)}`);
    }
    if (actions.length > 0) {
      lines.push(actions.join(' · '));
    }
    sections.push(lines.join('  \n'));
  }

  const c = report.crash;
  if (c && here(c)) {
    const lines = [
      `**Crashed here**: ${escapeMarkdown(c.reason || 'fatal error')}${c.goroutine ? ` (goroutine ${c.goroutine})` : ''}`,
    ];
    const writers = (c.writers ?? []).filter((s) => !(s.file === c.file && s.line === c.line));
    if (writers.length > 0) {
      lines.push(`Other writer${writers.length > 1 ? 's' : ''}: ${sitesText(resolve, writers)}`);
    }
    if (c.createdBy) {
      lines.push(`Goroutine created by ${fn(c.createdBy.function)} at ${placeLink(resolve, c.createdBy)}`);
    }
    if (c.mapCrash) {
      lines.push(commandLink('Break on the second writer', 'lockscope.breakOnSecondWriter', file, line));
    }
    sections.push(lines.join('  \n'));
  }

  for (const r of report.races) {
    if (here(r.access)) {
      sections.push(raceText(resolve, r.access, r.previous));
    }
    if (here(r.previous)) {
      sections.push(raceText(resolve, r.previous, r.access));
    }
  }

  if (sections.length === 0) {
    return undefined;
  }
  return [`**lockscope** · ${escapeMarkdown(`${baseName(file)}:${line}`)}`, ...sections].join('\n\n');
}
