/**
 * The zod schemas shared by the routes: every object is strict (an unknown field is a 400),
 * every string bounded, identifiers checked against a pattern before they get near SQL.
 */
import { z } from 'zod';

import { textProblem } from './bad-text.js';
import { cronProblem, isTimeZone } from './cron.js';

/** `tenant`: only a platform-admin names it; anyone else may only repeat their own. */
export const tenantParameter = z
  .string()
  .min(1)
  .max(200)
  .optional()
  .describe("Tenant to act for (platform-admin only; others' tenant comes from the token)");

/** A query with nothing but the tenant. */
export const tenantQuery = z.strictObject({ tenant: tenantParameter });

/** Pagination: a default limit of 50, at most 500. */
export const page = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

/** `:id` of a resource. */
export const idParams = z.strictObject({ id: z.uuid() });

/** An ISO-8601 instant with a zone (Z or ±hh:mm), between 1970 and 9999. */
export const instant = z.iso
  .datetime({ offset: true })
  .refine((text) => !Number.isNaN(Date.parse(text)), 'is not a real instant')
  .describe('ISO-8601 instant with a zone, e.g. 2026-11-20T10:15:00Z');

/** A captured table: `schema.table` or `table`, lower-case identifiers only. */
export const tableName = z
  .string()
  .max(127)
  .regex(
    /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/,
    'must be a table name (schema.table or table; lower-case letters, digits, underscore)',
  );

/** A schema name Backtrack may create. */
export const schemaName = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    'must be a lower-case identifier (letters, digits, underscore; at most 63)',
  );

/** A time zone name. */
export const timeZone = z
  .string()
  .max(64)
  .refine(isTimeZone, 'is not an IANA time zone (e.g. UTC, Europe/Paris)');

/** A cron expression (5 fields, or 6 with seconds first). */
export const cronExpression = z
  .string()
  .min(9)
  .max(120)
  .superRefine((text, ctx) => {
    const problem = cronProblem(text);
    if (problem !== undefined)
      ctx.addIssue({ code: 'custom', message: `is not a cron expression: ${problem}` });
  })
  .describe('cron: minute hour day month weekday (or seconds first, 6 fields)');

/** Where notifications go: https webhooks or e-mail addresses. */
export const notificationTargets = z
  .array(z.union([z.url({ protocol: /^https?$/ }).max(500), z.email().max(254)]))
  .max(20);

/** C0 control characters other than tab, line feed and carriage return. */
function isControl(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d;
}

/** Free text a person writes (names, reasons, descriptions). */
export const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => ![...s].some(isControl), 'has control characters')
    .refine((s) => textProblem(s) === undefined, 'is not valid Unicode text');

/** Every successful body starts with this. */
export const ok = z.literal(true);

/** A queued job, as a 202 answers it. */
export const acceptedJob = z.object({
  success: ok,
  jobId: z.uuid(),
  status: z.enum(['queued', 'running', 'completed', 'failed']),
  location: z.string(),
});

/** The error body (documentation; the handler renders it). */
export const errorBodySchema = z.object({
  success: z.literal(false),
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** Dates out: ISO text or null. */
export const iso = (d: Date | null | undefined): string | null =>
  d === null || d === undefined ? null : d.toISOString();
