/**
 * The Kafka port: its types (port.ts) and `createKafka()`, which composes the adapter:
 * kafkajs (kafkajs.ts) for admin, consumers, partition ranges and the transactional
 * producer. The vendor SDK is imported in this folder only, so a move to another client
 * touches nothing else.
 */
import { DEFAULT_OPERATION_TIMEOUT_MS } from './deadline.js';
import { createKafkajs } from './kafkajs.js';
import type { KafkaClientOptions, KafkaPort } from './port.js';

export type * from './port.js';
export { DEFAULT_OPERATION_TIMEOUT_MS, withDeadline } from './deadline.js';
export { explicitPartition, murmur2, partitionForKey } from './partitioner.js';

/** Creates the port. Nothing connects until a client is asked for. */
export function createKafka(options: KafkaClientOptions): KafkaPort {
  return createKafkajs(options, options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS);
}
