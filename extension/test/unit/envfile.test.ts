import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeEnv, parseEnvFile } from '../../src/logic/envfile';

describe('parseEnvFile', () => {
  it('reads NAME=VALUE lines, comments, export and quotes', () => {
    const text = [
      '# a comment',
      '',
      'GOMAXPROCS=2',
      'export DB_URL="postgres://x?a=1"',
      "SINGLE='two words'",
      'ESCAPED="line\\nnext"',
      'TRAILING=value # comment',
      'EMPTY=',
    ].join('\n');
    const { env, errors } = parseEnvFile(text, '.env');
    assert.deepEqual(errors, []);
    assert.deepEqual(env, {
      GOMAXPROCS: '2',
      DB_URL: 'postgres://x?a=1',
      SINGLE: 'two words',
      ESCAPED: 'line\nnext',
      TRAILING: 'value',
      EMPTY: '',
    });
  });

  it('names the file and line of a bad line, and keeps the good ones', () => {
    const { env, errors } = parseEnvFile('GOOD=1\nnot a pair\n1BAD=2\r\nALSO=3', 'dev.env');
    assert.deepEqual(env, { GOOD: '1', ALSO: '3' });
    assert.deepEqual(errors, ['dev.env:2: expected NAME=VALUE', 'dev.env:3: expected NAME=VALUE']);
  });
});

describe('mergeEnv', () => {
  it('layers files in order under env, which wins; null unsets', () => {
    const merged = mergeEnv(
      [
        { A: 'file1', B: 'file1' },
        { B: 'file2', C: 'file2' },
      ],
      { C: 'env', D: 4, A: null },
    );
    assert.deepEqual(merged, { B: 'file2', C: 'env', D: '4' });
  });
});
