import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EditTracker, lineEditOf } from '../../src/logic/edits';

const F = '/w/main.go';

describe('EditTracker', () => {
  it('maps lines through insertions and deletions above them', () => {
    const t = new EditTracker();
    assert.equal(t.map(F, 10), 10);
    assert.equal(t.edited(F), false);
    t.apply(F, 3, 2, 2); // two lines inserted before line 3
    assert.equal(t.map(F, 2), 2);
    assert.equal(t.map(F, 3), 5);
    assert.equal(t.map(F, 10), 12);
    t.apply(F, 1, 1, 0); // line 1 deleted
    assert.equal(t.map(F, 1), undefined);
    assert.equal(t.map(F, 2), 1);
    assert.equal(t.map(F, 10), 11);
    assert.equal(t.edited(F), true);
  });

  it('forgets a line that was edited, and only that line', () => {
    const t = new EditTracker();
    t.apply(F, 5, 5, 1);
    assert.equal(t.map(F, 4), 4);
    assert.equal(t.map(F, 5), undefined);
    assert.equal(t.map(F, 6), 6);
    t.apply(F, 5, 5, 1); // more keystrokes on the same line add no runs
    t.apply(F, 5, 5, 1);
    assert.equal(t.map(F, 6), 6);
  });

  it('unmaps current lines to report lines, and not new ones', () => {
    const t = new EditTracker();
    t.apply(F, 3, 4, 5); // lines 3-4 replaced by 5 lines
    assert.equal(t.unmap(F, 2), 2);
    for (let l = 3; l <= 7; l++) {
      assert.equal(t.unmap(F, l), undefined);
    }
    assert.equal(t.unmap(F, 8), 5);
    assert.equal(t.map(F, 5), 8);
  });

  it('keeps files apart and resets', () => {
    const t = new EditTracker();
    t.apply(F, 1, 0, 3);
    assert.equal(t.map('/w/other.go', 1), 1);
    assert.equal(t.map(F, 1), 4);
    t.reset(F);
    assert.equal(t.map(F, 1), 1);
    assert.equal(t.edited(F), false);
    t.apply(F, 1, 0, 3);
    t.apply('/w/other.go', 1, 0, 1);
    t.resetAll();
    assert.equal(t.edited(F), false);
    assert.equal(t.edited('/w/other.go'), false);
  });

  it('ignores numbers that are not finite and clamps the rest', () => {
    const t = new EditTracker();
    t.apply(F, NaN, 3, 1);
    assert.equal(t.edited(F), false);
    t.apply(F, -4, -9, 1); // an insertion before line 1
    assert.equal(t.map(F, 1), 2);
  });

  it('agrees with a simulated document over random edits', () => {
    // A document is a list of line ids; original lines have ids 1..n, new ones 0.
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const t = new EditTracker();
      let doc = Array.from({ length: 30 }, (_, i) => i + 1);
      for (let step = 0; step < 12; step++) {
        const start = 1 + rand(doc.length + 1);
        const end = Math.min(doc.length, start - 1 + rand(4));
        const count = rand(4);
        doc = [...doc.slice(0, start - 1), ...Array<number>(count).fill(0), ...doc.slice(end)];
        t.apply(F, start, end, count);
      }
      for (let orig = 1; orig <= 30; orig++) {
        const at = doc.indexOf(orig);
        assert.equal(t.map(F, orig), at < 0 ? undefined : at + 1, `round ${round}, line ${orig}`);
      }
      for (let cur = 1; cur <= doc.length; cur++) {
        assert.equal(t.unmap(F, cur), doc[cur - 1] === 0 ? undefined : doc[cur - 1]);
      }
    }
  });
});

describe('lineEditOf', () => {
  const change = (startLine: number, startCharacter: number, endLine: number, endCharacter: number, text: string) => ({
    startLine,
    startCharacter,
    endLine,
    endCharacter,
    text,
  });

  it('typing on a line edits that line', () => {
    assert.deepEqual(lineEditOf(change(4, 3, 4, 3, 'x')), { startLine: 5, endLine: 5, newLineCount: 1 });
  });

  it('whole lines pasted at column 0 touch no existing line', () => {
    assert.deepEqual(lineEditOf(change(4, 0, 4, 0, 'a\nb\n')), { startLine: 5, endLine: 4, newLineCount: 2 });
  });

  it('deleting whole lines removes just them', () => {
    assert.deepEqual(lineEditOf(change(4, 0, 6, 0, '')), { startLine: 5, endLine: 6, newLineCount: 0 });
  });

  it('Enter at the end of a line adds a line after it, when the line length says so', () => {
    assert.deepEqual(lineEditOf(change(4, 12, 4, 12, '\n\t'), 12), { startLine: 6, endLine: 5, newLineCount: 1 });
    assert.deepEqual(lineEditOf(change(4, 12, 4, 12, '\n\t')), { startLine: 5, endLine: 5, newLineCount: 2 });
  });

  it('a replacement across lines edits the lines it spans', () => {
    assert.deepEqual(lineEditOf(change(2, 5, 4, 1, 'x\ny')), { startLine: 3, endLine: 5, newLineCount: 2 });
  });

  it('keeps a mark on its text through Enter at the end of the line above', () => {
    const t = new EditTracker();
    const e = lineEditOf(change(9, 20, 9, 20, '\n'), 20); // line 10 (1-based) gets a new line after it
    t.apply(F, e.startLine, e.endLine, e.newLineCount);
    assert.equal(t.map(F, 10), 10);
    assert.equal(t.map(F, 11), 12);
  });
});
