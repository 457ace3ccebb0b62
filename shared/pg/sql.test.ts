import { describe, expect, it } from 'vitest';

import { quoteIdent, quoteLiteral, quoteQualified } from './sql.js';

describe('quoting', () => {
  it.each([
    ['orders', '"orders"'],
    ['Mixed Case', '"Mixed Case"'],
    ['a"b', '"a""b"'],
    ['x"; DROP TABLE t; --', '"x""; DROP TABLE t; --"'],
  ])('quotes identifier %j as %s', (name, quoted) => {
    expect(quoteIdent(name)).toBe(quoted);
  });

  it('quotes a qualified name part by part', () => {
    expect(quoteQualified('app', 'or"ders')).toBe('"app"."or""ders"');
  });

  it.each([
    ["it's", "'it''s'"],
    ['back\\slash', "'back\\slash'"],
  ])('quotes literal %j as %s', (value, quoted) => {
    expect(quoteLiteral(value)).toBe(quoted);
  });

  it('refuses empty identifiers and NUL bytes', () => {
    expect(() => quoteIdent('')).toThrow(TypeError);
    expect(() => quoteIdent('a\0b')).toThrow(TypeError);
    expect(() => quoteLiteral('a\0b')).toThrow(TypeError);
  });
});
