/**
 * The properties every answer of the fuzz run must have, checked answer by answer, and the
 * report: every violation is kept, and those that share (property, method, route, status,
 * error code) become one line with a count, the kinds of input and the parameters that
 * triggered it, and an input of each of the first kinds.
 *   no 5xx           — no answer is a server error;
 *   no cross-tenant  — no 2xx answer to tenant A's tokens holds tenant B's tenant id or any
 *                      id or name of B's resources, not even one the request sent (a 2xx
 *                      that repeats it accepted a reference to B's resource), and no 2xx
 *                      answers A at B's id or with ?tenant=B (A's audit trail may name the
 *                      B ids A tried in paths: they are its own attempts);
 *   audited          — every 2xx POST/PUT/PATCH/DELETE has an audit row with its
 *                      X-Request-Id and outcome `success`;
 *   envelope         — every request gets an answer, and it is `{ success, … }`, errors
 *                      with `error.code` and `error.message` (not /metrics, /docs, nor an
 *                      audit export's stream);
 *   status           — the few requests with a stricter rule get their status and code (a
 *                      body over the limit is 413 PAYLOAD_TOO_LARGE).
 */
import { z } from 'zod';

import type { Queryable } from '../../../shared/pg/index.js';

import type { WireResponse } from './fuzz-client.js';
import type { FuzzCase } from './fuzz-parts.js';
import { TENANT_A_CLAIMS } from './fuzz-tokens.js';

/** The properties, in report order. */
export const PROPERTIES = ['no 5xx', 'no cross-tenant', 'audited', 'envelope', 'status'] as const;
export type Property = (typeof PROPERTIES)[number];

/** One request and its answer. */
export interface Exchange {
  readonly c: FuzzCase;
  readonly r: WireResponse;
}

/** One broken property of one answer. */
export interface Violation {
  readonly property: Property;
  readonly x: Exchange;
  readonly code: string;
  readonly detail?: string;
}

/** What tenant A must never see of tenant B. */
export interface Markers {
  readonly tenantA: string;
  readonly tenantB: string;
  /** B's ids and names, each with a label for the report. */
  readonly ofB: ReadonlyMap<string, string>;
}

/** Routes whose answers are not the envelope: metrics text and the OpenAPI document. */
/** Not in the envelope: Prometheus text, the OpenAPI document, and the probes' own bodies. */
const NOT_ENVELOPED = new Set(['/metrics', '/docs', '/docs/json', '/healthz', '/readyz']);
/** Routes whose 2xx answer is a stream of records, not the envelope. */
const STREAMS = new Set(['/v1/audit/export']);
/** Routes that list the caller's own audit trail, where A's attempts at B's ids are the target. */
const AUDIT_TRAILS = new Set(['/v1/audit', '/v1/audit/export']);
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const envelope = z.object({ success: z.boolean() });
const errorEnvelope = z.object({
  success: z.literal(false),
  error: z.object({ code: z.string().min(1), message: z.string().min(1) }),
});

/** The error code of an answer, `-` when it has none. */
export function codeOf(r: WireResponse): string {
  const parsed = errorEnvelope.safeParse(r.json);
  if (parsed.success) return parsed.data.error.code;
  return r.status === 0 ? 'NO_ANSWER' : '-';
}

const is2xx = (r: WireResponse): boolean => r.status >= 200 && r.status < 300;

/** Whether the request acts for tenant A (B's data must stay out of its answers). */
function actsForA(c: FuzzCase, m: Markers): boolean {
  if (TENANT_A_CLAIMS.has(c.token)) return true;
  if (c.token !== 'platform-admin') return false;
  const named = c.request.query.filter(([k]) => k === 'tenant').map(([, v]) => v);
  return named.length === 1 && named[0] === m.tenantA;
}

function crossTenant(x: Exchange, m: Markers, pathIdsOfB: ReadonlySet<string>): Violation[] {
  const { c, r } = x;
  if (!is2xx(r) || !actsForA(c, m)) return [];
  const out: Violation[] = [];
  const code = codeOf(r);
  for (const segment of c.request.segments) {
    const label = m.ofB.get(segment);
    if (label !== undefined)
      out.push({ property: 'no cross-tenant', x, code, detail: `answered 2xx at ${label}` });
  }
  if (
    c.token !== 'platform-admin' &&
    c.request.query.some(([k, v]) => k === 'tenant' && v !== m.tenantA)
  )
    out.push({
      property: 'no cross-tenant',
      x,
      code,
      detail: 'answered 2xx for ?tenant=<another>',
    });
  // Even an id A sent itself: a 2xx that repeats it accepted a reference to B's resource.
  const shown = [...m.ofB, [m.tenantB, "B's tenant id"] as const].filter(
    ([marker]) => r.text.includes(marker) && !(AUDIT_TRAILS.has(c.route) && pathIdsOfB.has(marker)),
  );
  for (const [, label] of shown)
    out.push({ property: 'no cross-tenant', x, code, detail: `the answer holds ${label}` });
  return out;
}

function enveloped(x: Exchange): Violation[] {
  const { c, r } = x;
  if (r.status === 0)
    return [{ property: 'envelope', x, code: 'NO_ANSWER', detail: r.error ?? 'no answer' }];
  if (NOT_ENVELOPED.has(c.route) || (STREAMS.has(c.route) && is2xx(r))) return [];
  const parsed = envelope.safeParse(r.json);
  const fits =
    parsed.success &&
    parsed.data.success === r.status < 400 &&
    (r.status < 400 || errorEnvelope.safeParse(r.json).success);
  if (fits) return [];
  const body = JSON.stringify(r.text.slice(0, 120));
  return [{ property: 'envelope', x, code: codeOf(r), detail: `body ${body}` }];
}

/** The properties one answer breaks (all but `audited`, which needs the catalog). */
export function checkAnswer(x: Exchange, m: Markers, pathIdsOfB: ReadonlySet<string>): Violation[] {
  const out: Violation[] = [];
  if (x.r.status >= 500) out.push({ property: 'no 5xx', x, code: codeOf(x.r) });
  out.push(...crossTenant(x, m, pathIdsOfB));
  out.push(...enveloped(x));
  const expect = x.c.expect;
  if (expect !== undefined && (x.r.status !== expect.status || codeOf(x.r) !== expect.code))
    out.push({
      property: 'status',
      x,
      code: codeOf(x.r),
      detail: `expected ${expect.status} ${expect.code}`,
    });
  return out;
}

/**
 * The audit outcomes of every 2xx mutating answer's request id, read from the catalog's
 * `backtrack.audit_log`.
 */
export async function auditOutcomes(
  catalog: Queryable,
  exchanges: readonly Exchange[],
): Promise<Map<string, string[]>> {
  const ids = exchanges.flatMap(({ c, r }) => {
    const id = MUTATING.has(c.method) && is2xx(r) ? r.headers?.get('x-request-id') : undefined;
    return id ? [id] : [];
  });
  const result = await catalog.query(
    'SELECT request_id, outcome FROM backtrack.audit_log WHERE request_id = ANY($1::text[])',
    [ids],
  );
  const rows = z
    .array(z.object({ request_id: z.string(), outcome: z.string() }))
    .parse(result.rows);
  const outcomes = new Map<string, string[]>();
  for (const row of rows)
    outcomes.set(row.request_id, [...(outcomes.get(row.request_id) ?? []), row.outcome]);
  return outcomes;
}

/** `audited` over the run, given each request id's audit outcomes. */
export function checkAudit(
  exchanges: readonly Exchange[],
  outcomes: ReadonlyMap<string, readonly string[]>,
): Violation[] {
  const out: Violation[] = [];
  for (const x of exchanges) {
    if (!MUTATING.has(x.c.method) || !is2xx(x.r)) continue;
    const id = x.r.headers?.get('x-request-id');
    const found = id ? (outcomes.get(id) ?? []) : [];
    if (id && found.includes('success')) continue;
    out.push({
      property: 'audited',
      x,
      code: codeOf(x.r),
      detail: id
        ? `audit rows of request ${id}: ${found.length === 0 ? 'none' : found.join(', ')}`
        : 'no X-Request-Id header',
    });
  }
  return out;
}

/** Samples shown per report line. */
const SAMPLES_PER_LINE = 2;

/**
 * One line per distinct (property, method, route, status, code): how often, which kinds of
 * input at which parameters, and an input of each of the first kinds.
 */
export function reportLines(violations: readonly Violation[]): string[] {
  interface Group {
    readonly first: Violation;
    count: number;
    /** Kind of input → the parameters it was at. */
    readonly kinds: Map<string, Set<string>>;
    readonly samples: Map<string, string>;
    readonly details: Set<string>;
  }
  const groups = new Map<string, Group>();
  for (const v of violations) {
    const { c, r } = v.x;
    const key = [v.property, c.method, c.route, r.status, v.code].join('|');
    const group = groups.get(key) ?? {
      first: v,
      count: 0,
      kinds: new Map<string, Set<string>>(),
      samples: new Map<string, string>(),
      details: new Set<string>(),
    };
    group.count++;
    const slots = group.kinds.get(c.kind) ?? new Set<string>();
    group.kinds.set(c.kind, slots.add(c.slot));
    if (!group.samples.has(c.kind)) group.samples.set(c.kind, `${c.method} ${c.input}`);
    // Bodies and request ids differ from answer to answer; the first one stands for all.
    if (v.detail !== undefined && !/^(body |audit rows)/.test(v.detail))
      group.details.add(v.detail);
    groups.set(key, group);
  }
  const order = (p: Property): number => PROPERTIES.indexOf(p);
  const listed = (items: readonly string[], max: number): string =>
    items.slice(0, max).join(', ') + (items.length > max ? ` (+${items.length - max} more)` : '');
  return [...groups.values()]
    .sort(
      (a, b) =>
        order(a.first.property) - order(b.first.property) ||
        a.first.x.c.route.localeCompare(b.first.x.c.route) ||
        a.first.x.c.method.localeCompare(b.first.x.c.method) ||
        a.first.x.r.status - b.first.x.r.status,
    )
    .map(({ first, count, kinds, samples, details }) => {
      const { c, r } = first.x;
      const inputs = [...kinds].map(([kind, slots]) =>
        kind === 'valid' || kind.startsWith('token: ')
          ? kind
          : `${kind} at ${listed([...slots], 4)}`,
      );
      const why = details.size > 0 ? listed([...details], 3) : (first.detail ?? '');
      const shown = [...samples.values()].slice(0, SAMPLES_PER_LINE).map((s) => `e.g. ${s}`);
      return [
        `[${first.property}] ${c.method} ${c.route} → ${r.status} ${first.code} ×${count}`,
        `inputs: ${listed(inputs, 6)}`,
        ...(why === '' ? [] : [why]),
        ...shown,
      ].join(' · ');
    });
}
