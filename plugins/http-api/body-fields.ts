/**
 * A small reader for JSON request bodies that are not agent definitions (those go through
 * serviceDefinitionFromJson / checkDefinitionFromJson): catalog register/deregister, check
 * update. Keys match the way Go's encoding/json matches struct fields (consul-compat.md §0):
 * an exact key wins, otherwise the first key equal without regard to case, so python-consul's
 * `node`, `address` and `service` land on `Node`, `Address`, `Service`. Unknown keys are
 * ignored, as Go does. JSON `null` reads as absent.
 *
 * Type errors throw 400 `Request decode failed: <Path>: ...`, naming the field by its Consul
 * path (`Service.Port`), and change nothing.
 */
import { parseDuration } from '../../src/plugin.ts';
import { badRequest } from './http-error.ts';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Case-insensitive, typed access to one JSON object of a request body. */
export class BodyFields {
  private readonly lower = new Map<string, string>();

  private constructor(
    private readonly obj: Record<string, unknown>,
    /** Where this object sits (`Service`, `Checks[1]`); '' for the body itself. */
    readonly path: string,
  ) {
    for (const k of Object.keys(obj)) {
      const l = k.toLowerCase();
      if (!this.lower.has(l)) this.lower.set(l, k);
    }
  }

  /** Reads `value` as an object; null/undefined give an empty one; anything else is a 400. */
  static of(value: unknown, path = ''): BodyFields {
    if (value === undefined || value === null) return new BodyFields({}, path);
    if (!isObject(value)) {
      throw badRequest(`Request decode failed: ${path || 'body'}: expected a JSON object, got ${describe(value)}`);
    }
    return new BodyFields(value, path);
  }

  /** `Name` -> `Service.Name`. */
  pathOf(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  private fail(name: string, expected: string, got: unknown): never {
    throw badRequest(`Request decode failed: ${this.pathOf(name)}: expected ${expected}, got ${describe(got)}`);
  }

  /** The value under `name` (exact key first, then any case); undefined when absent or null. */
  raw(name: string): unknown {
    let v: unknown;
    if (Object.hasOwn(this.obj, name)) v = this.obj[name];
    else {
      const key = this.lower.get(name.toLowerCase());
      if (key !== undefined) v = this.obj[key];
    }
    return v === null ? undefined : v;
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(name, 'a string', v);
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(name, 'a boolean', v);
    return v;
  }

  /** An integer in [min, max]. */
  int(name: string, min: number, max: number): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(name, 'an integer', v);
    if (v < min || v > max) throw badRequest(`Request decode failed: ${this.pathOf(name)}: ${v} is out of range ${min}-${max}`);
    return v;
  }

  stringList(name: string): string[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) this.fail(name, 'an array of strings', v);
    v.forEach((x, i) => {
      if (typeof x !== 'string') this.fail(`${name}[${i}]`, 'a string', x);
    });
    return [...(v as string[])];
  }

  /** An object of string values (Meta, NodeMeta, node TaggedAddresses). */
  stringMap(name: string): Record<string, string> | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!isObject(v)) this.fail(name, 'an object of strings', v);
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string') this.fail(`${name}.${k}`, 'a string', x);
      out[k] = x;
    }
    return out;
  }

  object(name: string): BodyFields | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!isObject(v)) this.fail(name, 'a JSON object', v);
    return new BodyFields(v, this.pathOf(name));
  }

  /** An array of objects (`Checks`). */
  objectList(name: string): BodyFields[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) this.fail(name, 'an array of objects', v);
    return v.map((x, i) => {
      if (!isObject(x)) this.fail(`${name}[${i}]`, 'a JSON object', x);
      return new BodyFields(x, this.pathOf(`${name}[${i}]`));
    });
  }

  /** Each key of an object of objects (`TaggedAddresses` of a service), as readers. */
  objectMap(name: string): Map<string, BodyFields> | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!isObject(v)) this.fail(name, 'a JSON object', v);
    const out = new Map<string, BodyFields>();
    for (const [k, x] of Object.entries(v)) {
      if (!isObject(x)) this.fail(`${name}.${k}`, 'a JSON object', x);
      out.set(k, new BodyFields(x, this.pathOf(`${name}.${k}`)));
    }
    return out;
  }

  /**
   * A duration in ms: a Go duration string (`"10s"`, `"1m30s"`) or a number of nanoseconds, as
   * Consul's HealthCheckDefinition.UnmarshalJSON accepts both.
   */
  duration(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isFinite(v)) return v / 1e6;
    if (typeof v !== 'string') this.fail(name, 'a duration string', v);
    if (v === '') return undefined;
    try {
      return parseDuration(v);
    } catch (err) {
      throw badRequest(`Request decode failed: ${this.pathOf(name)}: ${(err as Error).message}`);
    }
  }
}
