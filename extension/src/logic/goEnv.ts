/**
 * The Go toolchain a lockscope process runs with, from vscode-go's settings.
 *
 * A vscode-go user who picked a Go in the editor (`go.goroot`,
 * `go.alternateTools.go`, `go.toolsEnvVars`) expects the debugger to build
 * with that Go, as vscode-go's own debug sessions do. lockscope's adapter
 * and the Delve it embeds run `go` from PATH, so the choice is carried as
 * the environment of the adapter process: the chosen Go's folder first on
 * PATH, GOROOT when go.goroot names it, and the tools' variables. The
 * launch configuration's `env` still wins: the adapter applies it later.
 *
 * An alternate go whose file is not named `go` (a direnv wrapper such as
 * `tools/go.sh`) cannot be found through PATH under its own name: it gets a
 * one-line shim named `go` that execs it, so that the wrapper still sees
 * its own path in $0.
 */

/** GoSettings are the vscode-go settings read, already limited to trusted scopes. */
export interface GoSettings {
  goroot?: unknown;
  alternateTools?: unknown;
  toolsEnvVars?: unknown;
}

/** Shim is a script named go to write in dir, that runs the alternate go. */
export interface Shim {
  dir: string;
  file: string;
  text: string;
}

export interface GoEnv {
  /** env is what to add to the process environment (merged over it). */
  env: Record<string, string>;
  /** shim, when set, must be written (mode 0755) before a process starts. */
  shim?: Shim;
  /** notes say what was chosen, or why a setting was not used. */
  notes: string[];
}

export interface GoEnvContext {
  /** processEnv is the extension host's environment (PATH, HOME and ${env:…}). */
  processEnv: Record<string, string | undefined>;
  platform: string;
  /** workspaceFolder substitutes ${workspaceFolder}; undefined leaves it unresolved. */
  workspaceFolder?: string;
  homeDir: string;
  /** shimRoot is a folder of the extension's own where shims may go. */
  shimRoot: string;
  /** hash names a shim's folder after the path it runs, so that shims never collide. */
  hash: (s: string) => string;
}

/**
 * resolveSetting substitutes what vscode-go substitutes in its path
 * settings: a leading ~, ${userHome}, ${workspaceFolder} (and the older
 * ${workspaceRoot}) and ${env:NAME}. It returns undefined when a variable
 * cannot be resolved, rather than a path with a literal `${…}` in it.
 */
export function resolveSetting(value: string, ctx: GoEnvContext): string | undefined {
  let unresolved = false;
  let out = value.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
    if (name.startsWith('env:')) {
      return ctx.processEnv[name.slice(4)] ?? '';
    }
    switch (name) {
      case 'userHome':
        return ctx.homeDir;
      case 'workspaceFolder':
      case 'workspaceRoot':
        if (ctx.workspaceFolder === undefined) {
          unresolved = true;
          return whole;
        }
        return ctx.workspaceFolder;
      default:
        unresolved = true;
        return whole;
    }
  });
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) {
    out = ctx.homeDir + out.slice(1);
  }
  return unresolved ? undefined : out;
}

/** goToolEnv computes the environment that selects the user's Go. */
export function goToolEnv(settings: GoSettings, ctx: GoEnvContext): GoEnv {
  const win = ctx.platform === 'win32';
  const sep = win ? ';' : ':';
  const slash = win ? '\\' : '/';
  const notes: string[] = [];
  const env: Record<string, string> = {};

  // toolsEnvVars first: vscode-go applies them under GOROOT and PATH.
  if (settings.toolsEnvVars && typeof settings.toolsEnvVars === 'object') {
    for (const [k, v] of Object.entries(settings.toolsEnvVars as Record<string, unknown>)) {
      if (typeof v !== 'string') {
        notes.push(`go.toolsEnvVars.${k} is not a string: not used`);
        continue;
      }
      const r = resolveSetting(v, ctx);
      if (r === undefined) {
        notes.push(`go.toolsEnvVars.${k} (${v}) has a variable lockscope cannot resolve: not used`);
        continue;
      }
      env[k] = r;
    }
  }

  const front: string[] = [];
  let shim: Shim | undefined;
  const alt = (settings.alternateTools as Record<string, unknown> | undefined)?.go;
  if (typeof alt === 'string' && alt !== '') {
    const r = resolveSetting(alt, ctx);
    if (r === undefined) {
      notes.push(`go.alternateTools.go (${alt}) has a variable lockscope cannot resolve: not used`);
    } else if (!/[\\/]/.test(r)) {
      // A bare name is looked up on PATH, as vscode-go does; `go` is the default.
      if (r !== 'go' && r !== 'go.exe') {
        notes.push(`go.alternateTools.go is ${r}, a name without a folder: lockscope runs \`go\` from PATH`);
      }
    } else {
      const base = r.split(/[\\/]/).pop() ?? '';
      const dir = r.slice(0, r.length - base.length - 1) || slash;
      if (base === 'go' || (win && base.toLowerCase() === 'go.exe')) {
        front.push(dir);
        notes.push(`go.alternateTools.go: ${r}`);
      } else if (win) {
        notes.push(`go.alternateTools.go is ${r}, not named go.exe: lockscope runs \`go\` from PATH on Windows`);
      } else {
        const shimDir = `${ctx.shimRoot}/go-shim/${ctx.hash(r)}`;
        shim = { dir: shimDir, file: `${shimDir}/go`, text: `#!/bin/sh\nexec ${shQuote(r)} "$@"\n` };
        front.push(shimDir);
        notes.push(`go.alternateTools.go: ${r} (through ${shimDir}/go)`);
      }
    }
  }

  if (typeof settings.goroot === 'string' && settings.goroot !== '') {
    const r = resolveSetting(settings.goroot, ctx);
    if (r === undefined) {
      notes.push(`go.goroot (${settings.goroot}) has a variable lockscope cannot resolve: not used`);
    } else {
      env.GOROOT = r;
      front.push(`${r.replace(/[\\/]+$/, '')}${slash}bin`);
      notes.push(`go.goroot: ${r}`);
    }
  }

  if (front.length > 0) {
    // Windows spells it Path as often as PATH; keep the name the host uses.
    const key = win ? (Object.keys(ctx.processEnv).find((k) => k.toUpperCase() === 'PATH') ?? 'Path') : 'PATH';
    const rest = env[key] ?? ctx.processEnv[key];
    env[key] = [...front, ...(rest ? [rest] : [])].join(sep);
  }
  return { env, shim, notes };
}

/** shQuote quotes a string for /bin/sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
