/** The capture's Prometheus metrics. */
import { Counter, createRegistry, Gauge, Histogram, type Registry } from '../../shared/metrics.js';

/** Metrics one capture process reports. */
export interface CaptureMetrics {
  readonly registry: Registry;
  readonly events: Counter;
  readonly transactions: Counter;
  readonly skippedTransactions: Counter;
  readonly bytes: Counter;
  readonly kafkaTransactions: Counter;
  readonly claimChecks: Counter;
  readonly restarts: Counter;
  readonly gaps: Counter;
  readonly slot: Gauge;
  readonly lastCommittedLsn: Gauge;
  readonly slotLagBytes: Gauge;
  readonly secondsBehind: Gauge;
  readonly produceLatency: Histogram;
  readonly commitToKafkaLatency: Histogram;
  readonly heldSeconds: Counter;
}

/** Creates the metrics in a fresh registry. */
export function createCaptureMetrics(): CaptureMetrics {
  const registry = createRegistry('backtrack_capture_');
  const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  return {
    registry,
    events: new Counter({
      name: 'backtrack_capture_events_total',
      help: 'Change events written to the transaction log (Kafka committed or pending commit).',
      labelNames: ['op'],
      registers: [registry],
    }),
    transactions: new Counter({
      name: 'backtrack_capture_transactions_total',
      help: 'Postgres transactions with changes whose events Kafka committed.',
      registers: [registry],
    }),
    skippedTransactions: new Counter({
      name: 'backtrack_capture_skipped_transactions_total',
      help: 'Transactions received again after a restart and skipped because Kafka already has them.',
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'backtrack_capture_event_bytes_total',
      help: 'Bytes of encoded change events sent to Kafka.',
      registers: [registry],
    }),
    kafkaTransactions: new Counter({
      name: 'backtrack_capture_kafka_transactions_total',
      help: 'Kafka transactions committed (each holds one or more Postgres transactions and a checkpoint).',
      registers: [registry],
    }),
    claimChecks: new Counter({
      name: 'backtrack_capture_claim_checks_total',
      help: 'Events whose row images were too large for Kafka and went to object storage.',
      registers: [registry],
    }),
    restarts: new Counter({
      name: 'backtrack_capture_restarts_total',
      help: 'Times the capture pipeline restarted from its checkpoint after a failure.',
      registers: [registry],
    }),
    gaps: new Counter({
      name: 'backtrack_capture_gaps_total',
      help: 'Gaps found at session start: WAL the slot was confirmed past that never reached Kafka (recorded in the catalog).',
      registers: [registry],
    }),
    slot: new Gauge({
      name: 'backtrack_capture_slot_info',
      help: 'Always 1; its label names the replication slot this capture streams.',
      labelNames: ['slot'],
      registers: [registry],
    }),
    lastCommittedLsn: new Gauge({
      name: 'backtrack_capture_last_committed_lsn',
      help: 'Commit end LSN (as a number) of the last transaction Kafka committed: the slot may advance to it.',
      registers: [registry],
    }),
    slotLagBytes: new Gauge({
      name: 'backtrack_capture_slot_lag_bytes',
      help: 'WAL bytes between the server position and the slot confirmed_flush_lsn.',
      registers: [registry],
    }),
    secondsBehind: new Gauge({
      name: 'backtrack_capture_seconds_behind_source',
      help: 'Age of the oldest received transaction not yet committed to Kafka (0 when caught up).',
      registers: [registry],
    }),
    produceLatency: new Histogram({
      name: 'backtrack_capture_kafka_commit_seconds',
      help: 'Time to send the remaining events and commit one Kafka transaction.',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    commitToKafkaLatency: new Histogram({
      name: 'backtrack_capture_commit_to_kafka_seconds',
      help: 'Time from a Postgres commit to the Kafka commit that holds it.',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    heldSeconds: new Counter({
      name: 'backtrack_capture_stream_held_seconds_total',
      help: 'Time the replication stream waited for Kafka, by what it waited for: "commit" (two batches already awaiting their commits), "transaction" (the previous commit, before the next Kafka transaction can begin), "chunk" (the acknowledgement of chunks in flight).',
      labelNames: ['on'],
      registers: [registry],
    }),
  };
}
