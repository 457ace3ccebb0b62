/**
 * Fuzzing the control API from its own OpenAPI document, against the real stack: well over
 * 2,000 requests generated with fast-check from one printed seed (BACKTRACK_TEST_FUZZ_SEED
 * picks another) — for every operation and every path, query and body parameter, valid
 * values and hostile ones (wrong types, boundary numbers, NUL, lone surrogates, huge
 * strings, unknown keys, tenant B's ids), hostile bodies and queries, every kind of bad
 * token. Tenant A's tokens send them; tenant B owns one resource of every kind. Checked over
 * every answer, all failures collected (see fuzz-checks.ts): no 5xx; nothing of B in A's
 * answers; every 2xx mutation audited under its X-Request-Id; every answer the envelope; a
 * body over the limit 413. The API runs without workers, so queued jobs stay queued.
 */
import { writeFileSync } from 'node:fs';

import { DEFAULT_RATE_LIMITS } from '../../../shared/config/index.js';
import type { Queryable } from '../../../shared/pg/index.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

import { CaseBuilder, UNDOCUMENTED_ROUTES } from './fuzz-cases.js';
import {
  auditOutcomes,
  checkAnswer,
  checkAudit,
  type Exchange,
  type Markers,
  reportLines,
  type Violation,
} from './fuzz-checks.js';
import { send } from './fuzz-client.js';
import { type Operation, operationsOf } from './fuzz-document.js';
import type { FuzzCase } from './fuzz-parts.js';
import { type SeededTenant, seedTenants } from './fuzz-tenants.js';
import { fuzzTokens, type TokenKind } from './fuzz-tokens.js';
import { ID_KINDS, type ValueContext } from './fuzz-values.js';
import { apiClient, startApi, token } from './harness.js';

const SEED = Number(process.env.BACKTRACK_TEST_FUZZ_SEED ?? 20_261_206);
/** When set, every request and its answer are written there as JSON lines, to dig into. */
const DUMP_FILE = process.env.BACKTRACK_TEST_FUZZ_DUMP;
const TENANT_A = 'fuzz-tenant-a';
const TENANT_B = 'fuzz-tenant-b';
const MIN_REQUESTS = 2000;
/** Requests in flight at once. */
const CONCURRENCY = 4;
/** An answer slower than this is a failure (status 0), not a hung test. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The document's operations and the routes it hides. */
function operationsToFuzz(documented: readonly Operation[]): Operation[] {
  const hidden = UNDOCUMENTED_ROUTES.map((route) => ({
    method: 'GET',
    route,
    parameters: [],
    body: undefined,
    bodyRequired: false,
    public: true,
  }));
  return [...documented, ...hidden];
}

/** Every request but the valid ones (sent first, to learn from): hostile values, bodies, tokens… */
function hostileCases(ops: readonly Operation[], cases: CaseBuilder): FuzzCase[] {
  const all: FuzzCase[] = [];
  for (const op of ops) {
    all.push(...cases.tokens(op), ...cases.queries(op));
    all.push(...cases.hostile(op), ...cases.crossTenant(op));
    if (op.method !== 'GET') all.push(...cases.bodies(op));
  }
  for (const route of new Set(ops.map((o) => o.route)))
    all.push(...cases.methods(ops.filter((o) => o.route === route)));
  return all;
}

/**
 * Sends the run in three steps: the valid requests, then (built on what the server
 * accepted) every other one, DELETEs last in both, so the resources they remove serve
 * the rest first.
 */
async function fuzz(
  url: string,
  ops: readonly Operation[],
  cases: CaseBuilder,
  tokens: Readonly<Record<TokenKind, string | undefined>>,
): Promise<Exchange[]> {
  const isDelete = (c: FuzzCase): boolean => c.method === 'DELETE';
  const valid = ops.flatMap((op) => cases.valid(op));
  const first = await run(
    url,
    valid.filter((c) => !isDelete(c)),
    tokens,
  );
  cases.learn(first.map(({ c, r }) => ({ c, status: r.status })));
  const rest = hostileCases(ops, cases);
  const second = await run(
    url,
    rest.filter((c) => !isDelete(c)),
    tokens,
  );
  const deletes = [...valid, ...rest].filter(isDelete);
  return [...first, ...second, ...(await run(url, deletes, tokens))];
}

/** Sends `cases` with `CONCURRENCY` in flight; answers in the cases' order. */
async function run(
  url: string,
  cases: readonly FuzzCase[],
  tokens: Readonly<Record<TokenKind, string | undefined>>,
): Promise<Exchange[]> {
  const out: Exchange[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < cases.length; i = next++) {
      const c = cases[i];
      if (c === undefined) return;
      out[i] = {
        c,
        r: await send(url, { ...c.request, token: tokens[c.token] }, REQUEST_TIMEOUT_MS),
      };
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

function markersOf(b: SeededTenant): Markers {
  const ofB = new Map<string, string>();
  for (const kind of ID_KINDS) for (const id of b.ids[kind]) ofB.set(id, `B's ${kind} id`);
  const { schedule, plan, drTest, label } = b.names;
  ofB.set(schedule, "B's schedule name").set(plan, "B's DR plan name");
  ofB.set(drTest, "B's DR test name").set(label, "B's backup label");
  return { tenantA: TENANT_A, tenantB: b.tenant, ofB };
}

/** Every property over every answer (see fuzz-checks.ts). */
async function violationsOf(
  exchanges: readonly Exchange[],
  markers: Markers,
  catalog: Queryable,
): Promise<Violation[]> {
  // A's audit trail names the B ids A tried in paths; they are A's own attempts.
  const pathIdsOfB = new Set(
    exchanges.flatMap((x) => x.c.request.segments).filter((s) => markers.ofB.has(s)),
  );
  return [
    ...exchanges.flatMap((x) => checkAnswer(x, markers, pathIdsOfB)),
    ...checkAudit(exchanges, await auditOutcomes(catalog, exchanges)),
  ];
}

/** Every request and its answer as JSON lines, to dig into. */
function dump(file: string, exchanges: readonly Exchange[]): void {
  const line = ({ c, r }: Exchange): string =>
    JSON.stringify({
      method: c.method,
      route: c.route,
      kind: c.kind,
      slot: c.slot,
      token: c.token,
      input: c.input,
      status: r.status,
      ms: Math.round(r.ms),
      answer: r.text.slice(0, 300),
    });
  writeFileSync(file, exchanges.map(line).join('\n'));
}

/** The run in numbers, then one line per distinct violation. */
function summary(
  ops: readonly Operation[],
  exchanges: readonly Exchange[],
  lines: readonly string[],
  ms: { readonly setup: number; readonly requests: number },
): string {
  const statuses: Record<string, number> = {};
  for (const { r } of exchanges) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const reached = new Set(
    exchanges.filter((x) => x.r.status < 300).map((x) => `${x.c.method} ${x.c.route}`),
  );
  const never = ops.map((o) => `${o.method} ${o.route}`).filter((o) => !reached.has(o));
  const passed = exchanges.filter((x) => x.r.status < 400).length;
  return [
    `fuzz: seed ${SEED} (BACKTRACK_TEST_FUZZ_SEED), ${exchanges.length} requests over ${ops.length} documented operations`,
    `fuzz: setup ${ms.setup} ms, requests ${ms.requests} ms, ${passed} answered below 400`,
    `fuzz: statuses ${JSON.stringify(statuses)}`,
    `fuzz: documented operations that never answered 2xx: ${never.join(', ') || 'none'}`,
    `fuzz: ${lines.length} distinct violations`,
    ...lines.map((l) => `  ${l}`),
    '',
  ].join('\n');
}

describe('control API: fuzzing from the OpenAPI document', () => {
  test(
    '2,000+ generated requests: no 5xx, no cross-tenant read, every mutation audited, every answer the envelope',
    { timeout: 240_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const started = Date.now();
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      const unlimited = Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((b) => [b, 1e6]));
      // No workers: queued jobs stay queued, so every resource below stays as created.
      const stack = await startApi(fixtures, { workers: 0, rateLimits: unlimited });
      const api = apiClient(stack.api.url);
      try {
        const { a, b } = await seedTenants(api, env, source, { a: TENANT_A, b: TENANT_B });
        const markers = markersOf(b);
        // The markers show where they should: B reads its own schedule.
        const own = await api.call('GET', `/v1/schedules/${b.ids.schedules[0] ?? ''}`, {
          token: await token('viewer', TENANT_B),
        });
        expect(own.text).toContain(b.names.schedule);
        const ops = operationsOf((await api.call('GET', '/docs/json')).body);
        const ctx: ValueContext = {
          tenant: TENANT_A,
          own: a.ids,
          otherTenant: TENANT_B,
          other: b.ids,
          tables: ['accounts', 'documents', 'notes', `${source.schema}.accounts`],
          nowMs: Date.now(),
        };
        const setup = Date.now() - started;

        const exchanges = await fuzz(
          stack.api.url,
          operationsToFuzz(ops),
          new CaseBuilder(ctx, SEED),
          await fuzzTokens(TENANT_A),
        );
        const requests = Date.now() - started - setup;
        const lines = reportLines(await violationsOf(exchanges, markers, catalog.pool));
        if (DUMP_FILE !== undefined) dump(DUMP_FILE, exchanges);
        process.stdout.write(summary(ops, exchanges, lines, { setup, requests }));

        expect(exchanges.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
        // Not a sweep of 400s: a fair share reaches the handlers.
        const passed = exchanges.filter((x) => x.r.status < 400).length;
        expect(passed / exchanges.length).toBeGreaterThan(0.1);
        expect(lines).toEqual([]);
      } finally {
        await stack.stop();
        await env.close();
      }
    },
  );
});
