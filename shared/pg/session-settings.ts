/**
 * Settings every Backtrack connection runs with, so that a value's text is the same from
 * every session: pgoutput in the walsender, COPY of a snapshot, the read-back that verifies
 * a restore. timestamptz text follows TimeZone, dates DateStyle, intervals IntervalStyle;
 * the rest are pinned to their defaults against a server or role configured otherwise.
 */
const SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO,MDY',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
  bytea_output: 'hex',
  client_encoding: 'UTF8',
};

/**
 * The connection string and startup options to connect with: the string's own `options`
 * (e.g. a per-connection wal_sender_timeout) and then ours, which win where both set one.
 * The string loses its `options` parameter because pg lets it override the explicit one.
 */
export function connectionSettings(url: string): { connectionString: string; options: string } {
  const ours = Object.entries(SETTINGS)
    .map(([name, value]) => `-c ${name}=${value.replace(/ /g, '\\ ')}`)
    .join(' ');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url, options: ours };
  }
  const existing = parsed.searchParams.get('options');
  parsed.searchParams.delete('options');
  return { connectionString: parsed.toString(), options: existing ? `${existing} ${ours}` : ours };
}
