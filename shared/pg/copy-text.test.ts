import { describe, expect, it } from 'vitest';

import { copyLines, formatCopyRow, parseCopyRow } from './copy-text.js';

describe('COPY text', () => {
  it.each([
    [['1', 'plain', null], '1\tplain\t\\N'],
    [
      ['tab\there', 'new\nline', 'back\\slash', 'cr\rhere'],
      'tab\\there\tnew\\nline\tback\\\\slash\tcr\\rhere',
    ],
    [['', null, '\\N'], '\t\\N\t\\\\N'],
    [['unicode é 漢字 🦆'], 'unicode é 漢字 🦆'],
    [[null], '\\N'],
  ])('round-trips %j', (row, line) => {
    expect(formatCopyRow(row)).toBe(line);
    expect(parseCopyRow(line)).toEqual(row);
  });

  it('reads the escapes the server may write: octal, hex, \\b \\f \\v', () => {
    expect(parseCopyRow('\\101\\x42\\b\\f\\v\\q')).toEqual(['AB\b\f\vq']);
  });

  it('splits a stream into rows across chunk and multi-byte boundaries', async () => {
    const text = Buffer.from('1\té\n2\t🦆\n3\tlast');
    async function* chunks() {
      for (let i = 0; i < text.length; i += 3) {
        await Promise.resolve();
        yield text.subarray(i, i + 3);
      }
    }
    const lines: string[] = [];
    for await (const line of copyLines(chunks())) lines.push(line);
    expect(lines).toEqual(['1\té', '2\t🦆', '3\tlast']);
  });
});
