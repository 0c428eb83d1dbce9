/**
 * Parsing of `envFile` contents (NAME=VALUE lines), as vscode-go reads them:
 * Delve's DAP server has no envFile attribute, so the extension merges the
 * files into `env` before the launch leaves VS Code.
 */

export interface EnvParse {
  env: Record<string, string>;
  errors: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** parseEnvFile reads NAME=VALUE lines; `export ` prefixes, comments and quotes are allowed. */
export function parseEnvFile(text: string, source = 'envFile'): EnvParse {
  const env: Record<string, string> = {};
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) {
      return;
    }
    if (line.startsWith('export ')) {
      line = line.slice('export '.length).trimStart();
    }
    const eq = line.indexOf('=');
    const name = eq < 0 ? '' : line.slice(0, eq).trim();
    if (eq < 0 || !NAME.test(name)) {
      errors.push(`${source}:${i + 1}: expected NAME=VALUE`);
      return;
    }
    let value = line.slice(eq + 1).trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1);
      if (quote === '"') {
        value = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    } else {
      const hash = value.indexOf(' #');
      if (hash >= 0) {
        value = value.slice(0, hash).trimEnd();
      }
    }
    env[name] = value;
  });
  return { env, errors };
}

/** mergeEnv layers the env files under the configuration's own env, which wins. */
export function mergeEnv(
  files: Record<string, string>[],
  env: Record<string, unknown> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files) {
    Object.assign(out, f);
  }
  for (const [k, v] of Object.entries(env ?? {})) {
    if (v === null || v === undefined) {
      delete out[k];
    } else {
      out[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
  }
  return out;
}
