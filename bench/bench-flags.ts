/**
 * The option parsing every bench harness shares: `--name value` or `--name=value` flags, each
 * with a `BENCH_*` environment variable behind it; flags win over the environment, which wins
 * over the harness's defaults. Unknown flags and bad values throw with the flag's name.
 */

export interface BenchFlags {
  /** The flag's value, else its environment variable's (either may be ''), else undefined. */
  raw(flag: string): string | undefined;
  /** An integer >= min; absent or '' gives `dflt`. */
  num(flag: string, dflt: number, min: number): number;
  /** A comma-separated list of allowed words; absent or '' gives `dflt`. */
  list<T extends string>(flag: string, dflt: T[], allowed: readonly T[]): T[];
}

/** Parses `argv` against `known` (flag name -> environment variable). */
export function benchFlags(argv: string[], known: Record<string, string>, env: NodeJS.ProcessEnv): BenchFlags {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag ${a} needs a value`);
      flags.set(a.slice(2), v);
    }
  }
  for (const k of flags.keys()) if (!(k in known)) throw new Error(`unknown flag --${k} (known: ${Object.keys(known).map((x) => '--' + x).join(' ')})`);
  const raw = (flag: string): string | undefined => flags.get(flag) ?? env[known[flag]!];
  return {
    raw,
    num(flag, dflt, min) {
      const v = raw(flag);
      if (v === undefined || v === '') return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} (${known[flag]}) must be an integer >= ${min}, got ${v}`);
      return n;
    },
    list(flag, dflt, allowed) {
      const v = raw(flag);
      if (v === undefined || v === '') return dflt;
      const items = v.split(',').map((x) => x.trim()).filter(Boolean);
      for (const x of items) if (!allowed.includes(x as never)) throw new Error(`--${flag}: unknown ${JSON.stringify(x)} (known: ${allowed.join(', ')})`);
      return items as never[];
    },
  };
}
