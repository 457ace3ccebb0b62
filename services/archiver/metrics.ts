/** The archiver's Prometheus metrics. */
import { Counter, createRegistry, Gauge, Histogram, type Registry } from '../../shared/metrics.js';

/** Metrics one archiver process reports. */
export interface ArchiverMetrics {
  readonly registry: Registry;
  readonly events: Counter;
  readonly segments: Counter;
  readonly segmentBytes: Histogram;
  readonly flushes: Counter;
  readonly flushSeconds: Histogram;
  readonly retries: Counter;
  readonly conflicts: Counter;
  readonly gaps: Counter;
  readonly archivedOffset: Gauge;
  readonly lag: Gauge;
  readonly bufferedBytes: Gauge;
  readonly oldestBufferedSeconds: Gauge;
  readonly compactedSegments: Counter;
  readonly deletedObjects: Counter;
}

/** Creates the metrics in a fresh registry. */
export function createArchiverMetrics(): ArchiverMetrics {
  const registry = createRegistry('backtrack_archiver_');
  const registers = [registry];
  return {
    registry,
    events: new Counter({
      name: 'backtrack_archiver_events_total',
      help: 'Change events archived (recorded in the catalog inside a segment).',
      registers,
    }),
    segments: new Counter({
      name: 'backtrack_archiver_segments_total',
      help: 'Segments written and recorded.',
      registers,
    }),
    segmentBytes: new Histogram({
      name: 'backtrack_archiver_segment_bytes',
      help: 'Stored size of each segment written (after compression and encryption).',
      buckets: [
        1024, 8192, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864, 268_435_456,
      ],
      registers,
    }),
    flushes: new Counter({
      name: 'backtrack_archiver_flushes_total',
      help: 'Partition ranges flushed, by what triggered them (size, age, gap, shutdown).',
      labelNames: ['reason'],
      registers,
    }),
    flushSeconds: new Histogram({
      name: 'backtrack_archiver_flush_seconds',
      help: 'Time from sealing a range to its offset commit (upload, catalog, commit; retries included).',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    retries: new Counter({
      name: 'backtrack_archiver_retries_total',
      help: 'Retried steps of flushes (upload, catalog, commit) after a retriable failure.',
      labelNames: ['step'],
      registers,
    }),
    conflicts: new Counter({
      name: 'backtrack_archiver_conflicts_total',
      help: 'Flushes refused because another archiver had recorded the range (after a rebalance).',
      registers,
    }),
    gaps: new Counter({
      name: 'backtrack_archiver_gaps_total',
      help: 'Times the consumer jumped past offsets it never read (they are reported as coverage gaps).',
      registers,
    }),
    archivedOffset: new Gauge({
      name: 'backtrack_archiver_archived_offset',
      help: 'End of the newest recorded range, per partition: everything before it is archived.',
      labelNames: ['partition'],
      registers,
    }),
    lag: new Gauge({
      name: 'backtrack_archiver_lag_records',
      help: 'Offsets between the partition high watermark and the archived position, per partition.',
      labelNames: ['partition'],
      registers,
    }),
    bufferedBytes: new Gauge({
      name: 'backtrack_archiver_buffered_bytes',
      help: 'Encoded event bytes read but not yet flushed, per partition.',
      labelNames: ['partition'],
      registers,
    }),
    oldestBufferedSeconds: new Gauge({
      name: 'backtrack_archiver_oldest_buffered_seconds',
      help: 'Age of the oldest event read but not yet archived: the current RPO to object storage.',
      registers,
    }),
    compactedSegments: new Counter({
      name: 'backtrack_archiver_compacted_segments_total',
      help: 'Small segments merged into larger ones by compaction.',
      registers,
    }),
    deletedObjects: new Counter({
      name: 'backtrack_archiver_deleted_objects_total',
      help: 'Objects of compacted segments deleted after their grace period.',
      registers,
    }),
  };
}
