/**
 * The ledger, table-driven: each case is a sequence of facts and the durable position and
 * idleness after each. Positions are bigints; 100 is where the session starts.
 */
import { describe, expect, it } from 'vitest';

import { type Lsn, lsnFromBigInt } from '../../shared/lsn.js';

import { DurabilityLedger } from './durability.js';

type Fact =
  | ['begin']
  | ['hand', number]
  | ['skip', number]
  | ['seal', number]
  | ['committed', number]
  | ['fail'];

interface Case {
  readonly name: string;
  readonly facts: readonly Fact[];
  /** After each fact: the durable position and whether the ledger is idle. */
  readonly after: readonly (readonly [number, boolean])[];
}

const cases: Case[] = [
  {
    name: 'a transaction is durable only once its batch committed',
    facts: [['begin'], ['hand', 200], ['seal', 200], ['committed', 200]],
    after: [
      [100, false],
      [100, false],
      [100, false],
      [200, true],
    ],
  },
  {
    name: 'batches commit in order; a later batch waits for the earlier one',
    facts: [
      ['hand', 200],
      ['seal', 200],
      ['hand', 300],
      ['seal', 300],
      ['committed', 200],
      ['committed', 300],
    ],
    after: [
      [100, false],
      [100, false],
      [100, false],
      [100, false],
      [200, false],
      [300, true],
    ],
  },
  {
    name: 'a failure is terminal: a commit that lands later makes nothing durable',
    facts: [['hand', 200], ['seal', 200], ['fail'], ['committed', 200]],
    after: [
      [100, false],
      [100, false],
      [100, false],
      [100, false],
    ],
  },
  {
    name: 'a failure after a commit keeps what was durable and is never idle again',
    facts: [['hand', 200], ['seal', 200], ['committed', 200], ['fail']],
    after: [
      [100, false],
      [100, false],
      [200, true],
      [200, false],
    ],
  },
  {
    name: 'a transaction received again and skipped changes nothing',
    facts: [['begin'], ['skip', 90], ['begin'], ['skip', 100]],
    after: [
      [100, false],
      [100, true],
      [100, false],
      [100, true],
    ],
  },
  {
    name: 'an open transaction keeps it from being idle',
    facts: [['hand', 200], ['seal', 200], ['begin'], ['committed', 200]],
    after: [
      [100, false],
      [100, false],
      [100, false],
      [200, false],
    ],
  },
];

function apply(ledger: DurabilityLedger, fact: Fact): void {
  const at = (n: number): Lsn => lsnFromBigInt(BigInt(n));
  switch (fact[0]) {
    case 'begin':
      return ledger.begin();
    case 'hand':
      return ledger.hand(at(fact[1]));
    case 'skip':
      return ledger.skip(at(fact[1]));
    case 'seal':
      return ledger.seal(at(fact[1]));
    case 'committed':
      ledger.committed(at(fact[1]));
      return;
    case 'fail':
      return ledger.fail(new Error('broker gone'));
  }
}

describe('DurabilityLedger', () => {
  it.each(cases)('$name', ({ facts, after }) => {
    const ledger = new DurabilityLedger(lsnFromBigInt(100n));
    const seen = facts.map((fact) => {
      apply(ledger, fact);
      return [Number(ledger.durable()), ledger.idle()] as const;
    });
    expect(seen).toEqual(after);
  });

  it.each<[string, readonly Fact[]]>([
    [
      'a transaction ending before the last one handed over',
      [
        ['hand', 200],
        ['hand', 150],
      ],
    ],
    [
      'a batch sealed past what was handed over',
      [
        ['hand', 200],
        ['seal', 300],
      ],
    ],
    [
      'a commit of a batch that is not the oldest awaiting',
      [
        ['hand', 200],
        ['seal', 200],
        ['hand', 300],
        ['seal', 300],
        ['committed', 300],
      ],
    ],
    ['a skip of a transaction past what is durable', [['begin'], ['skip', 150]]],
  ])('refuses %s', (_name, facts) => {
    const ledger = new DurabilityLedger(lsnFromBigInt(100n));
    expect(() => {
      for (const fact of facts) apply(ledger, fact);
    }).toThrow(/PROTOCOL_VIOLATION|arrived after|sealed after|oldest batch|already published/);
    expect(ledger.durable()).toBe(100n);
  });

  it('refuses every new fact after a failure', () => {
    const ledger = new DurabilityLedger(lsnFromBigInt(100n));
    ledger.fail(new Error('broker gone'));
    expect(() => ledger.begin()).toThrow('broker gone');
    expect(() => ledger.hand(lsnFromBigInt(200n))).toThrow('broker gone');
    expect(() => ledger.seal(lsnFromBigInt(200n))).toThrow('broker gone');
  });
});
