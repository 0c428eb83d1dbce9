/**
 * Short, human numbers for decorations, hovers and the tree: durations with
 * two significant digits and the unit that suits them, shares as whole
 * percentages.
 */

const UNITS: { unit: string; ns: number }[] = [
  { unit: 'h', ns: 3600e9 },
  { unit: 'min', ns: 60e9 },
  { unit: 's', ns: 1e9 },
  { unit: 'ms', ns: 1e6 },
  { unit: 'µs', ns: 1e3 },
  { unit: 'ns', ns: 1 },
];

/** The limit of each unit before the next larger one takes over (1000 ms is 1.0 s). */
const NEXT: Record<string, number> = { ns: 1000, µs: 1000, ms: 1000, s: 60, min: 60, h: Infinity };

function amount(v: number): string {
  // One decimal below 10 ("1.2 s", "3.0 s"), whole numbers above ("340 ms").
  return v < 9.95 ? v.toFixed(1) : String(Math.round(v));
}

/**
 * formatDuration writes a duration in nanoseconds as "1.2 s", "340 ms",
 * "85 µs", "2.5 min". Zero is "0 s"; a negative or non-finite value is "—".
 */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns) || ns < 0) {
    return '—';
  }
  if (ns === 0) {
    return '0 s';
  }
  if (ns < 1) {
    return '<1 ns';
  }
  for (let i = UNITS.length - 1; i >= 0; i--) {
    const { unit, ns: size } = UNITS[i];
    const v = ns / size;
    // Rounding may carry into the next unit: 999.7 ms is "1.0 s", not "1000 ms".
    if (i === 0 || Number(amount(v)) < NEXT[unit]) {
      if (unit === 'ns') {
        return `${Math.round(v)} ns`;
      }
      return `${amount(v)} ${unit}`;
    }
  }
  return `${amount(ns / 3600e9)} h`;
}

/**
 * formatShare writes a share (0..1) as a whole percentage: "42%", "<1%" for a
 * share above zero that rounds to nothing, "100%". Out-of-range shares are
 * clamped; a non-finite share is "—".
 */
export function formatShare(share: number): string {
  if (!Number.isFinite(share)) {
    return '—';
  }
  const pct = Math.min(1, Math.max(0, share)) * 100;
  if (pct === 0) {
    return '0%';
  }
  if (pct < 0.5) {
    return '<1%';
  }
  return `${Math.round(pct)}%`;
}

/** formatCount writes an event count with thousands separators: "25,017×". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n) || n < 0) {
    return '—';
  }
  return `${Math.round(n).toLocaleString('en-US')}×`;
}
