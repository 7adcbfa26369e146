/**
 * Path normalisation: docs/bad-input.md §H (rows 130–143) and §B rows 42–44.
 * The path returned is both matched and forwarded.
 */
import { describe, expect, it } from 'vitest';
import { isValidQuery, normalizePath } from '../../../src/shared/request-path.js';

describe('normalizePath', () => {
  it.each([
    ['130 dot-dot segment', '/public/../admin', '/admin'],
    ['131 encoded dots', '/public/%2e%2e/admin', '/admin'],
    ['131 mixed encoded dot', '/public/.%2e/admin', '/admin'],
    ['131 upper-case escape', '/public/%2E%2E/admin', '/admin'],
    ['132 double encoding decodes once', '/public/%252e%252e/admin', '/public/%252e%252e/admin'],
    ['133 %2F is not a separator', '/public%2Fadmin', '/public%2Fadmin'],
    ['133 ..%2f is not a dot segment', '/public/..%2fadmin', '/public/..%2fadmin'],
    ['134 slashes are not merged', '//admin', '//admin'],
    ['134 empty segments survive dot removal', '/public//..//admin', '/public//admin'],
    ['135 backslash is an ordinary character', '/public\\..\\admin', '/public\\..\\admin'],
    ['136 ; segments are segments', '/public;/../admin', '/admin'],
    ['136 ; parameter kept', '/admin;jsessionid=x', '/admin;jsessionid=x'],
    ['137 overlong UTF-8 stays encoded', '/%c0%ae%c0%ae/admin', '/%c0%ae%c0%ae/admin'],
    ['138 case is kept', '/ADMIN', '/ADMIN'],
    ['141 trailing dot segment', '/foo/.', '/foo/'],
    ['141 trailing dot-dot segment', '/foo/bar/..', '/foo/'],
    ['142 %3F is not a query separator', '/a%3Fb', '/a%3Fb'],
    ['dot-dot above the root', '/../../a', '/a'],
    ['only dot-dot', '/..', '/'],
    ['single dot in the middle', '/a/./b', '/a/b'],
    ['three dots are a name', '/a/.../b', '/a/.../b'],
    ['dotfile is a name', '/a/.well-known/x', '/a/.well-known/x'],
    ['unreserved escapes decode', '/%41%62%7e%2D%5f%30', '/Ab~-_0'],
    ['reserved and non-ASCII escapes stay', '/%20%25%00%C3%A9%2f', '/%20%25%00%C3%A9%2f'],
    ['root', '/', '/'],
  ])('%s: %s → %s', (_name, input, want) => {
    expect(normalizePath(input)).toBe(want);
  });

  it.each([
    ['no leading slash', 'admin'],
    ['empty', ''],
    ['asterisk-form', '*'],
    ['absolute-form', 'http://a/x'],
    ['42 fragment', '/a#frag'],
    ['43 raw non-ASCII', '/\u00e9'],
    ['44 raw NUL', '/a\u0000b'],
    ['control byte', '/a\u0001'],
    ['DEL', '/a\u007f'],
    ['space', '/a b'],
    ['truncated escape', '/a%2'],
    ['bare percent', '/a%'],
    ['non-hex escape', '/a%zz'],
    ['half-hex escape', '/a%4g'],
  ])('refuses %s', (_name, input) => {
    expect(normalizePath(input)).toBeNull();
  });

  it('returns the same string when nothing changes', () => {
    const clean = '/api/v1/items-42_x~y';
    expect(normalizePath(clean)).toBe(clean);
  });

  it('is linear: 10,000 segments and a long path', () => {
    const many = '/a'.repeat(10_000) + '/..'.repeat(9_999);
    expect(normalizePath(many)).toBe('/a/');
    const long = '/' + 'x'.repeat(100_000) + '/%2e%2e/y';
    expect(normalizePath(long)).toBe('/y');
  });
});

describe('isValidQuery', () => {
  it.each([
    ['', true],
    ['a=1&b=2', true],
    ['next=/../admin', true], // the query is not normalised (row 142)
    ['a=%20', true],
    ['a=1#f', false],
    ['a= 1', false],
    ['a=\u00e9', false],
    ['a=\u0000', false],
  ])('%j → %s', (q, want) => expect(isValidQuery(q)).toBe(want));
});
