/**
 * Compaction merges a tenant's small adjacent segments into one, atomically in the catalog;
 * the archived events and the coverage stay exactly the same; the old objects stay
 * readable until their grace period is over, and are deleted after it.
 */
import { runCompaction, runVerify } from '../../../services/archiver/index.js';
import { keyringFrom } from '../../../shared/archive/encryption.js';
import { listRanges } from '../../../shared/catalog/archive-ranges.js';
import { listSegments } from '../../../shared/catalog/segments.js';
import { txlogTopic } from '../../../shared/events/index.js';
import {
  archiveInProcess,
  DOCS_TABLE,
  readArchive,
  runDocsWorkload,
  waitForArchive,
} from '../../support/archive.js';
import { captureInProcess, setupSource, waitForLog } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';

const TENANTS = ['acme', 'globex', 'initech'];

describe('archiver: compaction', () => {
  test(
    'merges small segments without changing history or coverage',
    { timeout: 180_000 },
    async ({ source, kafka, catalog, s3, log, config }) => {
      await source.exec(DOCS_TABLE);
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const archiver = await archiveInProcess({
        config,
        kafka,
        s3,
        catalog,
        log,
        archiver: { segmentMaxAgeMs: 200 },
      });
      let logged;
      try {
        // Bursts archived one by one: many small segments per tenant.
        let nextId = 1;
        let total = 0;
        for (let burst = 0; burst < 6; burst++) {
          nextId = await runDocsWorkload(source, {
            tenants: TENANTS,
            transactions: 8,
            firstId: nextId,
            seed: burst + 1,
          });
          const seen = total;
          logged = await waitForLog(
            kafka.port,
            kafka.topicPrefix,
            (e) => e.length > seen,
            `burst ${burst}`,
          );
          total = logged.length;
          await waitForArchive(catalog.pool, kafka.topicPrefix, logged);
        }
      } finally {
        await archiver.stop();
        await capture.stop();
      }
      const topic = txlogTopic(kafka.topicPrefix);
      // The tenants' segments (`_all` holds one small segment of schema events, nothing to merge).
      const tenantSegments = async () =>
        (await listSegments(catalog.pool)).filter((s) => TENANTS.includes(s.tenant));
      const before = await tenantSegments();
      const eventsBefore = await readArchive(catalog.pool, s3.store);
      const rangesBefore = await Promise.all(
        [0, 1, 2].map((p) => listRanges(catalog.pool, topic, p)),
      );
      const perTenant = (segments: typeof before) =>
        new Map(TENANTS.map((t) => [t, segments.filter((s) => s.tenant === t).length]));
      expect(Math.min(...perTenant(before).values())).toBeGreaterThan(2);

      const deps = {
        catalog: catalog.pool,
        store: s3.store,
        keyring: keyringFrom(undefined),
        targetBytes: 1024 * 1024,
        log,
      };
      const first = await runCompaction({ ...deps, graceMs: 3_600_000 });
      expect(first.ran).toBe(true);
      expect(first.merges.every((m) => m.status === 'merged')).toBe(true);
      const after = await tenantSegments();
      // One segment per tenant now, holding exactly the same events.
      expect([...perTenant(after).values()]).toEqual(TENANTS.map(() => 1));
      const eventsAfter = await readArchive(catalog.pool, s3.store);
      const id = (e: (typeof eventsBefore)[number]) => `${e.partition}@${e.offset}`;
      expect(eventsAfter.map(id).sort()).toEqual(eventsBefore.map(id).sort());
      expect(eventsAfter.map((e) => e.event)).toEqual(
        [...eventsBefore]
          .sort((a, b) => {
            const byTenant = a.segment.tenant.localeCompare(b.segment.tenant);
            return byTenant !== 0 ? byTenant : a.offset < b.offset ? -1 : 1;
          })
          .map((e) => e.event),
      );
      // Each merged segment spans the union of the ranges of the ones it replaced.
      for (const merged of after) {
        const replaced = before.filter((s) => s.tenant === merged.tenant);
        expect(merged.rangeFrom).toBe(replaced[0]?.rangeFrom);
        expect(merged.rangeTo).toBe(replaced.at(-1)?.rangeTo);
      }
      // Coverage is untouched: the ranges stay as they were.
      expect(await Promise.all([0, 1, 2].map((p) => listRanges(catalog.pool, topic, p)))).toEqual(
        rangesBefore,
      );

      // Within the grace period the old objects are still there, recorded as compacted.
      const compacted = await listSegments(catalog.pool, { includeCompacted: true });
      const old = compacted.filter((s) => s.state === 'compacted' && TENANTS.includes(s.tenant));
      expect(old.map((s) => s.key).sort()).toEqual(before.map((s) => s.key).sort());
      for (const s of old) {
        expect(s.compactedInto).toBe(after.find((a) => a.tenant === s.tenant)?.key);
        expect(await s3.store.head(s.key)).toBeDefined();
      }
      expect((await runVerify({ ...deps, concurrency: 4 })).ok).toBe(true);

      // A second run finds nothing to merge and nothing due yet.
      const idle = await runCompaction({ ...deps, graceMs: 3_600_000 });
      expect(idle.merges).toEqual([]);
      expect(idle.deletedObjects).toBe(0);

      // Once the grace period is over, the old objects and their rows go.
      await catalog.pool.query(
        `UPDATE backtrack.segments SET delete_after = now() - interval '1 second' WHERE state = 'compacted'`,
      );
      const cleanup = await runCompaction({ ...deps, graceMs: 3_600_000 });
      expect(cleanup.deletedObjects).toBe(old.length);
      for (const s of old) expect(await s3.store.head(s.key)).toBeUndefined();
      expect(
        (await listSegments(catalog.pool, { includeCompacted: true })).filter((s) =>
          TENANTS.includes(s.tenant),
        ),
      ).toEqual(after);
      expect((await readArchive(catalog.pool, s3.store)).map(id).sort()).toEqual(
        eventsBefore.map(id).sort(),
      );
    },
  );
});
