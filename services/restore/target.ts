/**
 * The instant a restore goes back to: an ISO-8601 timestamp with a zone (every transaction
 * whose commit time is at or before it is included), or an LSN (every transaction whose
 * commit record starts at or before it).
 */
import { BacktrackError } from '../../shared/errors.js';
import { formatInstant } from '../../shared/instant.js';
import { formatLsn, isLsnText, type Lsn, parseLsn } from '../../shared/lsn.js';

/** A parsed restore target. */
export type RestoreTarget =
  | { readonly kind: 'time'; readonly us: bigint; readonly text: string }
  | { readonly kind: 'lsn'; readonly lsn: Lsn; readonly text: string };

/** ISO-8601 date and time with seconds, optional fraction (µs), and a zone (Z or ±hh:mm). */
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:?\d{2})$/;

/** Parses a target; throws VALIDATION_FAILED with the accepted forms. */
export function parseTarget(text: string): RestoreTarget {
  const trimmed = text.trim();
  if (isLsnText(trimmed))
    return { kind: 'lsn', lsn: parseLsn(trimmed), text: formatLsn(parseLsn(trimmed)) };
  const match = ISO.exec(trimmed);
  const millis = match
    ? Date.parse(trimmed.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1'))
    : Number.NaN;
  if (!match || Number.isNaN(millis)) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `"${text}" is not a restore target: give an ISO-8601 instant with a zone (2026-11-20T10:15:00Z, 2026-11-20T11:15:00.250+01:00) or an LSN (16/B374D848)`,
      { details: { target: text } },
    );
  }
  const fraction = (match[7] ?? '').padEnd(6, '0');
  const wholeSecondsMs = Math.floor(millis / 1000) * 1000;
  const us = BigInt(wholeSecondsMs) * 1000n + BigInt(fraction);
  // Round-trip check: Date.parse accepts 2026-02-30; an instant that is not on the calendar is refused.
  const [, y, mo, d, h, mi, s] = match;
  const zone = match[8] ?? 'Z';
  const offsetMinutes =
    zone === 'Z'
      ? 0
      : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  const local = new Date(wholeSecondsMs + offsetMinutes * 60_000);
  if (
    local.getUTCFullYear() !== Number(y) ||
    local.getUTCMonth() + 1 !== Number(mo) ||
    local.getUTCDate() !== Number(d) ||
    local.getUTCHours() !== Number(h) ||
    local.getUTCMinutes() !== Number(mi) ||
    local.getUTCSeconds() !== Number(s)
  ) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `"${text}" is not a real instant (check the day and time)`,
      {
        details: { target: text },
      },
    );
  }
  return { kind: 'time', us, text: formatInstant(us) };
}

export { formatInstant };
