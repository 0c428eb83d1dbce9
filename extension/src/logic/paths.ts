/**
 * Placing report paths on workspace files.
 *
 * A live session's report carries absolute paths that exist here. A profile
 * or trace loaded from elsewhere carries the paths of the machine that built
 * the program, or, when it was built with -trimpath, module-relative paths
 * such as `example.com/shop/store/store.go`. {@link resolveReportPath} tries,
 * in order:
 *
 *  1. the path itself, when it is absolute and exists;
 *  2. each substitutePath rule, as vscode-go reads them: `to` is the prefix
 *     in the binary (the report side), `from` the prefix in the editor; the
 *     longest matching `to` wins;
 *  3. each workspace module: a path under a module path maps into that
 *     module's folder; the longest module path wins (nested modules);
 *  4. the longest suffix of the path's components that exists under a
 *     workspace root (`/build/ci/shop/store/store.go` finds
 *     `<root>/store/store.go`).
 *
 * Every candidate is checked with `exists`; nothing that does not exist is
 * ever returned. Paths are compared by components, so `/a/bc` is not under
 * `/a/b`, and both `/` and `\` separate them.
 */

export interface PathContext {
  /** Absolute folders of the workspace, as the editor names them (fsPath). */
  workspaceRoots: string[];
  /** Go modules found in the workspace: module path and its folder. */
  modules: { path: string; dir: string }[];
  /** Launch configuration rules: `from` is the editor's prefix, `to` the binary's. */
  substitutePath: { from: string; to: string }[];
  exists: (p: string) => boolean;
}

/** isAbsolutePath reports whether p is absolute on POSIX or Windows. */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\\\') || /^[A-Za-z]:[\\/]/.test(p);
}

/** parts splits a path into its non-empty components. */
function parts(p: string): string[] {
  return p.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
}

/** sep is the separator a base path uses: `\` for a Windows path without `/`, else `/`. */
function sepOf(base: string): string {
  return base.includes('\\') && !base.includes('/') ? '\\' : '/';
}

/** join appends components to a base folder in the base's own style. */
function join(base: string, rest: string[]): string {
  if (rest.length === 0) {
    return base;
  }
  const sep = sepOf(base);
  const trimmed = base.replace(/[\\/]+$/, '');
  return `${trimmed}${sep}${rest.join(sep)}`;
}

/** windowsLike reports whether components are compared without case (a drive-letter path). */
function windowsLike(p: string): boolean {
  return /^[A-Za-z]:/.test(p) || p.startsWith('\\\\');
}

/**
 * stripPrefix returns the components of p after prefix, when prefix names p
 * itself or a folder above it (by whole components), otherwise undefined.
 */
export function stripPrefix(p: string, prefix: string): string[] | undefined {
  const pp = parts(p);
  const xp = parts(prefix);
  if (xp.length === 0 || xp.length > pp.length) {
    return undefined;
  }
  // An absolute prefix only matches an absolute path and the reverse.
  if (isAbsolutePath(prefix) !== isAbsolutePath(p)) {
    return undefined;
  }
  const fold = windowsLike(p) || windowsLike(prefix);
  for (let i = 0; i < xp.length; i++) {
    const a = fold ? pp[i].toLowerCase() : pp[i];
    const b = fold ? xp[i].toLowerCase() : xp[i];
    if (a !== b) {
      return undefined;
    }
  }
  return pp.slice(xp.length);
}

/** resolveReportPath places a report path on a workspace file, or gives undefined. */
export function resolveReportPath(file: string, ctx: PathContext): string | undefined {
  if (!file) {
    return undefined;
  }
  const exists = (p: string): boolean => {
    try {
      return ctx.exists(p);
    } catch {
      return false;
    }
  };
  if (isAbsolutePath(file) && exists(file)) {
    return file;
  }

  // substitutePath: the binary's prefix (to) becomes the editor's (from).
  const rules = ctx.substitutePath
    .filter((r) => typeof r.to === 'string' && typeof r.from === 'string' && r.to !== '' && r.from !== '')
    .sort((a, b) => parts(b.to).length - parts(a.to).length);
  for (const r of rules) {
    const rest = stripPrefix(file, r.to);
    if (rest !== undefined) {
      const cand = join(r.from, rest);
      if (exists(cand)) {
        return cand;
      }
    }
  }

  // -trimpath: module path + path inside the module.
  if (!isAbsolutePath(file)) {
    const mods = [...ctx.modules].filter((m) => m.path).sort((a, b) => parts(b.path).length - parts(a.path).length);
    for (const m of mods) {
      const rest = stripPrefix(file, m.path);
      if (rest !== undefined && rest.length > 0) {
        const cand = join(m.dir, rest);
        if (exists(cand)) {
          return cand;
        }
      }
    }
  }

  // The longest tail of the path that exists under a workspace root.
  const ps = parts(file);
  for (let start = 0; start < ps.length; start++) {
    const tail = ps.slice(start);
    if (/^[A-Za-z]:$/.test(tail[0])) {
      continue; // a drive letter is not a folder name
    }
    for (const root of ctx.workspaceRoots) {
      if (!root) {
        continue;
      }
      const cand = join(root, tail);
      if (exists(cand)) {
        return cand;
      }
    }
  }
  return undefined;
}

/**
 * createResolver returns resolveReportPath bound to a context, remembering
 * every answer (a report names the same few files many times).
 */
export function createResolver(ctx: PathContext): (file: string) => string | undefined {
  const cache = new Map<string, string | undefined>();
  return (file: string) => {
    if (cache.has(file)) {
      return cache.get(file);
    }
    const r = resolveReportPath(file, ctx);
    cache.set(file, r);
    return r;
  };
}

/**
 * parseGoModModulePath returns the module path of a go.mod file's text: the
 * `module` directive, quoted or not, with comments removed. Undefined when
 * there is none.
 */
export function parseGoModModulePath(goModText: string): string | undefined {
  // Block comments are rare in go.mod but legal.
  const text = goModText.replace(/\/\*[\s\S]*?\*\//g, ' ');
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const m = /^module\s+(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`|(\S+))\s*$/.exec(line);
    if (m) {
      const path = (m[1] ?? m[2] ?? m[3] ?? '').trim();
      return path === '' ? undefined : path;
    }
  }
  return undefined;
}

/** baseName is the last component of a path, whatever its separators. */
export function baseName(p: string): string {
  const ps = parts(p);
  return ps.length ? ps[ps.length - 1] : p;
}

/** fileUri writes an absolute path as a file: URI, each component percent-encoded. */
export function fileUri(absPath: string): string {
  const ps = parts(absPath);
  if (absPath.startsWith('\\\\')) {
    // UNC: \\server\share\x -> file://server/share/x
    const [host, ...rest] = ps;
    return `file://${host}/${rest.map(uriComponent).join('/')}`;
  }
  const enc = ps.map((s, i) =>
    i === 0 && /^[A-Za-z]:$/.test(s) ? s.toLowerCase().replace(':', '%3A') : uriComponent(s),
  );
  return `file:///${enc.join('/')}`;
}

/**
 * uriComponent is encodeURIComponent that also encodes the characters it
 * leaves alone but markdown link syntax does not: ( ) ! * '.
 */
export function uriComponent(s: string): string {
  return encodeURIComponent(s).replace(/[()!*']/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
