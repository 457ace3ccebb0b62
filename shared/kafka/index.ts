/**
 * The Kafka port: its types (port.ts) and `createKafka()`, which composes the adapters — the
 * transactional producer on librdkafka's native API (librdkafka.ts), admin, consumers and
 * partition ranges on kafkajs (kafkajs.ts). The vendor SDKs are imported in this folder only,
 * so a move to another client touches nothing else.
 */
import { DEFAULT_OPERATION_TIMEOUT_MS } from './deadline.js';
import { createKafkajs } from './kafkajs.js';
import { createNativeProducer } from './librdkafka.js';
import type { KafkaClientOptions, KafkaPort } from './port.js';

export type * from './port.js';
export { DEFAULT_OPERATION_TIMEOUT_MS, withDeadline } from './deadline.js';
export { explicitPartition, murmur2, partitionForKey } from './partitioner.js';

/** Creates the port. Nothing connects until a client is asked for. */
export function createKafka(options: KafkaClientOptions): KafkaPort {
  const timeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  const kafkajs = createKafkajs(options, timeoutMs);
  return {
    admin: () => kafkajs.admin(),
    readRange: (range, onRecords, readOptions) => kafkajs.readRange(range, onRecords, readOptions),
    consumer: (consumerOptions) => kafkajs.consumer(consumerOptions),
    transactionalProducer: (producerOptions) =>
      options.producerClient === 'kafkajs'
        ? kafkajs.transactionalProducer(producerOptions)
        : createNativeProducer(options, producerOptions, timeoutMs),
  };
}
