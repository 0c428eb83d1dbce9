import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chainsThrough, describeChain } from '../../src/logic/chains';
import { Chain } from '../../src/logic/report';
import { fixture, marker, ws, wsResolve } from './helpers';

const HANDOFF = 'testdata/handoff/main.go';

describe('chains on the recorded handoff (three locks)', () => {
  const r = fixture('handoff');
  const resolve = wsResolve();
  const file = ws(HANDOFF);
  const m = (name: string): number => marker(HANDOFF, name);

  it('finds the longest chain from the first waiter, and reads it first waiter to last holder', () => {
    const through = chainsThrough(r, file, m('chain-waiter'), resolve);
    const longest = through.reduce((a, b) => (b.links.length > a.links.length ? b : a));
    assert.deepEqual(
      longest.links.map((l) => l.line),
      [m('chain-waiter'), m('chain-middle'), m('chain-last-wait'), m('chain-holder')],
    );
    const d = describeChain(longest, resolve);
    assert.equal(
      d.title,
      `withdraw:${m('chain-waiter')} waits on sync.Mutex.Lock; ` +
        `the holder waits at transfer:${m('chain-middle')} (sync.Mutex.Lock); ` +
        `the holder waits at reconcile:${m('chain-last-wait')} (sync.Mutex.Lock); ` +
        `the holder releases it at auditor:${m('chain-holder')}`,
    );
    assert.deepEqual(
      d.steps.map((s) => [s.file, s.line]),
      longest.links.map((l) => [file, l.line]),
    );
    assert.equal(d.steps[0].label, `withdraw waits at main.go:${m('chain-waiter')}`);
    assert.match(d.steps[0].detail, new RegExp(`released at transfer:${m('chain-middle-unlock')}`));
    assert.equal(d.steps[3].label, `auditor releases it at main.go:${m('chain-holder')}`);
  });

  it('finds a chain through the line that released a wait (releasedAt), not only through its links', () => {
    const unlock = m('chain-middle-unlock');
    const through = chainsThrough(r, file, unlock, resolve);
    assert.ok(through.length > 0);
    assert.ok(
      through.some((c) => c.links.every((l) => l.line !== unlock)),
      'a chain whose only mention of the line is a releasedAt',
    );
  });

  it('finds nothing on a line no chain passes, or in another file', () => {
    assert.deepEqual(chainsThrough(r, file, 1, resolve), []);
    assert.deepEqual(chainsThrough(r, ws('testdata/ledger/main.go'), m('chain-waiter'), resolve), []);
  });
});

describe('describeChain edge cases', () => {
  const resolve = (f: string): string | undefined => (f.startsWith('/w/') ? f : undefined);

  it('names a runtime wake-up and a channel wait', () => {
    const c: Chain = {
      waitNs: 1,
      count: 1,
      links: [
        {
          file: '/w/a.go',
          line: 72,
          function: 'main.main.func3',
          reason: 'select',
          primitive: 'runtime.selectgo',
          role: 'waits',
        },
        { file: '', line: 0, function: '', reason: 'select', role: 'runtime' },
      ],
    };
    const d = describeChain(c, resolve);
    assert.equal(d.title, 'main.func3:72 waits on select; the runtime wakes it (select)');
    assert.deepEqual(d.steps[1], { label: 'the runtime wakes it', detail: 'select' });
  });

  it('says when a chain comes from the moments before a stop', () => {
    const c: Chain = {
      waitNs: 1,
      count: 1,
      beforeStop: 'in the 2.0 s before the stop (breakpoint)',
      links: [
        {
          file: '/w/a.go',
          line: 9,
          function: 'main.work',
          reason: 'sync',
          primitive: 'sync.(*Mutex).Lock',
          role: 'waits',
        },
        { file: '/w/a.go', line: 12, function: 'main.work', reason: 'sync', role: 'holds' },
      ],
    };
    assert.equal(
      describeChain(c, resolve).title,
      'work:9 waits on sync.Mutex.Lock; the holder releases it at work:12 (in the 2.0 s before the stop (breakpoint))',
    );
  });

  it('guesses roles an older adapter did not send, and leaves unresolvable links without a file', () => {
    const c: Chain = {
      waitNs: 1,
      count: 1,
      links: [
        {
          file: '/elsewhere/a.go',
          line: 5,
          function: 'example.com/x.(*Store).Add',
          reason: 'sync',
          primitive: 'sync.(*Mutex).Lock',
        },
        {
          file: '/w/b.go',
          line: 9,
          function: 'example.com/x.flush',
          reason: 'sync',
          primitive: 'sync.(*Mutex).Unlock',
        },
      ],
    };
    const d = describeChain(c, resolve);
    assert.equal(d.title, 'Store.Add:5 waits on sync.Mutex.Lock; the holder releases it at flush:9');
    assert.equal(d.steps[0].file, undefined);
    assert.equal(d.steps[1].file, '/w/b.go');
  });

  it('describes an empty chain without throwing', () => {
    assert.deepEqual(describeChain({ waitNs: 0, count: 0, links: [] }, resolve), {
      title: 'an empty chain',
      steps: [],
    });
  });
});
