import { describe, expect, it } from 'vitest';

import { insertEvent } from '../../test/support/events.js';
import { partitionForKey } from '../kafka/partitioner.js';
import { lsnFromBigInt } from '../lsn.js';

import type { ChangeEvent } from './change-event.js';
import { checkpointRecord } from './checkpoint.js';
import { toTxlogRecord, TXLOG_HEADERS, TxlogRecords } from './topics.js';

function event(tenant: string, commitLsn = 100n): ChangeEvent {
  return insertEvent({
    tenant,
    commitLsn: lsnFromBigInt(commitLsn),
    eventLsn: lsnFromBigInt(commitLsn),
  });
}

describe('txlog records', () => {
  const tenants = ['acme', 'globex', 'tenant-42', '_global', '_all', 'café'];

  it('go to the partition of their tenant, as the snapshotter computes it', () => {
    const records = new TxlogRecords('p.txlog', 12);
    for (const tenant of tenants) {
      const record = records.record(event(tenant), Buffer.from('v'));
      expect(record.key).toBe(tenant);
      expect(record.partition).toBe(partitionForKey(tenant, 12));
      expect(toTxlogRecord('p.txlog', 12, event(tenant)).partition).toBe(
        partitionForKey(tenant, 12),
      );
    }
  });

  it('carry the txlog headers', () => {
    const record = new TxlogRecords('p.txlog', 3).record(
      event('acme', 0x1_0000_0010n),
      Buffer.from('v'),
    );
    expect(Object.keys(record.headers ?? {}).sort()).toEqual(Object.values(TXLOG_HEADERS).sort());
    expect(record.headers?.[TXLOG_HEADERS.commitLsn]?.toString()).toBe('1/10');
  });

  it('carry the table, operation and commit of their own event when consecutive ones differ', () => {
    const records = new TxlogRecords('p.txlog', 3);
    const sequence: [string, string, ChangeEvent['op'], bigint][] = [
      ['app', 't', 'insert', 100n],
      ['app', 't', 'insert', 100n],
      ['app', 'u', 'insert', 100n],
      ['app', 't', 'update', 100n],
      ['other', 't', 'update', 100n],
      ['app', 't', 'update', 200n],
      ['app', 'u', 'delete', 200n],
    ];
    const headers = sequence.map(([schema, table, op, lsn]) => {
      const h = records.record(
        { ...event('acme', lsn), schema, table, op },
        Buffer.from('v'),
      ).headers;
      return [h?.[TXLOG_HEADERS.table], h?.[TXLOG_HEADERS.op], h?.[TXLOG_HEADERS.commitLsn]].map(
        (b) => b?.toString(),
      );
    });
    expect(headers).toEqual(
      sequence.map(([schema, table, op, lsn]) => [
        `${schema}.${table}`,
        op,
        `0/${lsn.toString(16).toUpperCase()}`,
      ]),
    );
  });

  it('need a partition count', () => {
    expect(() => new TxlogRecords('p.txlog', 0)).toThrow(/at least one partition/);
  });
});

describe('checkpoint records', () => {
  it('go to partition 0 of the checkpoint topic', () => {
    const checkpoint = {
      slot: 's',
      commitEndLsn: lsnFromBigInt(2n),
      commitLsn: lsnFromBigInt(1n),
      xid: 1,
      commitTimeUs: 0n,
    };
    expect(checkpointRecord('p.checkpoints', checkpoint, new Date(0)).partition).toBe(0);
  });
});
