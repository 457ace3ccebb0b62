/**
 * The text format of COPY: one row per line, columns separated by tabs, `\N` for NULL, and
 * backslash escapes for backslash, newline, carriage return and tab inside values. Values
 * are the types' output text, the same text pgoutput sends, so rows read from a snapshot
 * and rows rebuilt from events compare as equals.
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2
 */

/** A row: each column's text, or null. */
export type CopyRow = (string | null)[];

const NULL_MARKER = '\\N';

function escapeValue(value: string): string {
  // Fast path: most values need no escaping.
  if (!/[\\\n\r\t]/.test(value)) return value;
  return value.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}

/** One line of COPY text (without the trailing newline). */
export function formatCopyRow(row: readonly (string | null)[]): string {
  let line = '';
  for (let i = 0; i < row.length; i++) {
    if (i > 0) line += '\t';
    const value = row[i];
    line += value === null || value === undefined ? NULL_MARKER : escapeValue(value);
  }
  return line;
}

const OCTAL = /^[0-7]{1,3}/;
const HEX = /^x[0-9A-Fa-f]{1,2}/;

function unescapeValue(field: string): string {
  if (!field.includes('\\')) return field;
  let out = '';
  for (let i = 0; i < field.length; i++) {
    const c = field[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = field[i + 1] ?? '';
    i += 1;
    switch (next) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      default: {
        const rest = field.slice(i);
        const octal = OCTAL.exec(rest);
        const hex = HEX.exec(rest);
        if (octal) {
          out += String.fromCharCode(parseInt(octal[0], 8));
          i += octal[0].length - 1;
        } else if (hex) {
          out += String.fromCharCode(parseInt(hex[0].slice(1), 16));
          i += hex[0].length - 1;
        } else {
          // Any other escaped character stands for itself (`\\` is a backslash).
          out += next;
        }
      }
    }
  }
  return out;
}

/** Parses one line of COPY text (without its newline). */
export function parseCopyRow(line: string): CopyRow {
  return line.split('\t').map((field) => (field === NULL_MARKER ? null : unescapeValue(field)));
}

/**
 * Splits a stream of COPY text into lines. Newlines inside values are escaped, so every
 * raw newline ends a row.
 */
export async function* copyLines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let carry = '';
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of chunks) {
    carry += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = carry.indexOf('\n'); end >= 0; end = carry.indexOf('\n', start)) {
      yield carry.slice(start, end);
      start = end + 1;
    }
    carry = carry.slice(start);
  }
  carry += decoder.decode();
  if (carry.length > 0) yield carry;
}
