import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCount, formatDuration, formatShare } from '../../src/logic/format';

describe('formatDuration', () => {
  const rows: [number, string][] = [
    [0, '0 s'],
    [0.4, '<1 ns'],
    [7, '7 ns'],
    [999.6, '1.0 µs'],
    [85_000, '85 µs'],
    [1_500, '1.5 µs'],
    [340_000_000, '340 ms'],
    [9_960_000, '10 ms'],
    [999_700_000, '1.0 s'],
    [1_234_000_000, '1.2 s'],
    [3_000_000_000, '3.0 s'],
    [10_771_782_682, '11 s'],
    [59_990_000_000, '1.0 min'],
    [125e9, '2.1 min'],
    [5400e9, '1.5 h'],
    [-1, '—'],
    [NaN, '—'],
    [Infinity, '—'],
  ];
  for (const [ns, want] of rows) {
    it(`${ns} ns is ${want}`, () => assert.equal(formatDuration(ns), want));
  }
});

describe('formatShare', () => {
  const rows: [number, string][] = [
    [0, '0%'],
    [0.004, '<1%'],
    [0.005, '1%'],
    [0.42, '42%'],
    [0.8434965812615538, '84%'],
    [1, '100%'],
    [1.7, '100%'],
    [-0.2, '0%'],
    [NaN, '—'],
  ];
  for (const [share, want] of rows) {
    it(`${share} is ${want}`, () => assert.equal(formatShare(share), want));
  }
});

describe('formatCount', () => {
  it('groups thousands and marks times', () => {
    assert.equal(formatCount(25017), '25,017×');
    assert.equal(formatCount(1), '1×');
    assert.equal(formatCount(-3), '—');
  });
});
