/**
 * The process picker's model: `ps` output in, Go processes first out. The
 * glue runs ps; this module only parses, so the order and the labels are
 * unit-tested.
 */

export interface ProcessItem {
  pid: number;
  command: string;
  args: string;
}

/** parsePs reads `ps -A -o pid=,comm=,args=` output. */
export function parsePs(text: string, self?: number): ProcessItem[] {
  const out: ProcessItem[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) {
      continue;
    }
    const pid = Number(m[1]);
    if (pid === self) {
      continue;
    }
    out.push({ pid, command: m[2] ?? '', args: (m[3] ?? '').trim() });
  }
  return out;
}

/** sortProcesses puts the likely Go programs first: the ones a debugger built, then by pid, newest first. */
export function sortProcesses(items: ProcessItem[], isGo: (pid: number) => boolean): ProcessItem[] {
  const rank = (p: ProcessItem): number => (isGo(p.pid) ? 0 : 1);
  return [...items].sort((a, b) => rank(a) - rank(b) || b.pid - a.pid);
}
