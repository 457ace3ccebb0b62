/**
 * Values for one parameter of the document: `validOf` is a fast-check arbitrary of values
 * its JSON Schema accepts (enums, uuids of the caller's own resources, ISO instants, cron
 * strings, time zones, bounded text), so that a fair share of requests reaches the
 * handlers; `hostileOf` lists values a careless server trips on, each with the kind of
 * attack it is (the cases draw one of each kind with fast-check): wrong types, boundary
 * numbers, NUL, lone surrogates, huge strings, unknown keys and the ids of another
 * tenant's resources.
 */
import fc from 'fast-check';

import type { JsonSchema } from './fuzz-document.js';

/** Kinds of resources whose ids the fuzzer knows. */
export const ID_KINDS = [
  'jobs',
  'backups',
  'snapshots',
  'restores',
  'rollbacks',
  'schedules',
  'dr-plans',
  'dr-tests',
] as const;
export type IdKind = (typeof ID_KINDS)[number];

/** Ids of one tenant's resources, by kind. */
export type IdsByKind = Readonly<Record<IdKind, readonly string[]>>;

/** What values are drawn from. */
export interface ValueContext {
  /** The tenant of the valid tokens. */
  readonly tenant: string;
  /** Its resources' ids: what valid-looking uuids are. */
  readonly own: IdsByKind;
  /** Another tenant, whose ids and tenant id tenant A must never reach. */
  readonly otherTenant: string;
  readonly other: IdsByKind;
  /** The source's tables, for `tables`. */
  readonly tables: readonly string[];
  /** The instant the run started (restore targets near it are inside the window). */
  readonly nowMs: number;
}

/** Where a parameter is. */
export interface Slot {
  readonly in: 'path' | 'query' | 'body';
  /** Its name; in a body, the path of keys from the root. */
  readonly keys: readonly string[];
  readonly schema: JsonSchema;
  /** The operation's route template, e.g. `/v1/schedules/{id}`. */
  readonly route: string;
}

/** A hostile value and the kind of attack it is. */
export interface Hostile {
  readonly kind: string;
  readonly value: unknown;
}

/** `query.limit`, `body.params.kind`, `path.id`. */
export const slotName = (slot: Slot): string => `${slot.in}.${slot.keys.join('.')}`;

/** The kind of resource a uuid slot names: by the route for `:id`, by the key in bodies. */
export function idKindOf(slot: Slot): IdKind | undefined {
  const last = slot.keys.at(-1);
  if (slot.in === 'path') {
    const kind = /^\/v1\/([a-z-]+)\/\{id\}$/.exec(slot.route)?.[1];
    return ID_KINDS.find((k) => k === kind);
  }
  if (last === 'backupId') return 'backups';
  if (last === 'snapshotId') return 'snapshots';
  if (last === 'drPlanId') return 'dr-plans';
  return undefined;
}

const idsOf = (ids: IdsByKind, kind: IdKind | undefined): string[] =>
  kind === undefined ? ID_KINDS.flatMap((k) => ids[k]) : [...ids[kind]];

const CRONS = ['0 3 * * *', '*/15 * * * *', '0 4 * * 1', '30 2 1 * *', '0 0 0 * * *'];
const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham'];
const TARGETS = ['ops@example.com', 'https://hooks.example.com/backtrack', 'http://10.0.0.1/x'];

/** ISO instants with a zone: around now (inside a restore window), and far ones. */
function instants(nowMs: number): fc.Arbitrary<string> {
  const near = fc
    .integer({ min: 1, max: 7 * 24 * 60 })
    .map((minutes) => new Date(nowMs - minutes * 60_000).toISOString());
  const far = fc
    .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z') })
    .filter((d) => !Number.isNaN(d.getTime()))
    .map((d) => d.toISOString());
  const zoned = fc
    .tuple(near, fc.constantFrom('+00:00', '+05:30', '-08:00', '+14:00'))
    .map(([at, zone]) => at.replace('Z', zone));
  return fc.oneof(near, far, zoned, fc.constant(new Date(nowMs).toISOString()));
}

/** Text the schema accepts: printable ASCII within its bounds. */
function boundedText(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? 40, 40));
  return fc.string({ unit: 'grapheme-ascii', minLength, maxLength });
}

function validString(schema: JsonSchema, slot: Slot, ctx: ValueContext): fc.Arbitrary<string> {
  const name = slot.keys.at(-1) ?? '';
  if (name === 'tenant') return fc.constant(ctx.tenant);
  if (schema.format === 'uuid') {
    const own = idsOf(ctx.own, idKindOf(slot));
    return own.length === 0 ? fc.uuid() : fc.oneof(fc.constantFrom(...own), fc.uuid());
  }
  if (schema.format === 'date-time') return instants(ctx.nowMs);
  if (schema.format === 'email' || schema.format === 'uri') return fc.constantFrom(...TARGETS);
  if (schema.description?.startsWith('cron') === true) return fc.constantFrom(...CRONS);
  if (name === 'timezone') return fc.constantFrom(...ZONES);
  if (name === 'tables') return fc.constantFrom(...ctx.tables);
  if (schema.pattern !== undefined) {
    const matching = fc
      .stringMatching(new RegExp(schema.pattern))
      .filter((s) => s.length <= (schema.maxLength ?? 200));
    return name === 'targetSchema'
      ? fc.oneof(matching, fc.constant('fuzz_restore_target'))
      : matching;
  }
  return boundedText(schema);
}

/** A value `schema` accepts, for the parameter at `slot`. */
export function validOf(schema: JsonSchema, slot: Slot, ctx: ValueContext): fc.Arbitrary<unknown> {
  const value = validBare(schema, slot, ctx);
  return schema.nullable === true
    ? fc.oneof({ arbitrary: value, weight: 4 }, fc.constant(null))
    : value;
}

function validBare(schema: JsonSchema, slot: Slot, ctx: ValueContext): fc.Arbitrary<unknown> {
  if (schema.enum !== undefined && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  if (schema.anyOf !== undefined)
    return fc.oneof(...schema.anyOf.map((s) => validOf(s, slot, ctx)));
  switch (schema.type) {
    case 'string':
      return validString(schema, slot, ctx);
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? -1000;
      const max = schema.maximum ?? 1000;
      return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max));
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = schema.items ?? {};
      return fc.array(validOf(items, slot, ctx), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)),
      });
    }
    case 'object':
      return validObject(schema, slot, ctx);
    case undefined:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function validObject(schema: JsonSchema, slot: Slot, ctx: ValueContext): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, child] of Object.entries(properties))
    model[key] = validOf(child, { ...slot, keys: [...slot.keys, key], schema: child }, ctx);
  const required = (schema.required ?? []).filter((k) => k in model);
  return fc.record(model, { requiredKeys: required });
}

/** A string repeated to `length` code units. */
const huge = (unit: string, length: number): string =>
  unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

/** Strings that break servers, whatever the parameter. */
const nasty = (base: string): Hostile[] => [
  { kind: 'NUL', value: '\u0000' },
  { kind: 'NUL', value: `${base}\u0000` },
  { kind: 'NUL', value: `\u0000${base}` },
  { kind: 'lone surrogate', value: '\ud800' },
  { kind: 'lone surrogate', value: '\udfff' },
  { kind: 'lone surrogate', value: `${base}\ud800` },
  { kind: 'lone surrogate', value: `\udfff${base}` },
  // 10k ASCII stays under Node's 16 KB header limit in a URL; the longer ones do not.
  { kind: 'huge string', value: huge('a', 10_000) },
  { kind: 'huge string', value: huge(base || 'x', 10_000) },
  { kind: 'huger string', value: huge('é', 30_000) },
  { kind: 'huger string', value: huge(base || 'x', 100_000) },
  { kind: 'control or odd unicode', value: `${base}\u202e\ufeff` },
  { kind: 'control or odd unicode', value: `\u0001\u001b[31m${base}` },
  { kind: 'control or odd unicode', value: '😀'.repeat(20) },
  { kind: 'injection-looking', value: `${base}' OR '1'='1` },
  { kind: 'injection-looking', value: '../../etc/passwd' },
  { kind: 'injection-looking', value: '%00%ff' },
  { kind: 'empty', value: '' },
  { kind: 'whitespace', value: ` ${base} ` },
];

/** Numbers at the edges of int4, of exact doubles and of doubles. */
const BOUNDARY_NUMBERS = [
  0,
  -1,
  2 ** 31,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 53,
  -(2 ** 53),
  1e308,
  -1e308,
  5e-324,
  1.5,
];

/** Number-looking text: what a query's numbers arrive as. */
const NUMBER_TEXTS = [
  ...BOUNDARY_NUMBERS.map(String),
  '2147483648',
  '9007199254740993',
  '1e308',
  '1e309',
  'NaN',
  'Infinity',
  '-Infinity',
  '0x10',
  '1e3',
  '+1',
  '-0',
  '٣',
  '1_000',
  '9'.repeat(400),
];

const WRONG_TYPES: readonly unknown[] = [
  0,
  -1,
  true,
  false,
  null,
  [],
  {},
  ['x'],
  { a: 1 },
  'text',
  1.5,
];

/** Another tenant's ids, the matching kind first. */
function otherIds(slot: Slot, ctx: ValueContext): Hostile[] {
  const kind = idKindOf(slot);
  const ids = [...new Set([...idsOf(ctx.other, kind), ...idsOf(ctx.other, undefined)])];
  return ids.map((value) => ({ kind: "other tenant's id", value }));
}

/** Hostile values for the parameter at `slot`; `base` is a valid value of it. */
export function hostileOf(slot: Slot, base: unknown, ctx: ValueContext): Hostile[] {
  const text = typeof base === 'string' ? base : '';
  const onWire = slot.in !== 'body';
  const choices: Hostile[] = [...nasty(text)];
  if (onWire) {
    choices.push(...NUMBER_TEXTS.map((value) => ({ kind: 'boundary number', value })));
    choices.push(
      ...['abc', 'true', 'null', '[]', '{}', '1.5', 'undefined'].map((value) => ({
        kind: 'wrong type',
        value,
      })),
    );
    // A repeated key: fastify hands the handler an array.
    choices.push({ kind: 'repeated key', value: [text || 'x', text || 'y'] });
  } else {
    choices.push(...BOUNDARY_NUMBERS.map((value) => ({ kind: 'boundary number', value })));
    choices.push(...WRONG_TYPES.map((value) => ({ kind: 'wrong type', value })));
    choices.push({ kind: 'boundary number', value: Number.MAX_SAFE_INTEGER + 2 });
  }
  const schema = slot.schema;
  if (schema.format === 'uuid' || slot.in === 'path') choices.push(...otherIds(slot, ctx));
  if (slot.keys.at(-1) === 'tenant')
    choices.push({ kind: "other tenant's id", value: ctx.otherTenant });
  if (schema.type === 'object') {
    const object = typeof base === 'object' && base !== null ? base : {};
    choices.push({ kind: 'unknown key', value: { ...object, zzUnknown: 1 } });
    choices.push({ kind: 'unknown key', value: { ...object, tenant: ctx.otherTenant } });
  }
  if (schema.type === 'array') {
    const item = Array.isArray(base) && base.length > 0 ? (base[0] as unknown) : 'x';
    choices.push({ kind: 'huge array', value: Array.from({ length: 10_000 }, () => item) });
    choices.push({ kind: 'NUL', value: ['\u0000'] });
    choices.push({ kind: 'lone surrogate', value: ['\ud800x'] });
    choices.push({ kind: 'wrong type', value: [[item]] });
  }
  return choices;
}

/** Every parameter slot of a body schema: its properties, and nested objects' properties. */
export function bodySlots(
  schema: JsonSchema,
  route: string,
  prefix: readonly string[] = [],
): Slot[] {
  const out: Slot[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const keys = [...prefix, key];
    out.push({ in: 'body', keys, schema: child, route });
    if (child.type === 'object') out.push(...bodySlots(child, route, keys));
  }
  return out;
}
