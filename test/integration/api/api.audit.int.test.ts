/**
 * The audit log through the control API: every mutating call is recorded (successes,
 * refusals and failures, with actor, tenant, action, target, request id and outcome);
 * a compliance export of a period (JSON lines and CSV) holds exactly the tenant's audited
 * calls of that period; and the service's own database role can neither UPDATE, DELETE
 * nor TRUNCATE the audit table.
 */
import { z } from 'zod';

import { sqlState } from '../../../shared/pg/index.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

import { apiClient, bodyOf, startApi, token } from './harness.js';

const exported = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  actor_role: z.string().nullable(),
  tenant_id: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  request_id: z.string(),
  correlation_id: z.string().nullable(),
  outcome: z.enum(['pending', 'success', 'failure', 'denied']),
  status_code: z.number(),
  error_code: z.string().nullable(),
});

describe('control API: audit', () => {
  test('a compliance export holds exactly the audited calls of its period; the log is append-only', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    const fixtures = { source, catalog, kafka, s3, config, log };
    const stack = await startApi(fixtures, { workers: 0 });
    const api = apiClient(stack.api.url);
    try {
      const admin = await token('admin', 'ta', { subject: 'alice' });
      const viewer = await token('viewer', 'ta', { subject: 'bob' });
      const operator = await token('operator', 'ta', { subject: 'carol' });
      const otherAdmin = await token('admin', 'tb', { subject: 'dave' });
      const scheduleBody = { cron: '0 3 * * *', jobType: 'snapshot' };

      /** The catalog's clock, rounded up to the next millisecond (the export's precision). */
      const mark = async (): Promise<string> => {
        const result = await catalog.pool.query(
          `SELECT to_char((date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond')
                    AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`,
        );
        const at = String(result.rows[0]?.at);
        // Every later call is audited strictly after the mark.
        await waitFor(
          async () =>
            (await catalog.pool.query(`SELECT clock_timestamp() > $1::timestamptz AS past`, [at]))
              .rows[0]?.past === true,
          { what: 'the catalog clock to pass the mark' },
        );
        return at;
      };

      // Before the period.
      const early = await api.call('POST', '/v1/schedules', {
        token: admin,
        requestId: 'before-0001',
        json: { ...scheduleBody, name: 'early' },
      });
      expect(early.status).toBe(201);
      const from = await mark();

      // The period: a success, a validation failure, a refusal by role, a job, a delete,
      // a read (not audited), and another tenant's call (not in this tenant's export).
      const created = await api.call('POST', '/v1/schedules', {
        token: admin,
        requestId: 'period-0001',
        json: { ...scheduleBody, name: 'nightly' },
      });
      const scheduleId = bodyOf(created, z.object({ schedule: z.object({ id: z.string() }) }))
        .schedule.id;
      expect(
        (
          await api.call('POST', '/v1/schedules', {
            token: admin,
            requestId: 'period-0002',
            json: { ...scheduleBody, name: 'broken', cron: 'every night' },
          })
        ).status,
      ).toBe(400);
      expect(
        (
          await api.call('DELETE', `/v1/schedules/${scheduleId}`, {
            token: viewer,
            requestId: 'period-0003',
          })
        ).status,
      ).toBe(403);
      const backup = await api.call('POST', '/v1/backups', {
        token: operator,
        requestId: 'period-0004',
        json: { label: 'audited' },
      });
      expect(backup.status).toBe(202);
      const jobId = bodyOf(backup, z.object({ jobId: z.string() })).jobId;
      expect(
        (
          await api.call('DELETE', `/v1/schedules/${scheduleId}`, {
            token: admin,
            requestId: 'period-0005',
          })
        ).status,
      ).toBe(200);
      expect(
        (await api.call('GET', '/v1/jobs', { token: admin, requestId: 'period-read' })).status,
      ).toBe(200);
      expect(
        (
          await api.call('POST', '/v1/schedules', {
            token: otherAdmin,
            requestId: 'period-other',
            json: { ...scheduleBody, name: 'theirs' },
          })
        ).status,
      ).toBe(201);
      const to = await mark();

      // After the period.
      expect(
        (
          await api.call('POST', '/v1/schedules', {
            token: admin,
            requestId: 'after-0001',
            json: { ...scheduleBody, name: 'late' },
          })
        ).status,
      ).toBe(201);

      const expected = [
        {
          correlation_id: 'period-0001',
          actor: 'admin:alice',
          action: 'schedule.create',
          target: scheduleId,
          outcome: 'success',
          status_code: 201,
          error_code: null,
        },
        {
          correlation_id: 'period-0002',
          actor: 'admin:alice',
          action: 'schedule.create',
          target: null,
          outcome: 'failure',
          status_code: 400,
          error_code: 'VALIDATION_FAILED',
        },
        {
          correlation_id: 'period-0003',
          actor: 'viewer:bob',
          action: 'schedule.delete',
          target: scheduleId,
          outcome: 'denied',
          status_code: 403,
          error_code: 'INSUFFICIENT_PERMISSIONS',
        },
        {
          correlation_id: 'period-0004',
          actor: 'operator:carol',
          action: 'backup.create',
          target: jobId,
          outcome: 'success',
          status_code: 202,
          error_code: null,
        },
        {
          correlation_id: 'period-0005',
          actor: 'admin:alice',
          action: 'schedule.delete',
          target: scheduleId,
          outcome: 'success',
          status_code: 200,
          error_code: null,
        },
      ].map((e): unknown => expect.objectContaining({ ...e, tenant_id: 'ta' }));

      const jsonl = await api.call('GET', '/v1/audit/export', {
        token: admin,
        query: { from, to, format: 'jsonl' },
      });
      expect(jsonl.status).toBe(200);
      expect(jsonl.headers.get('content-type')).toMatch(/application\/x-ndjson/);
      expect(jsonl.headers.get('content-disposition')).toMatch(/attachment; filename="audit-ta-/);
      const lines = jsonl.text
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => exported.parse(JSON.parse(line)));
      expect(lines).toEqual(expected);

      const csv = await api.call('GET', '/v1/audit/export', {
        token: admin,
        query: { from, to, format: 'csv' },
      });
      expect(csv.status).toBe(200);
      const [head, ...rows] = csv.text.split('\r\n').filter((line) => line.length > 0);
      const columns = head?.split(',') ?? [];
      expect(columns).toContain('request_id');
      const requestIds = rows.map((row) => row.split(',')[columns.indexOf('request_id')]);
      expect(requestIds).toEqual(lines.map((l) => l.request_id));
      // The request id is the server's own, one per call; the client's is the correlation id.
      expect(new Set(requestIds).size).toBe(requestIds.length);
      for (const id of requestIds) expect(id).toMatch(/^[0-9a-f-]{36}$/);

      // The paged query agrees, and another tenant's admin sees none of it.
      const paged = bodyOf(
        await api.call('GET', '/v1/audit', { token: admin, query: { from, to } }),
        z.object({
          entries: z.array(
            z.object({ requestId: z.string(), correlationId: z.string().nullable() }),
          ),
        }),
      );
      expect(paged.entries.map((e) => e.requestId)).toEqual(lines.map((l) => l.request_id));
      expect(paged.entries.map((e) => e.correlationId)).toEqual(lines.map((l) => l.correlation_id));
      const theirs = await api.call('GET', '/v1/audit/export', {
        token: otherAdmin,
        query: { from, to },
      });
      expect(
        theirs.text
          .trim()
          .split('\n')
          .map((l) => exported.parse(JSON.parse(l)).correlation_id),
      ).toEqual(['period-other']);

      // Append-only, for the role the service connects with.
      const before = await catalog.pool.query('SELECT count(*)::int AS n FROM backtrack.audit_log');
      for (const statement of [
        `UPDATE backtrack.audit_log SET outcome = 'success' WHERE correlation_id = 'period-0003'`,
        `UPDATE backtrack.audit_log SET outcome = 'pending' WHERE correlation_id = 'period-0001'`,
        `UPDATE backtrack.audit_log SET actor = 'someone' WHERE correlation_id = 'period-0001'`,
        `DELETE FROM backtrack.audit_log WHERE correlation_id = 'period-0002'`,
        'TRUNCATE backtrack.audit_log',
      ]) {
        const error = await catalog.pool.query(statement).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(sqlState(error), statement).toBe('42501');
      }
      const afterwards = await catalog.pool.query(
        'SELECT count(*)::int AS n FROM backtrack.audit_log',
      );
      expect(afterwards.rows[0]?.n).toBe(before.rows[0]?.n);
      expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
    } finally {
      await stack.stop();
    }
  });
});
