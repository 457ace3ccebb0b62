/**
 * The compliance export: audit entries of a period as JSON lines or CSV, rendered one entry
 * at a time from a cursor (never the whole period in memory).
 */
import type { AuditEntry } from '../../shared/catalog/audit-log.js';

/** Export formats. */
export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const CSV_COLUMNS = [
  'id',
  'at',
  'actor',
  'actor_role',
  'tenant_id',
  'action',
  'target',
  'request_id',
  'correlation_id',
  'outcome',
  'status_code',
  'error_code',
] as const;

function record(e: AuditEntry): Record<(typeof CSV_COLUMNS)[number], string | number | null> {
  return {
    id: e.id.toString(),
    at: e.at.toISOString(),
    actor: e.actor,
    actor_role: e.actorRole,
    tenant_id: e.tenant,
    action: e.action,
    target: e.target,
    request_id: e.requestId,
    correlation_id: e.correlationId,
    outcome: e.outcome,
    status_code: e.statusCode,
    error_code: e.errorCode,
  };
}

/** What a spreadsheet reads as the start of a formula (OWASP, CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text that a
 * spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) gets a
 * leading single quote, as OWASP recommends, so it opens as the text it was.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = typeof value === 'string' && FORMULA_START.test(value) ? `'${value}` : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The lines of an export, header first for CSV. */
export async function* exportLines(
  entries: AsyncIterable<AuditEntry>,
  format: ExportFormat,
): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`;
  for await (const entry of entries) {
    const r = record(entry);
    yield format === 'csv'
      ? `${CSV_COLUMNS.map((c) => csvField(r[c])).join(',')}\r\n`
      : `${JSON.stringify({ ...r, details: entry.details })}\n`;
  }
}
