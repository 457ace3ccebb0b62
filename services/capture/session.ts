/**
 * One capture session, from start to failure or stop:
 *   1. check the slot and the publication (before the producer: a second capture of a busy
 *      slot must not fence the producer of the one that holds it);
 *   2. fence the transactional producer (a crashed predecessor's open transaction aborts),
 *      while the topics are made ready;
 *   3. read the checkpoint from Kafka: the source of truth of what Kafka holds. The slot is
 *      never confirmed past it, so a slot found ahead of it means WAL that Postgres will not
 *      send again never reached Kafka: that gap is recorded (restore-points and health show
 *      it) and said loudly, never papered over;
 *   4. stream from max(checkpoint, slot position), skipping transactions Kafka already has;
 *   5. turn each transaction into events in Kafka transactions (kafka-writer.ts) and confirm
 *      the slot only once Kafka committed them; idle WAL is checkpointed before it is confirmed.
 * Any failure ends the session; capture.ts starts a new one from the checkpoint.
 */
import type { ClaimCheckSink } from '../../shared/archive/claim-check.js';
import type { Clock } from '../../shared/clock.js';
import { BacktrackError } from '../../shared/errors.js';
import {
  alreadyPublished,
  type Checkpoint,
  readCheckpoint,
} from '../../shared/events/checkpoint.js';
import { topicPartitionCount } from '../../shared/events/topics.js';
import type { KafkaPort } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import { formatLsn, type Lsn, LSN_ZERO, maxLsn } from '../../shared/lsn.js';
import {
  openReplicationStream,
  type PgoutputMessage,
  type Queryable,
  type ReplicationStream,
} from '../../shared/pg/index.js';
import { isDdlHistoryEvent } from '../../shared/source/ddl-history.js';

import { type CaptureFailpoint, TxlogWriter } from './kafka-writer.js';
import type { CaptureMetrics } from './metrics.js';
import { RelationCache, type RelationLookup } from './relation-cache.js';
import { explainSourceError, inspectSlot, requirePublication } from './source.js';
import {
  rowChangeEvents,
  ddlHistoryEvents,
  schemaEvent,
  truncateEvents,
  type TransactionContext,
} from './to-change-events.js';

/** Prefix of logical decoding messages by which Backtrack tags its own transactions. */
export const BACKTRACK_MESSAGE_PREFIX = 'backtrack';

/** What a session needs. */
export interface SessionDeps {
  readonly sourceUrl: string;
  readonly slot: string;
  readonly publication: string;
  readonly tenantColumn: string;
  readonly txlogTopic: string;
  readonly checkpointTopic: string;
  readonly lingerMs: number;
  readonly maxBatchTransactions: number;
  readonly chunkBytes: number;
  readonly statusIntervalMs?: number;
  /** Least time between two checkpoints of idle WAL (ms). */
  readonly idleCheckpointMs: number;
  readonly kafka: KafkaPort;
  /**
   * Settles when the topics exist (the first session creates them while it checks the
   * source); awaited before anything touches them.
   */
  readonly topicsReady?: Promise<void>;
  /** A connection to the source for catalog look-ups (not the replication connection). */
  readonly source: Queryable;
  readonly lookup: RelationLookup;
  /** Where claim checks of oversized rows go, and the key that encrypts them. */
  readonly claims: ClaimCheckSink | undefined;
  readonly clock: Clock;
  readonly metrics: CaptureMetrics;
  readonly log: Logger;
  /** Records WAL lost before it reached Kafka; the session starts only once it is recorded. */
  recordGap(gap: CaptureGap): Promise<void>;
  /** Testing only: called at each point of the writer's commit path. */
  readonly failpoint?: (name: CaptureFailpoint) => void | Promise<void>;
}

/**
 * WAL that Postgres will not send again and Kafka never got: the slot was confirmed past
 * the checkpoint (by another tool, an operator, or a defect).
 */
export interface CaptureGap {
  readonly slot: string;
  /** The checkpoint's end: everything up to here is in Kafka. */
  readonly fromLsn: Lsn;
  /** The slot's confirmed position: streaming resumes here. */
  readonly toLsn: Lsn;
  /** Commit time (µs) of the last transaction in Kafka before the gap. */
  readonly afterCommitTimeUs: bigint;
  readonly detectedAt: Date;
}

/** A running session. */
export interface Session {
  /** Settles when the session ends: resolves after stop(), rejects on failure. */
  readonly done: Promise<void>;
  /** The position the slot may advance to (last durable commit end, or idle WAL end). */
  durable(): Lsn;
  /** Commit time (µs) of the oldest received transaction not yet durable, if any. */
  oldestPendingCommitUs(): bigint | undefined;
  /** Ends the session cleanly: whole transactions commit, a cut-off one aborts. */
  stop(): Promise<void>;
}

interface OpenTransaction extends TransactionContext {
  readonly skip: boolean;
  sequence: number;
  events: number;
  origin: string | null;
}

/** Starts a session; resolves once the server streams. */
export async function startSession(deps: SessionDeps): Promise<Session> {
  const { log, metrics } = deps;
  // How long each start-up step took (ms), logged at debug level once the server streams.
  const steps: Record<string, number> = {};
  let stepStarted = deps.clock.nowMs();
  const step = (name: string): void => {
    const now = deps.clock.nowMs();
    steps[name] = now - stepStarted;
    stepStarted = now;
  };
  const [slot] = await Promise.all([
    inspectSlot(deps.source, deps.slot),
    requirePublication(deps.source, deps.publication),
  ]).catch((e: unknown) => {
    throw explainSourceError(e, deps.sourceUrl);
  });
  step('source');
  // The producer fences while the topics are made ready (it touches no topic).
  const fencing = deps.kafka.transactionalProducer({
    transactionalId: `backtrack-capture-${deps.slot}`,
    // A large Postgres transaction keeps its Kafka transaction open while it streams in.
    transactionTimeoutMs: 900_000,
  });
  // Awaited below; a failure meanwhile must not count as an unhandled rejection.
  fencing.catch(() => undefined);
  try {
    await deps.topicsReady;
  } catch (e) {
    await fencing.then((p) => p.disconnect()).catch(() => undefined);
    throw e;
  }
  step('topics');
  // The topic's own count, not the configured one: the archive and the snapshotter read it
  // too. Read while the producer fences (it touches no transaction).
  const partitionCount = topicPartitionCount(deps.kafka, deps.txlogTopic);
  partitionCount.catch(() => undefined);
  const producer = await fencing;
  step('producer');
  let stream: ReplicationStream | undefined;
  let writer: TxlogWriter | undefined;
  try {
    const checkpoint = await readCheckpoint(deps.kafka, deps.checkpointTopic, deps.slot);
    step('checkpoint');
    const txlogPartitions = await partitionCount;
    step('partitions');
    const startLsn = maxLsn(
      checkpoint?.commitEndLsn ?? slot.confirmedFlushLsn,
      slot.confirmedFlushLsn,
    );
    if (checkpoint && slot.confirmedFlushLsn > checkpoint.commitEndLsn) {
      const gap: CaptureGap = {
        slot: deps.slot,
        fromLsn: checkpoint.commitEndLsn,
        toLsn: slot.confirmedFlushLsn,
        afterCommitTimeUs: checkpoint.commitTimeUs,
        detectedAt: deps.clock.now(),
      };
      log.error(
        { checkpoint: formatLsn(gap.fromLsn), slotConfirmed: formatLsn(gap.toLsn) },
        'the slot is ahead of the capture checkpoint: the WAL between them never reached Kafka and cannot be read again; recording the gap (restores across it are refused) and resuming at the slot',
      );
      // Recorded before anything else: the checkpoint written below moves past the gap.
      await deps.recordGap(gap);
      metrics.gaps.inc();
    }
    log.info(
      {
        checkpoint: checkpoint ? formatLsn(checkpoint.commitEndLsn) : null,
        slotConfirmed: formatLsn(slot.confirmedFlushLsn),
        start: formatLsn(startLsn),
      },
      'capture session starting',
    );

    let pendingCommits: { endLsn: Lsn; commitTimeUs: bigint }[] = [];
    let stopping = false;
    let failSession: ((e: unknown) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      failSession = reject;
    });
    failed.catch(() => undefined);

    const activeWriter = new TxlogWriter({
      producer,
      txlogTopic: deps.txlogTopic,
      txlogPartitions,
      checkpointTopic: deps.checkpointTopic,
      slot: deps.slot,
      lingerMs: deps.lingerMs,
      maxBatchTransactions: deps.maxBatchTransactions,
      chunkBytes: deps.chunkBytes,
      claims: deps.claims,
      clock: deps.clock,
      metrics,
      log,
      // Without a checkpoint (the first session of a slot) the writer starts below the slot
      // and checkpoints the slot's position before anything else (below).
      start: checkpoint ?? {
        slot: deps.slot,
        commitEndLsn: LSN_ZERO,
        commitLsn: LSN_ZERO,
        xid: 0,
        commitTimeUs: 0n,
      },
      failpoint: deps.failpoint,
      onDurable: (lsn) => {
        // Reached only after Kafka committed everything up to `lsn` (see TxlogWriter).
        pendingCommits = pendingCommits.filter((p) => p.endLsn > lsn);
        stream?.confirm(lsn);
      },
      onError: (e) => failSession?.(e),
    });
    writer = activeWriter;
    // The checkpoint moves up to where streaming starts (the slot's position on a first
    // session, or past a recorded gap), so the checkpoint never lags the slot.
    await activeWriter.checkpointIdle(startLsn);
    step('firstCheckpoint');
    let lastIdleCheckpointMs = deps.clock.nowMs();

    const handler = new TransactionHandler(deps, checkpoint, activeWriter, () => stopping);
    handler.onCommitReceived = (endLsn, commitTimeUs) =>
      pendingCommits.push({ endLsn, commitTimeUs });

    stream = await openReplicationStream(
      {
        url: deps.sourceUrl,
        slot: deps.slot,
        publication: deps.publication,
        startLsn,
        messages: true,
        statusIntervalMs: deps.statusIntervalMs,
        applicationName: `backtrack-capture-${deps.slot}`,
        log,
      },
      {
        onMessage: ({ message, walStart }) => handler.handle(message, walStart),
        onKeepalive: ({ walEnd, drained }) => {
          // Idle: every received change is handled and everything handed over is committed
          // in Kafka, so WAL up to the server's position holds nothing more to capture. It
          // is checkpointed in Kafka first; the slot follows once that commit lands.
          const nowMs = deps.clock.nowMs();
          if (
            drained &&
            !handler.insideTransaction() &&
            activeWriter.idle() &&
            walEnd > activeWriter.durable() &&
            nowMs - lastIdleCheckpointMs >= deps.idleCheckpointMs
          ) {
            lastIdleCheckpointMs = nowMs;
            activeWriter.checkpointIdle(walEnd).catch((e: unknown) => failSession?.(e));
          }
        },
      },
    ).catch((e: unknown) => {
      throw explainSourceError(e, deps.sourceUrl);
    });
    const running = stream;
    step('replication');
    log.debug({ steps }, 'capture session start-up steps (ms)');

    const done = Promise.race([running.done, failed]).then(
      () => undefined,
      async (e: unknown) => {
        await activeWriter.abandon();
        await running.stop().catch(() => undefined);
        await producer.disconnect().catch(() => undefined);
        throw explainSourceError(e, deps.sourceUrl);
      },
    );
    done.catch(() => undefined);

    return {
      done,
      durable: () => activeWriter.durable(),
      oldestPendingCommitUs: () => pendingCommits[0]?.commitTimeUs,
      stop: async () => {
        stopping = true;
        // Waits for the change in hand, then commits whole transactions or aborts a cut one.
        await activeWriter.close();
        await running.stop();
        await producer.disconnect().catch(() => undefined);
        await done.catch(() => undefined);
      },
    };
  } catch (e) {
    await writer?.abandon();
    await stream?.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    throw e;
  }
}

/** Begin … Commit → events in the writer, one message at a time (the stream awaits each). */
class TransactionHandler {
  private readonly relations: RelationCache;
  private open: OpenTransaction | undefined;
  /** Told of each received commit, for the lag gauge. */
  onCommitReceived: (endLsn: Lsn, commitTimeUs: bigint) => void = () => undefined;

  constructor(
    private readonly deps: SessionDeps,
    private readonly checkpoint: Checkpoint | undefined,
    private readonly writer: TxlogWriter,
    private readonly stopping: () => boolean,
  ) {
    this.relations = new RelationCache(deps.lookup, deps.tenantColumn, deps.log);
  }

  insideTransaction(): boolean {
    return this.open !== undefined;
  }

  async handle(message: PgoutputMessage, walStart: Lsn): Promise<void> {
    // After stop() began, changes are left in the slot for the next session.
    if (this.stopping()) return;
    switch (message.tag) {
      case 'begin': {
        const skip = alreadyPublished(message.finalLsn, this.checkpoint);
        this.open = {
          xid: message.xid,
          commitLsn: message.finalLsn,
          commitTimeUs: message.commitTimeUs,
          origin: null,
          skip,
          sequence: 0,
          events: 0,
        };
        if (!skip) await this.writer.beginTransaction();
        return;
      }
      case 'commit': {
        const open = this.requireOpen('commit');
        this.open = undefined;
        if (open.skip) {
          this.deps.metrics.skippedTransactions.inc();
          await this.writer.skipped(message.endLsn);
          return;
        }
        this.onCommitReceived(message.endLsn, message.commitTimeUs);
        await this.writer.endTransaction({
          slot: this.deps.slot,
          commitEndLsn: message.endLsn,
          commitLsn: message.commitLsn,
          xid: open.xid,
          commitTimeUs: message.commitTimeUs,
          events: open.events,
        });
        return;
      }
      case 'relation': {
        const { relation, changed } = await this.relations.learn(message);
        // A tenant table's new column set goes to every tenant, in this transaction's place.
        if (changed && relation.tenantIndex >= 0 && this.open && !this.open.skip) {
          const open = this.open;
          await this.writer.add(schemaEvent(relation, open, walStart, () => open.sequence++));
          open.events += 1;
        }
        return;
      }
      case 'type':
        this.relations.learnType(message);
        return;
      case 'origin':
        if (this.open) this.open.origin = message.name;
        return;
      case 'message':
        // In-place restores tag their transaction with a message; later events carry it.
        if (message.transactional && this.open && message.prefix === BACKTRACK_MESSAGE_PREFIX) {
          this.open.origin = message.content.toString('utf8');
        }
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        const open = this.requireOpen(message.tag);
        if (open.skip) return;
        const relation = this.relations.get(message.relationOid);
        let events = rowChangeEvents(relation, message, open, walStart, () => open.sequence++);
        // Other publications' schema-history rows are left out; their transaction still ends
        // through the writer (a checkpoint before the slot moves), so slot ≤ checkpoint holds.
        if (isDdlHistoryEvent(relation)) events = ddlHistoryEvents(events, this.deps.publication);
        for (const event of events) await this.writer.add(event);
        open.events += events.length;
        return;
      }
      case 'truncate': {
        const open = this.requireOpen('truncate');
        if (open.skip) return;
        const relations = message.relationOids.map((oid) => this.relations.get(oid));
        const events = truncateEvents(relations, message, open, walStart, () => open.sequence++);
        for (const event of events) await this.writer.add(event);
        open.events += events.length;
        return;
      }
    }
  }

  private requireOpen(what: string): OpenTransaction {
    if (!this.open) {
      throw new BacktrackError('PROTOCOL_VIOLATION', `pgoutput sent ${what} outside a transaction`);
    }
    return this.open;
  }
}
