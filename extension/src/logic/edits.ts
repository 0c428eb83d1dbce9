/**
 * Keeping report lines on the right text while the user edits.
 *
 * A report names lines of the source as it was built. Once the user edits a
 * file, {@link EditTracker} maps each report line to where that text is now,
 * and gives undefined for a line that was edited or deleted, so a
 * decoration, lens or hover never points at the wrong line.
 *
 * Per file it keeps the runs of lines that are untouched since the last
 * reset, as (current start, original start, length); an edit cuts the runs it
 * overlaps and shifts the ones after it. The number of runs grows with the
 * number of separate places edited, not with keystrokes.
 */

interface Run {
  cur: number;
  orig: number;
  len: number;
}

export class EditTracker {
  private files = new Map<string, Run[]>();

  /** reset forgets the edits of a file: its report lines are current again. */
  reset(file: string): void {
    this.files.delete(file);
  }

  /** resetAll forgets every file's edits (a new report arrived). */
  resetAll(): void {
    this.files.clear();
  }

  /**
   * apply records that the 1-based inclusive line range startLine..endLine
   * (in the file as it is now, before this edit) was replaced by
   * newLineCount lines. endLine = startLine - 1 is a pure insertion before
   * startLine. Invalid numbers are ignored.
   */
  apply(file: string, startLine: number, endLine: number, newLineCount: number): void {
    if (![startLine, endLine, newLineCount].every(Number.isFinite)) {
      return;
    }
    const s = Math.max(1, Math.floor(startLine));
    const e = Math.max(s - 1, Math.floor(endLine));
    const n = Math.max(0, Math.floor(newLineCount));
    const delta = n - (e - s + 1);
    const runs = this.files.get(file) ?? [{ cur: 1, orig: 1, len: Infinity }];
    const out: Run[] = [];
    for (const r of runs) {
      const end = r.cur + r.len - 1; // last current line of the run
      // The part before the edit stays.
      if (r.cur < s) {
        const len = Math.min(r.len, s - r.cur);
        out.push({ cur: r.cur, orig: r.orig, len });
      }
      // The part after the edit moves by delta.
      if (end > e) {
        const from = Math.max(r.cur, e + 1);
        out.push({
          cur: from + delta,
          orig: r.orig + (from - r.cur),
          len: end === Infinity ? Infinity : end - from + 1,
        });
      }
    }
    this.files.set(file, out);
  }

  /** map gives the current line of a report line, or undefined if that line was edited or deleted. */
  map(file: string, line: number): number | undefined {
    const runs = this.files.get(file);
    if (!runs) {
      return line;
    }
    for (const r of runs) {
      if (line >= r.orig && line < r.orig + r.len) {
        return r.cur + (line - r.orig);
      }
    }
    return undefined;
  }

  /** unmap gives the report line of a current line, or undefined if the line is new or edited. */
  unmap(file: string, current: number): number | undefined {
    const runs = this.files.get(file);
    if (!runs) {
      return current;
    }
    for (const r of runs) {
      if (current >= r.cur && current < r.cur + r.len) {
        return r.orig + (current - r.cur);
      }
    }
    return undefined;
  }

  /** edited reports whether the file changed since its last reset. */
  edited(file: string): boolean {
    return this.files.has(file);
  }
}

/** A text change as VS Code reports it: 0-based positions in the text before the change. */
export interface TextChange {
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
  text: string;
}

/**
 * lineEditOf turns a text change into the line edit {@link EditTracker.apply}
 * takes (1-based), keeping lines that were only moved out of the edit:
 * whole lines inserted at the start of a line (or, given the length of the
 * start line after the change, at its end) touch no existing line; a
 * replacement from column 0 to column 0 touches only the lines it covers.
 */
export function lineEditOf(
  c: TextChange,
  startLineLengthAfter?: number,
): { startLine: number; endLine: number; newLineCount: number } {
  const newlines = (c.text.match(/\n/g) ?? []).length;
  const s = c.startLine;
  const e = c.endLine;
  const empty = s === e && c.startCharacter === c.endCharacter;
  if (c.startCharacter === 0 && c.endCharacter === 0 && (c.text === '' || c.text.endsWith('\n'))) {
    // Whole lines s..e-1 (0-based) replaced by whole lines.
    return { startLine: s + 1, endLine: e, newLineCount: newlines };
  }
  if (empty && c.text.startsWith('\n') && startLineLengthAfter === c.startCharacter) {
    // Enter at the end of a line: new lines after it.
    return { startLine: s + 2, endLine: s + 1, newLineCount: newlines };
  }
  return { startLine: s + 1, endLine: e + 1, newLineCount: newlines + 1 };
}
