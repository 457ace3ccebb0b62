/**
 * Inputs no schema describes, for the fuzz test: hostile bodies (not JSON, not an object,
 * unknown and prototype keys, duplicate keys, deep nesting, not UTF-8, other media types,
 * at and over the body limit) and malformed queries; and how an input is shown in the
 * report (long strings by their start and length).
 */
import type { JsonSchema } from './fuzz-document.js';
import type { ValueContext } from './fuzz-values.js';

/** The body limit of the API under test (harness: 1 MiB). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** A body sent as bytes, with how the report shows it. */
export interface Raw {
  readonly bytes: string | Uint8Array;
  /** Undefined: no Content-Type header. */
  readonly contentType?: string;
  readonly preview: string;
}

/** Strings longer than this are shown by their start and length. */
export const SHOWN_CHARS = 40;

/** A value as the report shows it: JSON, long strings and arrays cut short. */
export function short(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'string' && v.length > SHOWN_CHARS)
        return `<${JSON.stringify(v.slice(0, 8)).slice(1, -1)}… ×${v.length}>`;
      if (Array.isArray(v) && v.length > 6)
        return [...(v as unknown[]).slice(0, 2), `<… ×${v.length}>`];
      return v;
    }) ?? 'undefined'
  );
}

/** Queries no parser should trip on. */
export const RAW_QUERIES = [
  '%',
  '%zz',
  '%E0%A4%A',
  '%00=%00',
  'tenant',
  'tenant=',
  '=x',
  '&&&',
  'a[b]=1',
  '__proto__=1',
  'constructor[prototype][x]=1',
  'tenant[]=x',
  'limit=%00',
  'tenant=%ED%A0%80',
  `${'k'.repeat(5000)}=v`,
  Array.from({ length: 1000 }, (_, i) => `p${i}=${i}`).join('&'),
] as const;

/** A hostile body and the answer it must get, when stricter than "no 5xx". */
export interface BodyCase {
  readonly kind: string;
  readonly raw: Raw | 'none';
  readonly expect?: { readonly status: number; readonly code: string };
  /** Sent with a random valid token instead of admin. */
  readonly anyToken?: boolean;
}

const json = (value: unknown, contentType = 'application/json'): Raw => ({
  bytes: JSON.stringify(value),
  contentType,
  preview: short(value),
});
const text = (bytes: string, contentType: string | undefined = 'application/json'): Raw => ({
  bytes,
  contentType,
  preview: short(bytes),
});

/** A JSON object whose first key is `key` with a string of `length` characters. */
const sized = (key: string, length: number): Raw => ({
  bytes: `{${JSON.stringify(key)}:"${'x'.repeat(length)}"}`,
  contentType: 'application/json',
  preview: `{"${key}":<"x" ×${length}>}`,
});

/** Hostile bodies of an operation whose body has `schema` (none: a DELETE's); `base` is valid. */
export function hostileBodies(
  schema: JsonSchema | undefined,
  base: unknown,
  ctx: ValueContext,
): BodyCase[] {
  // fastify reads a DELETE's body too, so the limit holds there as well.
  const tooLarge = { status: 413, code: 'PAYLOAD_TOO_LARGE' };
  if (schema === undefined)
    return [
      { kind: 'unexpected body', raw: json({ a: 1 }) },
      {
        kind: 'unexpected body over the limit',
        raw: sized('a', 10 * 1024 * 1024),
        expect: tooLarge,
      },
    ];
  const object = typeof base === 'object' && base !== null ? (base as Record<string, unknown>) : {};
  const key = Object.keys(schema.properties ?? {})[0] ?? 'a';
  const rest = JSON.stringify(object).slice(1);
  const withPrefix = (prefix: string): Raw => text(`{${prefix}${rest === '}' ? '}' : `,${rest}`}`);
  const scheduleId = ctx.other.schedules[0] ?? '';
  return [
    ...[[], 'text', 42, null, true, [object]].map((v) => ({
      kind: 'not an object',
      raw: json(v),
    })),
    { kind: 'unknown key', raw: json({ ...object, zzUnknown: 1 }), anyToken: true },
    { kind: 'unknown key', raw: json({ ...object, tenant: ctx.otherTenant }) },
    { kind: 'unknown key', raw: json({ ...object, tenant_id: ctx.otherTenant }) },
    { kind: 'unknown key', raw: json({ ...object, id: scheduleId }) },
    { kind: 'prototype key', raw: withPrefix('"__proto__":{"polluted":true}') },
    { kind: 'prototype key', raw: withPrefix('"constructor":{"prototype":{"polluted":true}}') },
    { kind: 'duplicate key', raw: withPrefix(`${JSON.stringify(key)}:"\\u0000"`) },
    { kind: 'malformed JSON', raw: text('{"a":') },
    { kind: 'malformed JSON', raw: text('') },
    { kind: 'malformed JSON', raw: text('{}garbage') },
    { kind: 'malformed JSON', raw: text(`{"${key}":"a\u0000b"}`) },
    { kind: 'malformed JSON', raw: text("{'a':1}") },
    { kind: 'deep nesting', raw: text(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) },
    { kind: 'deep nesting', raw: text(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`) },
    {
      kind: 'not UTF-8',
      raw: {
        bytes: Buffer.concat([
          Buffer.from(`{${JSON.stringify(key)}:"`),
          Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80]),
          Buffer.from('"}'),
        ]),
        contentType: 'application/json',
        preview: `{"${key}":"\\xff\\xfe\\xed\\xa0\\x80"}`,
      },
    },
    {
      kind: 'media type',
      raw: {
        bytes: Buffer.from(JSON.stringify(object), 'utf16le'),
        contentType: 'application/json; charset=utf-16le',
        preview: 'valid body in UTF-16LE',
      },
    },
    { kind: 'media type', raw: json(object, 'text/plain') },
    { kind: 'media type', raw: text('a=1&b=2', 'application/x-www-form-urlencoded') },
    { kind: 'media type', raw: text('--x\r\n\r\n--x--', 'multipart/form-data; boundary=x') },
    {
      kind: 'media type',
      raw: { bytes: Buffer.from(JSON.stringify(object)), preview: 'valid body, no content type' },
    },
    { kind: 'none', raw: 'none', anyToken: true },
    { kind: 'large under the limit', raw: json({ ...object, [key]: 'x'.repeat(900_000) }) },
    { kind: 'over the limit', raw: sized(key, BODY_LIMIT_BYTES + 1), expect: tooLarge },
    { kind: 'over the limit', raw: sized(key, 10 * 1024 * 1024), expect: tooLarge },
  ];
}
