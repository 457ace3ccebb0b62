/**
 * The writer's ordering rules, with a producer whose every call the test settles by hand:
 * the slot advances only after a commit and in commit order; one chunk in flight; a batch
 * begins only after the previous one committed; failures surface; shutdown commits whole
 * transactions and aborts a cut-off one.
 */
import { describe, expect, it, vi } from 'vitest';

import { manualClock } from '../../shared/clock.js';
import type { ChangeEvent } from '../../shared/events/index.js';
import type {
  KafkaTransaction,
  OutgoingRecord,
  TransactionalProducer,
} from '../../shared/kafka/index.js';
import { silentLogger } from '../../shared/logging.js';
import { type Lsn, lsnFromBigInt } from '../../shared/lsn.js';
import { insertEvent } from '../../test/support/events.js';

import {
  CAPTURE_FAILPOINTS,
  type CaptureFailpoint,
  type CompletedTransaction,
  TxlogWriter,
} from './kafka-writer.js';
import { createCaptureMetrics } from './metrics.js';

interface Deferred {
  resolve(): void;
  reject(e: Error): void;
  promise: Promise<void>;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { resolve, reject, promise };
}

/** A producer whose sends and commits wait until the test settles them. */
class ScriptedProducer implements TransactionalProducer {
  readonly log: string[] = [];
  readonly sends: { records: readonly OutgoingRecord[]; done: Deferred }[] = [];
  readonly commits: Deferred[] = [];
  private open = 0;
  private count = 0;

  begin(): Promise<KafkaTransaction> {
    if (this.open > 0) throw new Error('a transaction is already open');
    this.open += 1;
    const id = ++this.count;
    this.log.push(`begin ${id}`);
    const send = (records: readonly OutgoingRecord[]): Promise<void> => {
      const done = deferred();
      this.sends.push({ records, done });
      this.log.push(`send ${id} ${records.length}`);
      return done.promise;
    };
    return Promise.resolve({
      send,
      // Settled by the test like a send: what matters here is the order of the steps.
      produce: send,
      commit: () => {
        const done = deferred();
        this.commits.push(done);
        this.log.push(`commit ${id}`);
        return done.promise.then(() => {
          this.open -= 1;
        });
      },
      abort: () => {
        this.open -= 1;
        this.log.push(`abort ${id}`);
        return Promise.resolve();
      },
    });
  }

  disconnect(): Promise<void> {
    return Promise.resolve();
  }
}

function event(commitLsn: bigint, sequence: number, text = 'x'): ChangeEvent {
  return insertEvent({
    after: [{ kind: 'text', text }],
    commitLsn: lsnFromBigInt(commitLsn),
    eventLsn: lsnFromBigInt(commitLsn),
    sequence,
  });
}

function done(end: bigint): CompletedTransaction {
  return {
    slot: 's',
    commitEndLsn: lsnFromBigInt(end),
    commitLsn: lsnFromBigInt(end - 8n),
    xid: 1,
    commitTimeUs: 0n,
    events: 1,
  };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function writer(
  options: {
    metrics?: ReturnType<typeof createCaptureMetrics>;
    chunkBytes?: number;
    maxBatchTransactions?: number;
    lingerMs?: number;
    failpoint?: (name: CaptureFailpoint) => void;
  } = {},
) {
  const producer = new ScriptedProducer();
  const durable: Lsn[] = [];
  const errors: unknown[] = [];
  const instance = new TxlogWriter({
    producer,
    txlogTopic: 'p.txlog',
    txlogPartitions: 3,
    checkpointTopic: 'p.checkpoints',
    slot: 's',
    lingerMs: options.lingerMs ?? 0,
    maxBatchTransactions: options.maxBatchTransactions ?? 100,
    chunkBytes: options.chunkBytes ?? 1 << 20,
    claims: undefined,
    clock: manualClock(0),
    metrics: options.metrics ?? createCaptureMetrics(),
    log: silentLogger(),
    start: done(50n),
    failpoint: options.failpoint,
    onDurable: (lsn) => durable.push(lsn),
    onError: (e) => errors.push(e),
  });
  return { producer, durable, errors, writer: instance };
}

describe('TxlogWriter', () => {
  it('reports a position durable only once Kafka committed, with the checkpoint last in the transaction', async () => {
    const { producer, durable, writer: w } = writer();
    await w.beginTransaction();
    await w.add(event(100n, 0));
    await w.add(event(100n, 1));
    await w.endTransaction(done(108n));
    await settle();
    // The events and, last, the checkpoint (a record of the checkpoint topic) go in together.
    expect(producer.sends[0]?.records.map((r) => r.topic)).toEqual([
      'p.txlog',
      'p.txlog',
      'p.checkpoints',
    ]);
    expect(durable).toEqual([]);
    producer.sends[0]?.done.resolve();
    await settle();
    expect(producer.log).toEqual(['begin 1', 'send 1 3', 'commit 1']);
    expect(durable).toEqual([]);
    expect(w.idle()).toBe(false);
    producer.commits[0]?.resolve();
    await settle();
    expect(durable).toEqual([108n]);
    expect(w.idle()).toBe(true);
  });

  it('hands one chunk over at a time: the next waits until the client holds the previous one', async () => {
    const { producer, writer: w } = writer({ chunkBytes: 1 });
    await w.beginTransaction();
    await w.add(event(100n, 0));
    const second = w.add(event(100n, 1));
    await settle();
    expect(producer.sends).toHaveLength(1);
    producer.sends[0]?.done.resolve();
    await second;
    expect(producer.sends).toHaveLength(2);
  });

  it('assembles the next batch while a commit is in flight, but begins its transaction only after', async () => {
    const { producer, durable, writer: w } = writer({ chunkBytes: 1 });
    await w.beginTransaction();
    await w.add(event(100n, 0));
    producer.sends[0]?.done.resolve();
    // The replication stream is not held for the commit: endTransaction returns at once.
    await w.endTransaction(done(108n));
    await settle();
    producer.sends[1]?.done.resolve();
    await settle();
    expect(producer.log.at(-1)).toBe('commit 1');

    await w.beginTransaction();
    const next = w.add(event(200n, 0));
    await settle();
    expect(producer.log.filter((l) => l.startsWith('begin'))).toEqual(['begin 1']);
    producer.commits[0]?.resolve();
    await next;
    expect(producer.log.filter((l) => l.startsWith('begin'))).toEqual(['begin 1', 'begin 2']);
    expect(durable).toEqual([108n]);
  });

  it('group-commits: while a commit is in flight the lingered batch fills, and commits when it lands', async () => {
    const { producer, durable, writer: w } = writer();
    const end = async (lsn: bigint): Promise<void> => {
      await w.beginTransaction();
      await w.add(event(lsn, 0));
      await w.endTransaction(done(lsn + 8n));
    };
    await end(100n);
    // lingerMs 0: each transaction has lingered long enough, but one commit is in flight.
    await end(200n);
    await end(300n);
    await settle();
    expect(producer.log.filter((l) => l.startsWith('begin'))).toEqual(['begin 1']);
    producer.sends[0]?.done.resolve();
    await settle();
    producer.commits[0]?.resolve();
    await settle();
    // The two transactions that arrived meanwhile go into one Kafka transaction, at once.
    expect(durable).toEqual([108n]);
    expect(producer.log.filter((l) => l.startsWith('begin'))).toEqual(['begin 1', 'begin 2']);
    expect(producer.sends[1]?.records.map((r) => r.topic)).toEqual([
      'p.txlog',
      'p.txlog',
      'p.checkpoints',
    ]);
    producer.sends[1]?.done.resolve();
    await settle();
    producer.commits[1]?.resolve();
    await settle();
    expect(durable).toEqual([108n, 308n]);
    expect(w.idle()).toBe(true);
  });

  it('lets at most two closed batches wait for Kafka before it holds the stream', async () => {
    // One Postgres transaction per batch: each one closes its batch whatever is in flight.
    const { producer, writer: w } = writer({ maxBatchTransactions: 1 });
    const end = async (lsn: bigint): Promise<void> => {
      await w.beginTransaction();
      await w.add(event(lsn, 0));
      await w.endTransaction(done(lsn + 8n));
    };
    await end(100n);
    await end(200n);
    // A third closed batch waits for the first commit before it returns.
    let third = false;
    const ending = end(300n).then(() => {
      third = true;
    });
    await settle();
    expect(third).toBe(false);
    producer.sends[0]?.done.resolve();
    await settle();
    producer.commits[0]?.resolve();
    await ending;
    expect(third).toBe(true);
  });

  it('surfaces a failed send at the next operation and through onError, and advances nothing', async () => {
    const { producer, durable, errors, writer: w } = writer({ chunkBytes: 1 });
    await w.beginTransaction();
    await w.add(event(100n, 0));
    producer.sends[0]?.done.reject(new Error('broker gone'));
    await settle();
    expect(errors).toHaveLength(1);
    await expect(w.add(event(100n, 1))).rejects.toThrow('broker gone');
    await expect(w.endTransaction(done(108n))).rejects.toThrow('broker gone');
    expect(durable).toEqual([]);
  });

  it('is never idle after a failed commit: the lost batch must not let the slot advance', async () => {
    const { producer, durable, errors, writer: w } = writer();
    await w.beginTransaction();
    await w.add(event(100n, 0));
    await w.endTransaction(done(108n));
    await settle();
    producer.sends[0]?.done.resolve();
    await settle();
    expect(w.idle()).toBe(false);
    producer.commits[0]?.reject(new Error('broker gone'));
    await settle();
    await settle();
    expect(errors).toHaveLength(1);
    expect(durable).toEqual([]);
    expect(w.idle()).toBe(false);
  });

  it('commits when the batch holds the most transactions it may', async () => {
    const { producer, writer: w } = writer({ maxBatchTransactions: 2, lingerMs: 60_000 });
    for (const [lsn, end] of [
      [100n, 108n],
      [200n, 208n],
    ] as const) {
      await w.beginTransaction();
      await w.add(event(lsn, 0));
      const ending = w.endTransaction(done(end));
      await settle();
      for (const send of producer.sends) send.done.resolve();
      await settle();
      for (const send of producer.sends) send.done.resolve();
      await ending;
    }
    expect(producer.log.filter((l) => l.startsWith('commit'))).toEqual(['commit 1']);
  });

  it('counts the transactions with changes, not those with none (a probe message alone)', async () => {
    const metrics = createCaptureMetrics();
    const { producer, writer: w, durable } = writer({ metrics, lingerMs: 0 });
    const settleAll = async (): Promise<void> => {
      // Each round lets the writer take its next step; every send and commit then lands.
      for (let round = 0; round < 10; round++) {
        await settle();
        for (const send of producer.sends) send.done.resolve();
        for (const commit of producer.commits) commit.resolve();
      }
    };
    await w.beginTransaction();
    await w.add(event(100n, 0));
    const first = w.endTransaction(done(108n));
    await settleAll();
    await first;
    await w.beginTransaction();
    const second = w.endTransaction({ ...done(208n), events: 0 });
    await settleAll();
    await second;
    await settleAll();
    expect(durable.at(-1)).toBe(lsnFromBigInt(208n));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^backtrack_capture_transactions_total 1$/m);
  });

  it('on close commits whole transactions but aborts one cut off midway', async () => {
    const whole = writer({ lingerMs: 60_000 });
    await whole.writer.beginTransaction();
    await whole.writer.add(event(100n, 0));
    await whole.writer.endTransaction(done(108n));
    const closing = whole.writer.close();
    for (let i = 0; i < 3; i++) {
      await settle();
      for (const send of whole.producer.sends) send.done.resolve();
      for (const commit of whole.producer.commits) commit.resolve();
    }
    await closing;
    expect(whole.producer.log).toContain('commit 1');
    expect(whole.durable).toEqual([108n]);

    const cut = writer({ chunkBytes: 1 });
    await cut.writer.beginTransaction();
    await cut.writer.add(event(100n, 0));
    cut.producer.sends[0]?.done.resolve();
    await cut.writer.close();
    expect(cut.producer.log).toEqual(['begin 1', 'send 1 1', 'abort 1']);
    expect(cut.durable).toEqual([]);
  });

  it('makes a transaction without captured changes durable through its checkpoint alone', async () => {
    const { producer, durable, writer: w } = writer();
    await w.beginTransaction();
    await w.endTransaction(done(108n));
    await settle();
    producer.sends[0]?.done.resolve();
    await settle();
    expect(producer.log).toEqual(['begin 1', 'send 1 1', 'commit 1']);
    expect(producer.sends[0]?.records.map((r) => r.topic)).toEqual(['p.checkpoints']);
    expect(durable).toEqual([]);
    producer.commits[0]?.resolve();
    await settle();
    expect(durable).toEqual([108n]);
    expect(w.idle()).toBe(true);
  });

  it('is not idle while the linger timer commits a batch, until Kafka committed it', async () => {
    const { producer, durable, writer: w } = writer({ lingerMs: 5 });
    await w.beginTransaction();
    await w.add(event(100n, 0));
    await w.endTransaction(done(108n));
    // Nothing was sent yet: the batch waits for the timer. It is handed over, so not idle.
    expect(producer.log).toEqual([]);
    expect(w.idle()).toBe(false);
    await vi.waitFor(() => expect(producer.sends).toHaveLength(1));
    expect(w.idle()).toBe(false);
    producer.sends[0]?.done.resolve();
    await vi.waitFor(() => expect(producer.commits).toHaveLength(1));
    expect(w.idle()).toBe(false);
    expect(w.durable()).toBe(50n);
    producer.commits[0]?.resolve();
    await vi.waitFor(() => expect(durable).toEqual([108n]));
    expect(w.idle()).toBe(true);
  });

  it('is not idle while close() commits the last batch', async () => {
    const { producer, durable, writer: w } = writer({ lingerMs: 60_000 });
    await w.beginTransaction();
    await w.add(event(100n, 0));
    await w.endTransaction(done(108n));
    const closing = w.close();
    const states: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      await settle();
      states.push(w.idle());
      for (const send of producer.sends) send.done.resolve();
    }
    states.push(w.idle());
    producer.commits[0]?.resolve();
    await closing;
    expect(states).toEqual([false, false, false, false]);
    expect(durable).toEqual([108n]);
    expect(w.idle()).toBe(true);
  });

  it('makes nothing durable after a failed commit, not even a later batch without changes', async () => {
    const { producer, durable, errors, writer: w } = writer();
    await w.beginTransaction();
    await w.add(event(100n, 0));
    await w.endTransaction(done(108n));
    await settle();
    producer.sends[0]?.done.resolve();
    await settle();
    // A transaction without captured changes follows while the first commit is in flight.
    await w.beginTransaction();
    await w.endTransaction(done(208n));
    await settle();
    producer.commits[0]?.reject(new Error('broker gone'));
    await settle();
    await settle();
    expect(errors).toHaveLength(1);
    // The second batch never began a Kafka transaction, and nothing became durable.
    expect(producer.log.filter((l) => l.startsWith('begin'))).toEqual(['begin 1']);
    expect(durable).toEqual([]);
    expect(w.durable()).toBe(50n);
    expect(w.idle()).toBe(false);
    // Nor does anything the session might still receive.
    await expect(w.checkpointIdle(lsnFromBigInt(900n))).rejects.toThrow('broker gone');
    expect(durable).toEqual([]);
  });

  it('checkpoints idle WAL in a transaction of its own before the slot may follow', async () => {
    const { producer, durable, writer: w } = writer();
    await w.checkpointIdle(lsnFromBigInt(500n));
    await settle();
    expect(w.idle()).toBe(false);
    producer.sends[0]?.done.resolve();
    await settle();
    expect(producer.log).toEqual(['begin 1', 'send 1 1', 'commit 1']);
    const record = producer.sends[0]?.records[0];
    expect(record?.topic).toBe('p.checkpoints');
    expect(JSON.parse(record?.value?.toString() ?? '{}')).toMatchObject({
      commitEndLsn: '0/1F4',
      // The last real transaction's fields stay: the idle step says nothing of commit times.
      commitLsn: '0/2A',
    });
    expect(durable).toEqual([]);
    producer.commits[0]?.resolve();
    await settle();
    expect(durable).toEqual([500n]);
    expect(w.idle()).toBe(true);
    // At or below what was handed over, or while a transaction is open: nothing to do.
    await w.checkpointIdle(lsnFromBigInt(400n));
    await w.beginTransaction();
    await w.checkpointIdle(lsnFromBigInt(600n));
    expect(producer.log).toHaveLength(3);
  });

  it('passes its failpoints in the order of the commit path', async () => {
    const reached: string[] = [];
    const { producer, writer: w } = writer({
      chunkBytes: 1,
      failpoint: (name) => void reached.push(name),
    });
    const acknowledge = async () => {
      for (let i = 0; i < 5; i++) {
        await settle();
        for (const send of producer.sends) send.done.resolve();
        for (const commit of producer.commits) commit.resolve();
      }
    };
    await w.beginTransaction();
    const adding = w.add(event(100n, 0)).then(() => w.add(event(100n, 1)));
    await acknowledge();
    await adding;
    const ending = w.endTransaction(done(108n));
    await acknowledge();
    await ending;
    await acknowledge();
    expect(reached).toEqual([
      CAPTURE_FAILPOINTS.beforeFirstSend,
      CAPTURE_FAILPOINTS.midChunk,
      CAPTURE_FAILPOINTS.beforeCheckpoint,
      CAPTURE_FAILPOINTS.beforeCommit,
      CAPTURE_FAILPOINTS.afterCommit,
    ]);
  });
});
