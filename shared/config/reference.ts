/**
 * Renders the configuration reference (a Markdown table) from the schema, so the README
 * cannot drift from what `loadConfig` accepts: a unit test compares the two.
 */
import type { z } from 'zod';

import { configSchema } from './schema.js';

/** The value a field takes when its variable is unset, as text ('' when it has none). */
function defaultOf(field: z.ZodType): string {
  const parsed = field.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return '';
  const value: unknown = parsed.data;
  if (Array.isArray(value)) return value.join(',');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The Markdown table of every variable: name, default, meaning. */
export function renderConfigReference(): string {
  const rows = Object.entries(configSchema.shape).map(([name, field]) => {
    const description = (field.description ?? '').replace(/\|/g, '\\|');
    const fallback = defaultOf(field);
    return `| \`${name}\` | ${fallback === '' ? '' : `\`${fallback}\``} | ${description} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
