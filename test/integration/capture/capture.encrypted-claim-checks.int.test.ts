/**
 * With BACKTRACK_ENCRYPTION_KEY set, a row too large for a Kafka record is stored in object
 * storage encrypted like segments and snapshots: the real `backtrack capture` process
 * writes a claim check that starts `BTCRYPT1`, names its key and holds none of the row in
 * clear; without the key it cannot be read (a clear error), and a restore of the tenant
 * with the key returns the row exactly.
 */
import { randomBytes } from 'node:crypto';

import { createRestorer } from '../../../services/restore/index.js';
import { CLAIM_CHECK_BYTES, readClaimCheck } from '../../../shared/archive/claim-check.js';
import { keyringFrom } from '../../../shared/archive/encryption.js';
import { isBacktrackError } from '../../../shared/errors.js';
import { quoteIdent } from '../../../shared/pg/index.js';
import { archiveEnvironment, catalogConfigFor, s3ConfigFor } from '../../support/archive.js';
import {
  kafkaConfigFor,
  setupSource,
  sourceConfigFor,
  spawnBacktrack,
  waitForLog,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { snapshotterFor } from '../../support/snapshot.js';
import { waitFor } from '../../support/wait-for.js';

const encryption = { masterKey: randomBytes(32), keyId: 'claims-key-1' };

describe('capture: claim checks under encryption', () => {
  test(
    'an oversized row is stored encrypted and restores exactly with the key',
    { timeout: 240_000 },
    async ({ source, kafka, s3, catalog, config, log }) => {
      await source.exec(
        `CREATE TABLE blobs (id int PRIMARY KEY, tenant_id text NOT NULL, body text)`,
      );
      await source.exec(`INSERT INTO blobs VALUES (1, 'acme', 'small')`);
      await setupSource(source);
      const capture = spawnBacktrack(
        ['capture'],
        archiveEnvironment(
          source,
          { config, kafka, s3, catalog },
          {
            BACKTRACK_ENCRYPTION_KEY: encryption.masterKey.toString('base64'),
            BACKTRACK_ENCRYPTION_KEY_ID: encryption.keyId,
          },
        ),
      );
      const snapshotter = await snapshotterFor({
        config,
        source,
        kafka,
        s3,
        catalog,
        log,
        encryption,
      });
      const restorer = createRestorer({
        source: sourceConfigFor(source),
        catalog: catalogConfigFor(catalog),
        kafka: kafkaConfigFor(kafka),
        s3: s3ConfigFor(config, s3),
        encryption,
        log,
        takePreRestoreSnapshot: async (tenant, createdBy) =>
          (await snapshotter.take({ tenant, kind: 'pre_restore', createdBy })).id,
      });
      const restored = `ecc_${kafka.topicPrefix.slice(-6)}`;
      try {
        await waitFor(() => capture.output().includes('"msg":"capture streaming"'), {
          timeoutMs: 30_000,
          what: 'capture to stream',
        });
        await snapshotter.take({ tenant: 'acme', kind: 'full', createdBy: 'test' });

        // 12 MB of random text: past the claim-check threshold (8 MiB) and Kafka's limit.
        const body = randomBytes(9_000_000).toString('base64');
        expect(body.length).toBeGreaterThan(CLAIM_CHECK_BYTES);
        await source.exec(`INSERT INTO blobs VALUES (2, 'acme', $1)`, [body]);
        const logged = await waitForLog(
          kafka.port,
          kafka.topicPrefix,
          (events) => events.some((e) => e.event.claim !== null),
          'the claim-checked row',
        );
        const large = logged.find((e) => e.event.claim !== null)?.event;
        if (!large?.claim) throw new Error('no claim-checked event');
        const key = large.claim.key;
        expect(large.after).toBeNull();

        // On S3: encrypted, named with its key, no row data in clear.
        const raw = await s3.store.get(key);
        expect(raw.subarray(0, 8).toString('latin1')).toBe('BTCRYPT1');
        expect(raw.includes(Buffer.from(body.slice(0, 64)))).toBe(false);
        expect(raw.includes(Buffer.from(body.slice(-64)))).toBe(false);
        expect((await s3.store.head(key))?.metadata?.['backtrack-key-id']).toBe('claims-key-1');

        // Without the key: refused, saying what to configure.
        const refused = await readClaimCheck(s3.store, large, keyringFrom(undefined)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isBacktrackError(refused, 'DECRYPTION_FAILED')).toBe(true);
        expect((refused as Error).message).toBe(
          `claim check ${key} is encrypted (key claims-key-1) and no key is configured: set BACKTRACK_ENCRYPTION_KEY to the key it was written with`,
        );

        // With the key: the restore returns both rows exactly.
        const now = await source.pool.query(
          `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
        );
        const summary = await restorer.restore({
          tenant: 'acme',
          target: String(now.rows[0]?.at),
          mode: { kind: 'schema', schema: restored },
          dryRun: false,
          actor: 'test',
        });
        // The insert, and the table's schema event of the session.
        expect(summary.replayed.events).toBeGreaterThan(0);
        const compared = await source.pool.query(
          `SELECT s.id, r.id IS NOT NULL AS restored, r.tenant_id = s.tenant_id AND r.body = s.body AS same
             FROM ${quoteIdent(source.schema)}.blobs s
             FULL JOIN ${quoteIdent(restored)}.blobs r ON r.id = s.id ORDER BY 1`,
        );
        expect(compared.rows).toEqual([
          { id: 1, restored: true, same: true },
          { id: 2, restored: true, same: true },
        ]);
      } finally {
        capture.kill('SIGTERM');
        await capture.exited;
        await restorer.close();
        await snapshotter.close();
        await source.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(restored)} CASCADE`);
      }
    },
  );
});
