/**
 * What the archive needs to know of an encoded event without decoding all of it: its
 * tenant, commit LSN and commit time. An Avro resolver from the change-event schema to a
 * projection of those fields reads them and skips the rest (row images included), which
 * is several times faster than a full decode, and still walks every field, so bytes that
 * are not an event of this schema are refused.
 */
import avro from 'avsc';

import { BacktrackError } from '../errors.js';
import { CHANGE_EVENT_AVRO_SCHEMA, changeEventType } from '../events/index.js';
import { type Lsn, lsnFromBigInt } from '../lsn.js';

import { bigintLong } from './avro-container.js';

/** The fields of an event that segment metadata is made of. */
export interface EventSummary {
  readonly tenant: string;
  readonly commitLsn: Lsn;
  /** Microseconds since the Unix epoch. */
  readonly commitTimeUs: bigint;
}

const projection = avro.Type.forSchema(
  {
    type: 'record',
    name: CHANGE_EVENT_AVRO_SCHEMA.name,
    namespace: CHANGE_EVENT_AVRO_SCHEMA.namespace,
    fields: [
      { name: 'tenant', type: 'string' },
      { name: 'commitLsn', type: 'long' },
      { name: 'commitTimeUs', type: 'long' },
    ],
  } as unknown as avro.Schema,
  { registry: { long: bigintLong } },
);
const resolver = projection.createResolver(changeEventType);

interface Projected {
  tenant: string;
  commitLsn: bigint;
  commitTimeUs: bigint;
}

/** Summarises the Avro bytes of a change event; INTEGRITY_FAILED when they are not one. */
export function summarizeEvent(bytes: Buffer): EventSummary {
  let value: Projected;
  try {
    value = projection.fromBuffer(bytes, resolver) as Projected;
  } catch (cause) {
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `not a change event (${(cause as Error).message})`,
      {
        cause,
      },
    );
  }
  return {
    tenant: value.tenant,
    commitLsn: lsnFromBigInt(value.commitLsn),
    commitTimeUs: value.commitTimeUs,
  };
}
