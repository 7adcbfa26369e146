/**
 * Bounded diagnostics (issue 14 item 5): user text is cut to documented bounds, and one object
 * lists at most MAX_PER_OBJECT diagnostics of one code, then one that counts the rest.
 */
import { describe, expect, it } from 'vitest';
import { boundDiagnostic, boundDiagnostics, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, MAX_PER_OBJECT, MAX_QUOTED_CHARS, quoteValue, truncateText } from '../../../src/primary/diagnostics.js';
import type { Diagnostic } from '../../../src/shared/errors.js';
import { quote } from '../../../src/primary/compile/context.js';

const diag = (object: string, message: string, code: Diagnostic['code'] = 'ING_ERR_INGRESS_CONFLICT'): Diagnostic => ({ code, severity: 'error', object, message });

describe('bounded diagnostics', () => {
  it.each([
    { name: 'short text stays', text: 'abc', max: 5, want: 'abc' },
    { name: 'long text is cut and says how much', text: 'abcdefgh', max: 5, want: 'abcde… (3 more characters)' },
    { name: 'never ends on half a surrogate pair', text: 'abcd😀xyz', max: 5, want: 'abcd… (5 more characters)' },
  ])('truncateText: $name', ({ text, max, want }) => {
    expect(truncateText(text, max)).toBe(want);
  });

  it('quotes a 1 MiB value as its first MAX_QUOTED_CHARS characters, as the compiler does', () => {
    const huge = 'x'.repeat(1 << 20);
    const want = `"${'x'.repeat(MAX_QUOTED_CHARS)}"… (${(1 << 20) - MAX_QUOTED_CHARS} more characters)`;
    expect(quoteValue(huge)).toBe(want);
    expect(quote(huge)).toBe(want);
    expect(quoteValue('a\nb')).toBe('"a\\nb"');
  });

  it('bounds the message, object and file of one diagnostic', () => {
    const d = boundDiagnostic({ ...diag('o'.repeat(5000), 'm'.repeat(5000)), file: 'f'.repeat(5000) });
    expect(d.message.startsWith('m'.repeat(MAX_MESSAGE_CHARS))).toBe(true);
    expect(d.message.length).toBeLessThan(MAX_MESSAGE_CHARS + 40);
    expect(d.object.length).toBeLessThan(MAX_NAME_CHARS + 40);
    expect(d.file?.length).toBeLessThan(MAX_NAME_CHARS + 40);
    const small = diag('Ingress a/b', 'fine');
    expect(boundDiagnostic(small)).toBe(small);
  });

  it('lists at most MAX_PER_OBJECT of one code per object, then one that counts the rest, in place', () => {
    const list: Diagnostic[] = [diag('Ingress a/first', 'one')];
    for (let i = 0; i < MAX_PER_OBJECT + 30; i++) list.push(diag('Ingress a/big', `path /p-${i} conflicts`));
    list.push(diag('Ingress a/big', 'no endpoints', 'ING_ERR_NO_ENDPOINTS'));
    list.push(diag('Ingress a/last', 'two'));
    const out = boundDiagnostics(list);
    expect(out).toHaveLength(1 + MAX_PER_OBJECT + 1 + 2);
    expect(out.slice(1, 1 + MAX_PER_OBJECT).map((d) => d.message)).toEqual(list.slice(1, 1 + MAX_PER_OBJECT).map((d) => d.message));
    expect(out[1 + MAX_PER_OBJECT]).toEqual(diag('Ingress a/big', `… and 30 more ING_ERR_INGRESS_CONFLICT diagnostics for Ingress a/big, not listed (at most ${MAX_PER_OBJECT} of one code per object)`));
    expect(out.slice(-2).map((d) => d.message)).toEqual(['no endpoints', 'two']);
  });
});
