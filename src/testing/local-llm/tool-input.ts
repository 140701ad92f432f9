/**
 * A tool call's `input`, generated from the tool's JSON Schema the way a (very obliging) model
 * would fill it: objects with their required properties, arrays of `minItems` items (3 when
 * unset, never more than `maxItems` or 50), strings about the request's subject, and numbers,
 * booleans, enums and consts that the schema accepts. Deterministic given the PRNG.
 *
 * Supported: type (also as a list: the first non-null one), properties / required, items /
 * prefixItems, minItems / maxItems, enum, const, default-free strings with minLength / maxLength
 * and the common formats (date-time, date, time, email, uri, uuid), minimum / maximum (also
 * exclusive) and multipleOf, anyOf / oneOf (the first branch), allOf (merged), local `$ref`s
 * (`#/$defs/…`, `#/definitions/…`). Not supported: `pattern` (strings ignore it).
 */

/** A JSON Schema (the subset read here; anything else is ignored). */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | JsonSchema[];
  prefixItems?: JsonSchema[];
  minItems?: number;
  maxItems?: number;
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number | boolean;
  exclusiveMaximum?: number | boolean;
  multipleOf?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  [k: string]: unknown;
}

/** What the generator draws on. */
export interface ToolInputContext {
  rand: () => number;
  /** What the request is about (quoted in generated strings). */
  subject: string;
  /** `n` filler words drawn from `rand`. */
  words: (n: number) => string[];
  /**
   * The text of a (format-less, non-item) string property named `key`, when the caller knows better
   * than the generator (e.g. a search query); `undefined` falls back. min/maxLength still apply.
   */
  stringFor?: (key: string | undefined) => string | undefined;
}

/** Array length when a schema sets no `minItems`. */
export const DEFAULT_ITEMS = 3;
/** Most items of one generated array, whatever `minItems` says. */
export const MAX_ITEMS = 50;
/** Deeper than this (a recursive `$ref`), values are the smallest the type allows. */
const MAX_DEPTH = 12;
/** Values generated for one input at most; past it arrays are empty (a bound on pathological schemas). */
const MAX_NODES = 20_000;

/** Where a value sits: the property it fills and, inside an array, its position. */
interface Place {
  key?: string;
  /** The nearest enclosing array item: the array's property name, and the item's 1-based index of n. */
  item?: { of: string | undefined; index: number; count: number };
  /** This value is the array item itself (not a property inside one). */
  isItem?: boolean;
  depth: number;
}

const TITLE_KEYS = new Set(['name', 'title', 'label', 'heading', 'subject', 'topic']);

/** Generates an input valid for `schema` (see the module comment for what is honoured). */
export function generateToolInput(schema: JsonSchema, ctx: ToolInputContext): unknown {
  let nodes = 0;

  const resolve = (s: JsonSchema, seen = 0): JsonSchema => {
    if (typeof s.$ref !== 'string' || seen > MAX_DEPTH) return s;
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref);
    const target = m ? (schema[m[1] as '$defs' | 'definitions'] as Record<string, JsonSchema> | undefined)?.[decodeURIComponent(m[2])] : s.$ref === '#' ? schema : undefined;
    if (!target) return {};
    const { $ref: _ref, ...rest } = s;
    return resolve({ ...target, ...rest }, seen + 1);
  };

  const merged = (s: JsonSchema): JsonSchema => {
    let out = resolve(s);
    const branch = out.anyOf?.[0] ?? out.oneOf?.[0];
    if (branch) {
      const { anyOf: _a, oneOf: _o, ...rest } = out;
      out = { ...rest, ...merged(branch) };
    }
    if (out.allOf?.length) {
      const { allOf, ...rest } = out;
      let acc: JsonSchema = rest;
      for (const part of allOf.map(merged)) {
        acc = {
          ...part,
          ...acc,
          properties: { ...(part.properties ?? {}), ...(acc.properties ?? {}) },
          required: [...new Set([...(part.required ?? []), ...(acc.required ?? [])])],
        };
      }
      out = acc;
    }
    return out;
  };

  const typeOf = (s: JsonSchema): string => {
    const t = Array.isArray(s.type) ? (s.type.find((x) => x !== 'null') ?? s.type[0]) : s.type;
    if (t) return t;
    if (s.properties || s.required) return 'object';
    if (s.items || s.prefixItems) return 'array';
    return 'string';
  };

  const gen = (raw: JsonSchema, at: Place): unknown => {
    nodes++;
    const s = merged(raw);
    if ('const' in s) return s.const;
    if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[Math.floor(ctx.rand() * s.enum.length)];
    switch (typeOf(s)) {
      case 'object': {
        const out: Record<string, unknown> = {};
        if (at.depth >= MAX_DEPTH) return out;
        for (const key of s.required ?? []) out[key] = gen(s.properties?.[key] ?? {}, { key, ...(at.item ? { item: at.item } : {}), depth: at.depth + 1 });
        return out;
      }
      case 'array':
        return genArray(s, at);
      case 'integer':
      case 'number':
        return genNumber(s, typeOf(s) === 'integer');
      case 'boolean':
        return ctx.rand() < 0.5;
      case 'null':
        return null;
      default:
        return genString(s, at);
    }
  };

  const genArray = (s: JsonSchema, at: Place): unknown[] => {
    const min = Math.max(0, Math.floor(s.minItems ?? 0));
    const max = s.maxItems === undefined ? Infinity : Math.max(0, Math.floor(s.maxItems));
    let n = Math.min(s.minItems === undefined ? DEFAULT_ITEMS : min, max, MAX_ITEMS);
    if (at.depth >= MAX_DEPTH || nodes > MAX_NODES) n = 0;
    const tuple = s.prefixItems ?? (Array.isArray(s.items) ? s.items : undefined);
    const rest = Array.isArray(s.items) ? undefined : s.items;
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const item = tuple?.[i] ?? rest ?? {};
      out.push(gen(item, { key: at.key, item: { of: at.key, index: i + 1, count: n }, isItem: true, depth: at.depth + 1 }));
    }
    return out;
  };

  const genNumber = (s: JsonSchema, integer: boolean): number => {
    const exMin = typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : s.exclusiveMinimum === true ? s.minimum : undefined;
    const exMax = typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum : s.exclusiveMaximum === true ? s.maximum : undefined;
    const step = integer ? 1 : 0.01;
    const minBound = exMin !== undefined ? exMin + step : s.minimum;
    const maxBound = exMax !== undefined ? exMax - step : s.maximum;
    let lo = minBound ?? (maxBound !== undefined ? Math.min(0, maxBound) : 0);
    let hi = maxBound ?? lo + 100;
    if (integer) {
      lo = Math.ceil(lo);
      hi = Math.floor(hi);
    }
    if (hi < lo) hi = lo;
    const m = s.multipleOf && s.multipleOf > 0 ? s.multipleOf : undefined;
    if (m) {
      const first = Math.ceil(lo / m);
      const last = Math.max(first, Math.floor(hi / m));
      return (first + Math.floor(ctx.rand() * (last - first + 1))) * m;
    }
    if (integer) return lo + Math.floor(ctx.rand() * (hi - lo + 1));
    return Math.min(hi, Math.round((lo + ctx.rand() * (hi - lo)) * 100) / 100);
  };

  const genString = (s: JsonSchema, at: Place): string => {
    let text = formatted(s.format, at) ?? (at.isItem ? undefined : ctx.stringFor?.(at.key));
    if (text === undefined) {
      const label = at.item?.of ? singularLabel(at.item.of) : undefined;
      const titleish = at.key !== undefined && TITLE_KEYS.has(at.key.toLowerCase());
      if (at.item && at.isItem) {
        // An array of strings: numbered items about the subject.
        text = `${label ?? 'Item'} ${at.item.index} of "${ctx.subject}": ${ctx.words(6).join(' ')}`;
      } else if (titleish) {
        text = at.item ? `${label ?? 'Item'} ${at.item.index}: ${ctx.words(3).join(' ')}` : capitalise(ctx.words(3).join(' '));
      } else if (at.item) {
        text = `Part ${at.item.index} of ${at.item.count} of the task "${ctx.subject}": ${ctx.words(8).join(' ')}.`;
      } else {
        text = `${at.key ? `${capitalise(humanise(at.key))} for` : 'About'} the task "${ctx.subject}": ${ctx.words(8).join(' ')}.`;
      }
    }
    const minLength = Math.max(0, Math.floor(s.minLength ?? 0));
    while (text.length < minLength) text += ` ${ctx.words(4).join(' ')}`;
    if (s.maxLength !== undefined) text = text.slice(0, Math.max(minLength, Math.floor(s.maxLength)));
    return text;
  };

  const formatted = (format: string | undefined, at: Place): string | undefined => {
    const day = Date.UTC(2025, 0, 1) + Math.floor(ctx.rand() * 365) * 86_400_000;
    switch (format) {
      case 'date-time':
        return new Date(day + Math.floor(ctx.rand() * 86_400) * 1000).toISOString();
      case 'date':
        return new Date(day).toISOString().slice(0, 10);
      case 'time':
        return new Date(day + Math.floor(ctx.rand() * 86_400) * 1000).toISOString().slice(11, 19) + 'Z';
      case 'email':
        return `${ctx.words(1)[0]}${at.item?.index ?? ''}@example.com`;
      case 'uri':
      case 'url':
        return `https://example.com/${ctx.words(2).join('-')}${at.item ? `-${at.item.index}` : ''}`;
      case 'uuid': {
        const hex = Array.from({ length: 32 }, () => Math.floor(ctx.rand() * 16).toString(16)).join('');
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
      }
      default:
        return undefined;
    }
  };

  return gen(schema, { depth: 0 });
}

/** `subtasks` → `Subtask`, `companies` → `Company`, `steps` → `Step`: the label of one item of an array property. */
function singularLabel(key: string): string {
  const words = humanise(key);
  const singular = /ies$/i.test(words) ? words.replace(/ies$/i, 'y') : /(ss|us)$/i.test(words) ? words : words.replace(/s$/i, '');
  return capitalise(singular);
}

/** `camelCase` / `snake_case` / `kebab-case` → lower-case words. */
function humanise(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
