/**
 * A change event for tests that need one but not its contents: an insert of one integer
 * column into app.t, with what a test varies given as overrides.
 */
import { type ChangeEvent, relationVersionOf } from '../../shared/events/index.js';
import { lsnFromBigInt } from '../../shared/lsn.js';

const columns = [{ name: 'id', typeOid: 23, typeName: 'integer', typeMod: -1, primaryKey: true }];

/** An insert into app.t of tenant `acme` at LSN 100, with `overrides` on top. */
export function insertEvent(overrides: Partial<ChangeEvent> = {}): ChangeEvent {
  return {
    tenant: 'acme',
    schema: 'app',
    table: 't',
    op: 'insert',
    relation: { oid: 1, version: relationVersionOf('app', 't', columns), columns },
    before: null,
    after: [{ kind: 'text', text: '1' }],
    truncate: null,
    xid: 1,
    commitLsn: lsnFromBigInt(100n),
    eventLsn: lsnFromBigInt(100n),
    commitTimeUs: 0n,
    sequence: 0,
    origin: null,
    claim: null,
    ...overrides,
  };
}
