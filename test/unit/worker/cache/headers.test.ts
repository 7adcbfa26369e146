import { describe, expect, it } from 'vitest';
import { headerValue, parseHttpDate, splitList } from '../../../../src/worker/cache/headers.js';
import { stripHopByHop } from '../../../../src/worker/cache/hop-by-hop.js';

const MS = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  it.each([
    { v: 'Sun, 06 Nov 1994 08:49:37 GMT', want: MS },
    { v: 'Sunday, 06-Nov-94 08:49:37 GMT', want: MS },
    { v: 'Sun Nov  6 08:49:37 1994', want: MS },
    { v: '0', want: null },
    { v: '-1', want: null },
    { v: '2026-11-26', want: null },
    { v: 'yesterday', want: null },
    { v: undefined, want: null },
  ])('$v → $want', ({ v, want }) => {
    expect(parseHttpDate(v)).toBe(want);
  });
});

describe('headerValue', () => {
  it.each([
    { name: 'pairs, case-insensitive, duplicates combined', h: [['Vary', 'a'], ['vary', 'b']] as [string, string][], want: 'a, b' },
    { name: 'record array', h: { vary: ['a', 'b'] }, want: 'a, b' },
    { name: 'record empty array', h: { vary: [] as string[] }, want: undefined },
    { name: 'absent', h: [] as [string, string][], want: undefined },
  ])('$name', ({ h, want }) => {
    expect(headerValue(h, 'vary')).toBe(want);
  });
});

describe('splitList', () => {
  it.each([
    { v: 'a, b,,c ', want: ['a', 'b', 'c'] },
    { v: '"x,y", z', want: ['"x,y"', 'z'] },
    { v: '"a\\",b", c', want: ['"a\\",b"', 'c'] },
  ])('$v', ({ v, want }) => {
    expect(splitList(v)).toEqual(want);
  });
});

describe('stripHopByHop (row 162)', () => {
  // Names keep their case, so a cache HIT replays them as the MISS forwarded them (issue 16 item 7).
  it('drops hop-by-hop fields and those Connection lists, in any case, and keeps the names as written', () => {
    expect(stripHopByHop([['Connection', 'close, X-Secret'], ['x-secret', '1'], ['TE', 'trailers'], ['Upgrade', 'h2c'], ['Proxy-Authenticate', 'Basic'], ['Content-Type', 'text/plain'], ['x-LOWER', 'a']]))
      .toEqual([['Content-Type', 'text/plain'], ['x-LOWER', 'a']]);
  });
});
