// A small schema module for the daemon's JSON API (SPEC §10.1): each schema both validates a request
// value (bad input → CofferError EINVAL, an over-size bound → E2BIG, before any work is done) and
// describes itself as JSON Schema, so /v1/openapi.json is generated from the very objects that
// check requests and can never drift from them. Bytes travel as standard base64 (SPEC "Daemon API").
import { b64 } from '../core/encoding.js';
import { CofferError } from '../errors.js';

export type JsonSchema = Record<string, unknown>;

export interface Schema<T> {
  readonly json: JsonSchema;
  readonly optional: boolean;
  parse(value: unknown, path: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

type Props = Record<string, Schema<unknown>>;
type RequiredKeys<P extends Props> = { [K in keyof P]: P[K]['optional'] extends true ? never : K }[keyof P];
type OptionalKeys<P extends Props> = { [K in keyof P]: P[K]['optional'] extends true ? K : never }[keyof P];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOf<P extends Props> = Simplify<
  { [K in RequiredKeys<P>]: Infer<P[K]> } & { [K in OptionalKeys<P>]?: Infer<P[K]> }
>;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function where(path: string): string {
  return path === '' ? 'the body' : `'${path}'`;
}

function make<T>(json: JsonSchema, parse: (value: unknown, path: string) => T): Schema<T> {
  return { json, optional: false, parse };
}

/** Decodes standard base64 strictly (length a multiple of 4, only the base64 alphabet). */
export function decodeBase64(text: unknown, path: string, maxBytes: number): Uint8Array {
  if (typeof text !== 'string') throw new CofferError('EINVAL', `${where(path)} must be a base64 string`);
  // Checked on the encoded length first so an oversized value is refused before it is decoded.
  if (text.length > Math.ceil(maxBytes / 3) * 4)
    throw new CofferError('E2BIG', `${where(path)} is larger than ${maxBytes} bytes`);
  if (text.length % 4 !== 0 || !BASE64.test(text))
    throw new CofferError('EINVAL', `${where(path)} must be standard base64 (with padding)`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length > maxBytes)
    throw new CofferError('E2BIG', `${where(path)} is larger than ${maxBytes} bytes`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export const encodeBase64: (bytes: Uint8Array) => string = b64.encode;

export const s = {
  string(
    options: { maxLength?: number; minLength?: number; pattern?: RegExp; description?: string } = {},
  ): Schema<string> {
    const { maxLength = 1024, minLength = 0, pattern, description } = options;
    return make(
      {
        type: 'string',
        maxLength,
        ...(minLength > 0 ? { minLength } : {}),
        ...(pattern ? { pattern: pattern.source } : {}),
        ...(description ? { description } : {}),
      },
      (value, path) => {
        if (typeof value !== 'string') throw new CofferError('EINVAL', `${where(path)} must be a string`);
        if (value.length > maxLength)
          throw new CofferError('E2BIG', `${where(path)} is longer than ${maxLength} characters`);
        if (value.length < minLength)
          throw new CofferError('EINVAL', `${where(path)} must have at least ${minLength} characters`);
        if (pattern && !pattern.test(value))
          throw new CofferError('EINVAL', `${where(path)} must match ${pattern.source}`);
        return value;
      },
    );
  },

  enumOf<const T extends string>(values: readonly T[], description?: string): Schema<T> {
    return make(
      { type: 'string', enum: [...values], ...(description ? { description } : {}) },
      (value, path) => {
        if (typeof value !== 'string' || !(values as readonly string[]).includes(value))
          throw new CofferError('EINVAL', `${where(path)} must be one of ${values.join(', ')}`);
        return value as T;
      },
    );
  },

  bytes(maxBytes: number, description?: string): Schema<Uint8Array> {
    return make(
      {
        type: 'string',
        format: 'byte',
        maxLength: Math.ceil(maxBytes / 3) * 4,
        ...(description ? { description } : {}),
      },
      (value, path) => decodeBase64(value, path, maxBytes),
    );
  },

  integer(minimum: number, maximum: number, description?: string): Schema<number> {
    return make(
      { type: 'integer', minimum, maximum, ...(description ? { description } : {}) },
      (value, path) => {
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum || value > maximum)
          throw new CofferError('EINVAL', `${where(path)} must be an integer in ${minimum}..${maximum}`);
        return value;
      },
    );
  },

  boolean(description?: string): Schema<boolean> {
    return make({ type: 'boolean', ...(description ? { description } : {}) }, (value, path) => {
      if (typeof value !== 'boolean') throw new CofferError('EINVAL', `${where(path)} must be true or false`);
      return value;
    });
  },

  /** An array; more than maxItems is E2BIG (a size bound), fewer than minItems EINVAL. */
  array<T>(
    item: Schema<T>,
    options: { maxItems: number; minItems?: number; description?: string },
  ): Schema<T[]> {
    const { maxItems, minItems = 0, description } = options;
    return make(
      {
        type: 'array',
        items: item.json,
        maxItems,
        ...(minItems > 0 ? { minItems } : {}),
        ...(description ? { description } : {}),
      },
      (value, path) => {
        if (!Array.isArray(value)) throw new CofferError('EINVAL', `${where(path)} must be an array`);
        if (value.length > maxItems)
          throw new CofferError(
            'E2BIG',
            `${where(path)} holds at most ${maxItems} items, got ${value.length}`,
          );
        if (value.length < minItems)
          throw new CofferError('EINVAL', `${where(path)} needs at least ${minItems} item(s)`);
        return value.map((v, i) => item.parse(v, `${path}[${i}]`));
      },
    );
  },

  /** A string → T map (labels). Keys are checked by the core; here only count and shape. */
  record<T>(value: Schema<T>, maxProperties: number): Schema<Record<string, T>> {
    return make({ type: 'object', additionalProperties: value.json, maxProperties }, (input, path) => {
      if (typeof input !== 'object' || input === null || Array.isArray(input))
        throw new CofferError('EINVAL', `${where(path)} must be an object`);
      const entries = Object.entries(input);
      if (entries.length > maxProperties)
        throw new CofferError('E2BIG', `${where(path)} holds at most ${maxProperties} entries`);
      const out: Record<string, T> = {};
      for (const [k, v] of entries) out[k] = value.parse(v, path === '' ? k : `${path}.${k}`);
      return out;
    });
  },

  /** An object with known fields only: an unknown field is EINVAL (typos must not pass silently). */
  object<P extends Props>(props: P, description?: string): Schema<ObjectOf<P>> {
    const required = Object.entries(props)
      .filter(([, schema]) => !schema.optional)
      .map(([name]) => name);
    return make(
      {
        type: 'object',
        properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.json])),
        ...(required.length > 0 ? { required } : {}),
        additionalProperties: false,
        ...(description ? { description } : {}),
      },
      (value, path) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new CofferError('EINVAL', `${where(path)} must be a JSON object`);
        const input = value as Record<string, unknown>;
        for (const field of Object.keys(input)) {
          if (!Object.hasOwn(props, field))
            throw new CofferError('EINVAL', `${where(path)} has an unknown field '${field.slice(0, 64)}'`);
        }
        const out: Record<string, unknown> = {};
        for (const [field, schema] of Object.entries(props)) {
          const child = path === '' ? field : `${path}.${field}`;
          const v = input[field];
          if (v === undefined) {
            if (!schema.optional) throw new CofferError('EINVAL', `${where(child)} is required`);
            continue;
          }
          out[field] = schema.parse(v, child);
        }
        return out as ObjectOf<P>;
      },
    );
  },

  optional<T>(schema: Schema<T>): Schema<T> & { readonly optional: true } {
    return { json: schema.json, optional: true, parse: schema.parse };
  },
};

/**
 * Parses decoded query pairs (target.ts) through an object schema of strings (numbers are converted).
 * A name given twice is EINVAL: which of two values counts must never be a guess.
 */
export function parseQuery<T>(schema: Schema<T>, query: Iterable<[string, string]>): T {
  // No prototype: a parameter named __proto__ or constructor is just an (unknown) field name.
  const input: Record<string, unknown> = Object.create(null);
  const props = (schema.json.properties ?? {}) as Record<string, JsonSchema>;
  for (const [key, value] of query) {
    if (Object.hasOwn(input, key)) throw new CofferError('EINVAL', `query parameter '${key}' given twice`);
    const type = props[key]?.type;
    input[key] = type === 'integer' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  }
  return schema.parse(input, '');
}
