import { describe, expect, test } from 'vitest';

import { csvField } from './audit-export.js';
import { findBadText, textProblem } from './bad-text.js';

describe('bad text', () => {
  test.each([
    ['plain', undefined],
    ['é – 日本 🙂', undefined],
    ['a\u0000b', 'has a NUL character (U+0000)'],
    ['\ud800', 'has a lone surrogate (not valid Unicode)'],
    ['x\udfffy', 'has a lone surrogate (not valid Unicode)'],
  ])('%j', (text, problem) => {
    expect(textProblem(text)).toBe(problem);
  });

  test('finds the first bad string anywhere, keys included, with its path', () => {
    expect(findBadText({ a: [1, 'ok', { b: 'x\u0000' }] })).toEqual({
      path: 'a.2.b',
      message: 'has a NUL character (U+0000)',
    });
    expect(findBadText({ ok: true, ['k\ud800']: 1 })?.path).toBe('k\ud800');
    expect(findBadText('\ud800')?.path).toBe('(root)');
    expect(findBadText({ a: [null, 2, 'fine'] })).toBeUndefined();
    expect(findBadText(undefined)).toBeUndefined();
  });

  test('any depth, without recursion', () => {
    const deep: unknown = JSON.parse(`${'['.repeat(100_000)}"\\u0000"${']'.repeat(100_000)}`);
    expect(findBadText(deep)?.message).toBe('has a NUL character (U+0000)');
    const deepObject: unknown = JSON.parse(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`);
    expect(findBadText(deepObject)).toBeUndefined();
  });
});

describe('CSV fields', () => {
  test.each([
    ['plain', 'plain'],
    ['=1+1', "'=1+1"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['\rx', `"'\rx"`],
    ['=HYPERLINK("a","b")', `"'=HYPERLINK(""a"",""b"")"`],
    ['a,b', '"a,b"'],
    ['a=b', 'a=b'],
  ])('%j → %j', (value, field) => {
    expect(csvField(value)).toBe(field);
  });

  test('numbers and null are written as they are', () => {
    expect(csvField(-1)).toBe('-1');
    expect(csvField(null)).toBe('');
  });
});
