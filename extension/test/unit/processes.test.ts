import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePs, sortProcesses } from '../../src/logic/processes';

const PS = `    1 systemd         /sbin/init
  742 server          /home/me/bin/server --port 8080
  901 bash            -bash
 1200 node            /usr/bin/node extension host
`;

describe('process picker', () => {
  it('parses ps output and leaves out the extension host itself', () => {
    const items = parsePs(PS, 1200);
    assert.deepEqual(
      items.map((p) => [p.pid, p.command, p.args]),
      [
        [1, 'systemd', '/sbin/init'],
        [742, 'server', '/home/me/bin/server --port 8080'],
        [901, 'bash', '-bash'],
      ],
    );
  });

  it('puts Go processes first, newest first within a group', () => {
    const sorted = sortProcesses(parsePs(PS), (pid) => pid === 742);
    assert.deepEqual(
      sorted.map((p) => p.pid),
      [742, 1200, 901, 1],
    );
  });
});
