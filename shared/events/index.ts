export {
  type ChangeEvent,
  type ChangeOp,
  CHANGE_OPS,
  type ClaimCheck,
  type ColumnValue,
  compareEventPosition,
  type EventColumn,
  type EventPosition,
  relationVersionOf,
  type RelationVersion,
  TENANT_ALL,
  TENANT_GLOBAL,
} from './change-event.js';
export {
  CHANGE_EVENT_AVRO_SCHEMA,
  changeEventType,
  decodeChangeEvent,
  encodeChangeEvent,
  EVENT_SCHEMA_FINGERPRINT,
  EVENT_SCHEMA_VERSION,
  fromAvroRecord,
  toAvroRecord,
} from './codec.js';
export {
  CHECKPOINT_PARTITIONS,
  checkpointTopic,
  checkpointTopicSpec,
  topicPartitionCount,
  toTxlogRecord,
  TXLOG_HEADERS,
  TxlogRecords,
  TXLOG_MAX_MESSAGE_BYTES,
  txlogTopic,
  txlogTopicSpec,
} from './topics.js';
export {
  alreadyPublished,
  type Checkpoint,
  checkpointRecord,
  parseCheckpoint,
  readCheckpoint,
} from './checkpoint.js';
