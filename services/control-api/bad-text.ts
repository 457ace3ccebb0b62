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

/**
 * Whether `text` can name someone (a tenant, a token's subject): 1 to 200 characters,
 * storable, without control characters.
 */
export function isPlainName(text: string): boolean {
  return (
    text.length > 0 &&
    text.length <= 200 &&
    textProblem(text) === undefined &&
    ![...text].some((ch) => ch.charCodeAt(0) < 0x20)
  );
}

/** A value's problem and where it is, for `details.problems`. */
export interface TextProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * The first string in `value` (object keys included, in document order) that cannot be
 * stored. `value` is parsed JSON, a query or path parameters: plain data, no cycles, but of
 * any depth, so it is walked with a stack of its own rather than by recursion.
 */
export function findBadText(value: unknown): TextProblem | undefined {
  const stack: { value: unknown; path: string }[] = [{ value, path: '' }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value: here, path } = next;
    const at = (key: string): string => (path === '' ? key : `${path}.${key}`);
    if (typeof here === 'string') {
      const message = textProblem(here);
      if (message !== undefined) return { path: path === '' ? '(root)' : path, message };
    } else if (Array.isArray(here)) {
      for (let i = here.length - 1; i >= 0; i--)
        stack.push({ value: here[i] as unknown, path: at(String(i)) });
    } else if (typeof here === 'object' && here !== null) {
      const entries: [string, unknown][] = Object.entries(here);
      for (const [key] of entries) {
        const keyProblem = textProblem(key);
        if (keyProblem !== undefined) return { path: at(key), message: `key ${keyProblem}` };
      }
      for (let i = entries.length - 1; i >= 0; i--) {
        const entry = entries[i];
        if (entry !== undefined) stack.push({ value: entry[1], path: at(entry[0]) });
      }
    }
  }
  return undefined;
}
