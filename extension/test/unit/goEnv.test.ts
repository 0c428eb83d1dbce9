import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { GoEnvContext, goToolEnv, resolveSetting, shQuote } from '../../src/logic/goEnv';

function ctx(over: Partial<GoEnvContext> = {}): GoEnvContext {
  return {
    processEnv: { PATH: '/usr/bin:/bin', HOME: '/home/u', SDK: '/opt/sdk' },
    platform: 'linux',
    workspaceFolder: '/ws',
    homeDir: '/home/u',
    shimRoot: '/store',
    hash: (s) => `h${s.length}`,
    ...over,
  };
}

describe('resolveSetting', () => {
  it('substitutes ~, ${userHome}, ${workspaceFolder}, ${workspaceRoot} and ${env:…}', () => {
    assert.equal(resolveSetting('~/sdk/go1.26', ctx()), '/home/u/sdk/go1.26');
    assert.equal(resolveSetting('${userHome}/go', ctx()), '/home/u/go');
    assert.equal(resolveSetting('${workspaceFolder}/tools/go.sh', ctx()), '/ws/tools/go.sh');
    assert.equal(resolveSetting('${workspaceRoot}/bin', ctx()), '/ws/bin');
    assert.equal(resolveSetting('${env:SDK}/go', ctx()), '/opt/sdk/go');
    assert.equal(resolveSetting('${env:NOPE}/go', ctx()), '/go');
  });

  it('gives undefined for a variable it cannot resolve, not a path with ${…} in it', () => {
    assert.equal(resolveSetting('${workspaceFolder}/go', ctx({ workspaceFolder: undefined })), undefined);
    assert.equal(resolveSetting('${config:go.goroot}', ctx()), undefined);
    assert.equal(resolveSetting('${fileDirname}/go', ctx()), undefined);
  });
});

describe('goToolEnv', () => {
  it('changes nothing without settings', () => {
    assert.deepEqual(goToolEnv({}, ctx()), { env: {}, shim: undefined, notes: [] });
  });

  it('puts go.goroot first on PATH and sets GOROOT', () => {
    const got = goToolEnv({ goroot: '~/sdk/go1.26.8/' }, ctx());
    assert.deepEqual(got.env, { GOROOT: '/home/u/sdk/go1.26.8/', PATH: '/home/u/sdk/go1.26.8/bin:/usr/bin:/bin' });
    assert.deepEqual(got.notes, ['go.goroot: /home/u/sdk/go1.26.8/']);
  });

  it('puts an alternate go named go first, before go.goroot', () => {
    const got = goToolEnv({ goroot: '/opt/go', alternateTools: { go: '/opt/other/bin/go' } }, ctx());
    assert.equal(got.env.PATH, '/opt/other/bin:/opt/go/bin:/usr/bin:/bin');
    assert.equal(got.shim, undefined);
  });

  it('runs an alternate go with another name through a shim named go', () => {
    const got = goToolEnv({ alternateTools: { go: "${workspaceFolder}/tools/it's go.sh" } }, ctx());
    assert.deepEqual(got.shim, {
      dir: '/store/go-shim/h20',
      file: '/store/go-shim/h20/go',
      text: `#!/bin/sh\nexec '/ws/tools/it'\\''s go.sh' "$@"\n`,
    });
    assert.equal(got.env.PATH, '/store/go-shim/h20:/usr/bin:/bin');
  });

  it('leaves a bare name to PATH, and says so unless it is go', () => {
    assert.deepEqual(goToolEnv({ alternateTools: { go: 'go' } }, ctx()), { env: {}, shim: undefined, notes: [] });
    const got = goToolEnv({ alternateTools: { go: 'go1.26rc1' } }, ctx());
    assert.deepEqual(got.env, {});
    assert.match(got.notes[0], /a name without a folder/);
  });

  it('merges toolsEnvVars under the PATH it builds, and skips values it cannot use', () => {
    const got = goToolEnv(
      {
        goroot: '/opt/go',
        toolsEnvVars: { GOFLAGS: '-tags=integration', PATH: '${env:SDK}/bin:/usr/bin', BAD: 3, ALSO: '${fileDirname}' },
      },
      ctx(),
    );
    assert.deepEqual(got.env, {
      GOFLAGS: '-tags=integration',
      GOROOT: '/opt/go',
      PATH: '/opt/go/bin:/opt/sdk/bin:/usr/bin',
    });
    assert.equal(got.notes.filter((n) => /not used/.test(n)).length, 2);
  });

  it('does not use a setting with an unresolvable variable', () => {
    const got = goToolEnv({ goroot: '${workspaceFolder}/go' }, ctx({ workspaceFolder: undefined }));
    assert.deepEqual(got.env, {});
    assert.match(got.notes[0], /cannot resolve/);
  });

  it('uses ; and the host spelling of Path on Windows, and no shim', () => {
    const win = ctx({ platform: 'win32', processEnv: { Path: 'C:\\Windows' } });
    assert.deepEqual(goToolEnv({ goroot: 'C:\\Go' }, win).env, { GOROOT: 'C:\\Go', Path: 'C:\\Go\\bin;C:\\Windows' });
    assert.deepEqual(goToolEnv({ alternateTools: { go: 'D:\\sdk\\go.exe' } }, win).env, {
      Path: 'D:\\sdk;C:\\Windows',
    });
    const script = goToolEnv({ alternateTools: { go: 'D:\\tools\\go.cmd' } }, win);
    assert.equal(script.shim, undefined);
    assert.match(script.notes[0], /not named go\.exe/);
  });
});

describe('the shim', () => {
  it('runs the alternate go with its arguments, and the wrapper sees its own path', () => {
    if (process.platform === 'win32') {
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goenv-'));
    try {
      const wrapper = path.join(dir, "it's go.sh");
      fs.writeFileSync(wrapper, '#!/bin/sh\necho "$0|$1|$2"\n', { mode: 0o755 });
      const got = goToolEnv({ alternateTools: { go: wrapper } }, ctx({ shimRoot: dir }));
      assert.ok(got.shim);
      fs.mkdirSync(got.shim.dir, { recursive: true });
      fs.writeFileSync(got.shim.file, got.shim.text, { mode: 0o755 });
      const out = execFileSync('go', ['env', 'two words'], {
        env: { ...process.env, PATH: got.env.PATH },
        encoding: 'utf8',
      });
      assert.equal(out, `${wrapper}|env|two words\n`);
      assert.equal(shQuote("a'b"), `'a'\\''b'`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
