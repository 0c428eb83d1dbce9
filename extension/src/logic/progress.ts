/**
 * Progress of `lockscope analyze`: it prints lines such as
 * "lockscope: building ./cmd/server" to stderr (internal/cli, the
 * analyzer's progress calls), mixed with the program's own output, which
 * also goes to stderr. Only lockscope's own lines become progress messages.
 */

const PREFIX = 'lockscope: ';

const RULES: { re: RegExp; msg: (m: RegExpExecArray) => string }[] = [
  { re: /^building the tests of (.+)$/, msg: (m) => `Building the tests of ${m[1]}…` },
  { re: /^building (.+)$/, msg: (m) => `Building ${m[1]}…` },
  { re: /^running the tests$/, msg: () => 'Running the tests…' },
  { re: /^running (.+?) \(pid \d+\) for (.+)$/, msg: (m) => `Running ${m[1]} for ${m[2]}…` },
  { re: /^running (.+?) \(pid \d+\) until it ends$/, msg: (m) => `Running ${m[1]} until it ends…` },
  { re: /^running (.+?) \(pid \d+\)(.*)$/, msg: (m) => `Running ${m[1]}${m[2]}…` },
  { re: /^program stopped by lockscope (.+?) after (.+)$/, msg: (m) => `Stopped the program ${m[1]}; analysing…` },
  { re: /^program (.+) after (\S+)$/, msg: (m) => `Program ${m[1]} after ${m[2]}; analysing…` },
  { re: /^tests (.+) after (\S+)$/, msg: (m) => `Tests ${m[1]} after ${m[2]}; analysing…` },
  { re: /^read a (\S+ MB) trace in (\S+)$/, msg: (m) => `Read a ${m[1]} trace` },
  { re: /^read the trace (.+) in (\S+)$/, msg: (m) => `Read the trace ${m[1]}` },
  { re: /^capturing (\S+?)s from (.+)$/, msg: (m) => `Capturing ${m[1]} s from ${m[2]}…` },
  { re: /^the program crashed; (.+)$/, msg: () => 'The program crashed; the crash is in the report' },
  {
    re: /^the race detector reported (\d+) race\(s\)$/,
    msg: (m) => `The race detector reported ${m[1]} race${m[1] === '1' ? '' : 's'}`,
  },
];

/**
 * parseAnalyzeProgress turns one stderr line of `lockscope analyze` into a
 * short progress message, or undefined when the line is not progress (the
 * program's own output, or an error: "lockscope analyze: ...").
 */
export function parseAnalyzeProgress(stderrLine: string): string | undefined {
  const line = stderrLine.replace(/[\r\n]+$/, '');
  if (!line.startsWith(PREFIX)) {
    return undefined;
  }
  const rest = line.slice(PREFIX.length).trim();
  if (rest === '') {
    return undefined;
  }
  // A progress line this version does not know: show it as it is.
  return known(rest) ?? rest.charAt(0).toUpperCase() + rest.slice(1);
}

function known(rest: string): string | undefined {
  for (const r of RULES) {
    const m = r.re.exec(rest);
    if (m) {
      return r.msg(m);
    }
  }
  return undefined;
}

/** isKnownProgressLine reports whether a stderr line is a progress line this version has a message for. */
export function isKnownProgressLine(stderrLine: string): boolean {
  const line = stderrLine.replace(/[\r\n]+$/, '');
  return line.startsWith(PREFIX) && known(line.slice(PREFIX.length).trim()) !== undefined;
}
