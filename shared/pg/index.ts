export {
  createPgPool,
  identifySystem,
  type PgPool,
  type PgPoolOptions,
  type PgSession,
  type Queryable,
  type QueryResult,
  type Row,
  sqlState,
  type SystemIdentity,
  withPgConnection,
} from './pool.js';
export {
  decodePgoutput,
  type PgoutputMessage,
  type PgoutputTag,
  type RelationColumn,
  type ReplicaIdentity,
  type Tuple,
  type TupleValue,
} from './pgoutput.js';
export {
  type Keepalive,
  openReplicationStream,
  type ReplicationHandlers,
  type ReplicationStream,
  type ReplicationStreamOptions,
  type StreamedMessage,
} from './replication.js';
export { quoteIdent, quoteLiteral, quoteQualified } from './sql.js';
