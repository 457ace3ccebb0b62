/**
 * The fuzz test's requests, generated from the OpenAPI document with fast-check from one
 * seed. For every operation: requests valid by its schemas (with every token kind); for
 * every parameter (path, query and body, nested ones too) one request per kind of hostile
 * value with the rest valid; another tenant's ids in every id slot and as `tenant`;
 * hostile bodies (not JSON, not an object, unknown and prototype keys, deep, not UTF-8,
 * other media types, over the body limit); malformed queries; and the methods the document
 * does not list. `fc.sample` draws each group from a seed derived from the run's seed and
 * the group's name, so a group's requests do not change when another group changes.
 */
import fc from 'fast-check';

import type { Operation } from './fuzz-document.js';
import {
  caseOf,
  type FuzzCase,
  type Meta,
  type Parts,
  valueAt,
  withoutTenant,
  withValue,
} from './fuzz-parts.js';
import { hostileBodies, RAW_QUERIES } from './fuzz-raw-inputs.js';
import { type TokenKind, TOKEN_KINDS, VALID_TOKENS } from './fuzz-tokens.js';
import {
  bodySlots,
  type Hostile,
  hostileOf,
  ID_KINDS,
  idKindOf,
  type Slot,
  slotName,
  validOf,
  type ValueContext,
} from './fuzz-values.js';

/** Routes the document hides (hide: true) but the server answers, without parameters. */
export const UNDOCUMENTED_ROUTES = ['/metrics', '/docs', '/docs/json'] as const;

const VALID_PER_OPERATION = 20;
const EXTRA_HOSTILE_PER_SLOT = 1;

/** Valid tokens, weighted to the roles that pass most routes. */
const validToken = fc.constantFrom<TokenKind>(
  'admin',
  'admin',
  'admin',
  'operator',
  'operator',
  'viewer',
  'platform-admin',
  'platform-admin',
);

/**
 * Roles that pass every route's access rule, so a hostile value meets the validation and
 * the handler instead of a 403.
 */
const strongToken = fc.constantFrom<TokenKind>('admin', 'admin', 'admin', 'platform-admin');

/** Tenant A's own roles (never a platform-admin, who may legitimately act for B). */
const tenantToken = fc.constantFrom<TokenKind>('admin', 'operator', 'viewer');

/** Derives a group's seed from the run's seed and the group's name (FNV-1a). */
function seedOf(seed: number, group: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < group.length; i++) h = Math.imul(h ^ group.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Builds the run's requests. */
export class CaseBuilder {
  private readonly labels: [string, string][];
  /** Bases learned from the valid requests' answers, by `METHOD route`. */
  private readonly learned = new Map<string, Parts[]>();

  constructor(
    private readonly ctx: ValueContext,
    private readonly seed: number,
  ) {
    this.labels = [[ctx.otherTenant, '<B tenant>']];
    for (const kind of ID_KINDS) {
      for (const id of ctx.own[kind]) this.labels.push([id, `<A ${kind}>`]);
      for (const id of ctx.other[kind]) this.labels.push([id, `<B ${kind}>`]);
    }
  }

  private draw<T>(arb: fc.Arbitrary<T>, group: string, runs: number): T[] {
    return fc.sample(arb, { seed: seedOf(this.seed, group), numRuns: runs });
  }

  private one<T>(arb: fc.Arbitrary<T>, group: string): T {
    const [value] = this.draw(arb, group, 1);
    if (value === undefined) throw new Error(`fc.sample gave nothing for ${group}`);
    return value;
  }

  /**
   * Learns from the answers to the valid requests: the values an operation's handler
   * accepted (below 400), else those that passed validation (404, 409, 422), become the
   * bases hostile requests change one parameter of. The document cannot state rules across
   * fields (exactly one of targetTimestamp and backupId, RTO ≥ RPO); the server's answers
   * can, so a hostile value reaches the handler instead of a 400 about another field.
   */
  learn(answers: readonly { readonly c: FuzzCase; readonly status: number }[]): void {
    const accepted = new Map<string, Parts[]>();
    const validated = new Map<string, Parts[]>();
    for (const { c, status } of answers) {
      if (c.kind !== 'valid') continue;
      const key = `${c.method} ${c.route}`;
      const into =
        status < 400 ? accepted : [404, 409, 422].includes(status) ? validated : undefined;
      into?.set(key, [...(into.get(key) ?? []), c.parts]);
    }
    for (const [key, parts] of validated) if (!accepted.has(key)) accepted.set(key, parts);
    for (const [key, parts] of accepted) this.learned.set(key, parts);
  }

  /**
   * The values a request starts from: `learned` ones (else fresh valid ones), or `fresh`
   * ones, or `either` (a learned body may hold a name its request already took, as in a
   * second POST /v1/schedules).
   */
  private baseParts(op: Operation, from: 'learned' | 'fresh' | 'either'): fc.Arbitrary<Parts> {
    const learned =
      op.method === 'DELETE' ? [] : (this.learned.get(`${op.method} ${op.route}`) ?? []);
    if (from === 'fresh' || learned.length === 0) return this.validParts(op);
    const known = fc.constantFrom(...learned);
    return from === 'learned' ? known : fc.oneof(known, this.validParts(op));
  }

  /** Whether requests of `op` have learned bases. */
  private hasLearned(op: Operation): boolean {
    return (
      op.method !== 'DELETE' && (this.learned.get(`${op.method} ${op.route}`) ?? []).length > 0
    );
  }

  private validParts(op: Operation): fc.Arbitrary<Parts> {
    const path: Record<string, fc.Arbitrary<unknown>> = {};
    const query: Record<string, fc.Arbitrary<unknown>> = {};
    const required: string[] = [];
    for (const p of op.parameters) {
      const slot: Slot = { in: p.in, keys: [p.name], schema: p.schema, route: op.route };
      (p.in === 'path' ? path : query)[p.name] = validOf(p.schema, slot, this.ctx);
      if (p.in === 'query' && p.required) required.push(p.name);
    }
    const body =
      op.body === undefined
        ? fc.constant(undefined)
        : validOf(op.body, { in: 'body', keys: [], schema: op.body, route: op.route }, this.ctx);
    return fc.record({
      path: fc.record(path),
      query: fc.record(query, { requiredKeys: required }),
      body,
    });
  }

  private build(op: Operation, parts: Parts, token: TokenKind, meta: Meta): FuzzCase {
    return caseOf(op, parts, token, meta, this.ctx, this.labels);
  }

  /** Requests valid by the operation's schemas, with valid tokens. */
  valid(op: Operation): FuzzCase[] {
    const key = `${op.method} ${op.route}`;
    return this.draw(
      fc.tuple(this.validParts(op), validToken),
      `${key}|valid`,
      VALID_PER_OPERATION,
    ).map(([parts, token]) => this.build(op, parts, token, { kind: 'valid', slot: '-' }));
  }

  /** Valid requests with each invalid token. */
  tokens(op: Operation): FuzzCase[] {
    const key = `${op.method} ${op.route}`;
    const valid = new Set<TokenKind>(VALID_TOKENS);
    return TOKEN_KINDS.filter((t) => !valid.has(t)).map((token) =>
      this.build(
        op,
        withoutTenant(this.one(this.baseParts(op, 'learned'), `${key}|token|${token}`)),
        token,
        {
          kind: `token: ${token}`,
          slot: 'token',
        },
      ),
    );
  }

  /** Every parameter slot of an operation. */
  slots(op: Operation): Slot[] {
    const params: Slot[] = op.parameters.map((p) => ({
      in: p.in,
      keys: [p.name],
      schema: p.schema,
      route: op.route,
    }));
    return [...params, ...(op.body === undefined ? [] : bodySlots(op.body, op.route))];
  }

  /**
   * For every parameter: per kind of hostile value (and a few more), one request on a
   * learned base and one on a fresh valid one, the other parameters as they were.
   */
  hostile(op: Operation): FuzzCase[] {
    const out: FuzzCase[] = [];
    const bases = this.hasLearned(op) ? (['learned', 'fresh'] as const) : (['fresh'] as const);
    for (const slot of this.slots(op)) {
      const group = `${op.method} ${op.route}|${slotName(slot)}`;
      const kinds = [...new Set(hostileOf(slot, undefined, this.ctx).map((h) => h.kind))];
      const picks: string[] = [...kinds, ...Array<string>(EXTRA_HOSTILE_PER_SLOT).fill('*')];
      for (const [i, kind] of picks.entries())
        for (const from of bases) {
          const [parts, token] = this.one(
            fc.tuple(this.baseParts(op, from), strongToken),
            `${group}|${i}|${from}`,
          );
          const choices = hostileOf(slot, valueAt(parts, slot), this.ctx).filter(
            (h) => kind === '*' || h.kind === kind,
          );
          if (choices.length === 0) continue;
          const hostile: Hostile = this.one(fc.constantFrom(...choices), `${group}|${i}|${from}`);
          out.push(
            this.build(op, withValue(parts, slot, hostile.value), token, {
              kind: hostile.kind,
              slot: slotName(slot),
            }),
          );
        }
    }
    return out;
  }

  /** Tenant A's tokens at every one of B's ids, in the path and in body id fields, and ?tenant=B. */
  crossTenant(op: Operation): FuzzCase[] {
    const out: FuzzCase[] = [];
    const group = `${op.method} ${op.route}|cross`;
    const allOther = [...new Set(ID_KINDS.flatMap((k) => this.ctx.other[k]))];
    const kind = "other tenant's id";
    // Reads with every role of A; writes with the admin, whom no access rule stops first.
    const role = op.method === 'GET' ? tenantToken : fc.constant<TokenKind>('admin');
    const base = (i: number): [Parts, TokenKind] =>
      this.one(fc.tuple(this.baseParts(op, 'either'), role), `${group}|${i}`);
    let i = 0;
    for (const slot of this.slots(op)) {
      if (slot.in === 'path') {
        for (const id of allOther) {
          const [parts, token] = base(i++);
          out.push(
            this.build(op, withValue(parts, slot, id), token, { kind, slot: slotName(slot) }),
          );
        }
      } else if (slot.in === 'body' && slot.schema.format === 'uuid') {
        const wanted = idKindOf(slot);
        const ids = wanted === undefined ? allOther : this.ctx.other[wanted];
        // Three bases each: the document cannot say which combinations pass (exactly one of
        // targetTimestamp and backupId, for instance), so some of them reach the handler.
        for (const id of ids)
          for (let n = 0; n < 3; n++) {
            const [parts, token] = base(i++);
            out.push(
              this.build(op, withValue(parts, slot, id), token, { kind, slot: slotName(slot) }),
            );
          }
      } else if (slot.in === 'query' && slot.keys[0] === 'tenant') {
        const [parts, token] = base(i++);
        out.push(
          this.build(op, withValue(parts, slot, this.ctx.otherTenant), token, {
            kind,
            slot: slotName(slot),
          }),
        );
      }
    }
    return out;
  }

  /** Hostile bodies for an operation with one; unexpected ones for a DELETE. */
  bodies(op: Operation): FuzzCase[] {
    const group = `${op.method} ${op.route}|body`;
    const parts = this.one(this.baseParts(op, 'learned'), `${group}|base`);
    const cases = hostileBodies(op.body, parts.body, this.ctx);
    return cases.map((c, i) => {
      const token = c.anyToken ? this.one(validToken, `${group}|${i}`) : 'admin';
      return this.build(op, parts, token, {
        kind: `body: ${c.kind}`,
        slot: 'body',
        raw: c.raw,
        expect: c.expect,
      });
    });
  }

  /** Malformed and unexpected queries. */
  queries(op: Operation): FuzzCase[] {
    const group = `${op.method} ${op.route}|query`;
    const [parts, token] = this.one(
      fc.tuple(this.baseParts(op, 'learned'), strongToken),
      `${group}|base`,
    );
    const raws = this.one(
      fc.shuffledSubarray([...RAW_QUERIES], { minLength: 4, maxLength: 4 }),
      `${group}|raw`,
    );
    return [
      this.build(op, { ...parts, query: { ...parts.query, zzUnknown: '1' } }, token, {
        kind: 'query: unknown key',
        slot: 'query',
      }),
      ...raws.map((rawQuery) =>
        this.build(op, parts, token, { kind: 'query: malformed', slot: 'query', rawQuery }),
      ),
    ];
  }

  /** The methods the document does not list for a route (`documented`: its operations). */
  methods(documented: readonly Operation[]): FuzzCase[] {
    const [template] = documented;
    if (template === undefined) return [];
    const known = new Set(documented.map((o) => o.method));
    const parts = this.one(this.validParts(template), `${template.route}|methods`);
    return ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
      .filter((m) => !known.has(m))
      .map((method) =>
        this.build(
          { ...template, method },
          { ...parts, body: method === 'GET' ? undefined : {} },
          'admin',
          {
            kind: 'undocumented method',
            slot: 'method',
          },
        ),
      );
  }
}
