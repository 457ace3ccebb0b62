/**
 * A request's values before they are encoded (path and query parameters, the JSON body),
 * the changes the fuzz cases make to them (one parameter replaced, the tenant dropped),
 * and their encoding into a request of the run, with the input as the report shows it.
 */
import type { WireRequest } from './fuzz-client.js';
import type { Operation } from './fuzz-document.js';
import { type Raw, short, SHOWN_CHARS } from './fuzz-raw-inputs.js';
import type { TokenKind } from './fuzz-tokens.js';
import type { Slot, ValueContext } from './fuzz-values.js';

/** One request of the run and what it probes. */
export interface FuzzCase {
  readonly method: string;
  /** The document's route template (or an undocumented route's path). */
  readonly route: string;
  /** What is wrong with it: `valid`, a kind of hostile value, `token: expired`… */
  readonly kind: string;
  /** Where: `query.limit`, `body.params.kind`, `body`, `token`, `method`, `-`. */
  readonly slot: string;
  readonly token: TokenKind;
  readonly request: Omit<WireRequest, 'token'>;
  /** The input in short, ids replaced by their owner and kind, for the report. */
  readonly input: string;
  /** The answer this request must get, when the rule is stricter than "no 5xx". */
  readonly expect?: { readonly status: number; readonly code: string };
  /** The values it was built from (a valid request's serve as bases of the hostile ones). */
  readonly parts: Parts;
}

/** A request's values, before encoding. */
export interface Parts {
  readonly path: Readonly<Record<string, unknown>>;
  readonly query: Readonly<Record<string, unknown>>;
  /** The JSON body; undefined: none. */
  readonly body: unknown;
}

/** The token names the tenant: a `tenant` of the query would answer 404 before the token is used. */
export function withoutTenant(parts: Parts): Parts {
  const { tenant: _tenant, ...query } = parts.query;
  return { ...parts, query };
}

/** The value of the parameter at `slot`. */
export function valueAt(parts: Parts, slot: Slot): unknown {
  if (slot.in === 'path') return parts.path[slot.keys[0] ?? ''];
  if (slot.in === 'query') return parts.query[slot.keys[0] ?? ''];
  let value: unknown = parts.body;
  for (const key of slot.keys)
    value =
      typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)[key]
        : undefined;
  return value;
}

function setIn(target: unknown, keys: readonly string[], value: unknown): unknown {
  const [first, ...rest] = keys;
  if (first === undefined) return value;
  const object =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? (target as Record<string, unknown>)
      : {};
  return { ...object, [first]: setIn(object[first], rest, value) };
}

/** `parts` with the parameter at `slot` set to `value` (nested body objects created). */
export function withValue(parts: Parts, slot: Slot, value: unknown): Parts {
  const key = slot.keys[0] ?? '';
  if (slot.in === 'path') return { ...parts, path: { ...parts.path, [key]: value } };
  if (slot.in === 'query') return { ...parts, query: { ...parts.query, [key]: value } };
  return { ...parts, body: setIn(parts.body, slot.keys, value) };
}

/** What a case probes, and a body or query no `Parts` can hold. */
export interface Meta {
  readonly kind: string;
  readonly slot: string;
  readonly raw?: Raw | 'none';
  readonly rawQuery?: string;
  readonly expect?: FuzzCase['expect'];
}

const stringOf = (value: unknown): string =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? '');

/**
 * The request `parts` make for `op`, sent with `token`. A platform-admin names tenant A
 * unless the parts name a tenant; `labels` replace known ids in the shown input.
 */
export function caseOf(
  op: Operation,
  parts: Parts,
  token: TokenKind,
  meta: Meta,
  ctx: Pick<ValueContext, 'tenant' | 'otherTenant'>,
  labels: readonly (readonly [string, string])[],
): FuzzCase {
  const segments = op.route
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      const name = /^\{(.+)\}$/.exec(s)?.[1];
      return name === undefined ? s : stringOf(parts.path[name]);
    });
  const query: [string, string][] = [];
  for (const [key, value] of Object.entries(parts.query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) query.push([key, stringOf(v)]);
    else query.push([key, stringOf(value)]);
  }
  let actual = token;
  if (token === 'platform-admin') {
    if (!query.some(([k]) => k === 'tenant')) query.push(['tenant', ctx.tenant]);
    // Acting for B is a platform-admin's right; B's resources must stay as created.
    if (query.some(([k, v]) => k === 'tenant' && v === ctx.otherTenant)) actual = 'admin';
  }
  let body: WireRequest['body'];
  let bodyShown = '';
  if (meta.raw !== undefined && meta.raw !== 'none') {
    body = { bytes: meta.raw.bytes, contentType: meta.raw.contentType };
    bodyShown = ` body(${meta.raw.contentType ?? 'no type'})=${meta.raw.preview}`;
  } else if (meta.raw === undefined && parts.body !== undefined) {
    body = { bytes: JSON.stringify(parts.body), contentType: 'application/json' };
    bodyShown = ` body=${short(parts.body)}`;
  }
  const shownQuery = [
    ...query.map(([k, v]) => `${k}=${short(v)}`),
    ...(meta.rawQuery === undefined ? [] : [short(meta.rawQuery)]),
  ];
  let input = `${segments.map((s) => `/${s.length > SHOWN_CHARS ? short(s) : s}`).join('')}${
    shownQuery.length > 0 ? `?${shownQuery.join('&')}` : ''
  }${bodyShown} token=${actual}`;
  for (const [id, label] of labels) input = input.split(id).join(label);
  return {
    method: op.method,
    route: op.route,
    kind: meta.kind,
    slot: meta.slot,
    token: actual,
    request: { method: op.method, segments, query, rawQuery: meta.rawQuery, body },
    input: input.length > 400 ? `${input.slice(0, 400)}…` : input,
    expect: meta.expect,
    parts,
  };
}
