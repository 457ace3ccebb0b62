/**
 * Text Postgres cannot store, refused at the edge (DESIGN §2.7): a NUL character (text and
 * jsonb reject U+0000) and a lone surrogate (UTF-16 that is not Unicode; it would be stored
 * as U+FFFD, a different value than the one sent). Both answer 400 (401 in a token) instead
 * of reaching SQL as a 500.
 */

/** Why `text` cannot be stored, or undefined when it can. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'has a NUL character (U+0000)';
  if (!text.isWellFormed()) return 'has a lone surrogate (not valid Unicode)';
  return undefined;
}

/** A value's problem and where it is, for `details.problems`. */
export interface TextProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * The first string in `value` (object keys included, depth first) that cannot be stored.
 * `value` is parsed JSON, a query or path parameters: plain data, no cycles.
 */
export function findBadText(value: unknown, path = ''): TextProblem | undefined {
  const here = path === '' ? '(root)' : path;
  if (typeof value === 'string') {
    const message = textProblem(value);
    return message === undefined ? undefined : { path: here, message };
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findBadText(item, path === '' ? String(i) : `${path}.${i}`);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const keyProblem = textProblem(key);
      const at = path === '' ? key : `${path}.${key}`;
      if (keyProblem !== undefined) return { path: at, message: `key ${keyProblem}` };
      const found = findBadText(item, at);
      if (found) return found;
    }
  }
  return undefined;
}
