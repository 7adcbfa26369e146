import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, IngressError } from '../../../src/shared/errors.js';

describe('error codes', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.keys(ErrorCodes))('%s has a line in docs/errors.md', (code) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${code}\` \\|`, 'm'));
  });

  it('docs/errors.md lists no code the table lacks', () => {
    const documented = [...doc.matchAll(/^\| `(ING_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.filter((c) => !(c! in ErrorCodes))).toEqual([]);
  });

  it('IngressError carries its code and cause', () => {
    const cause = new Error('boom');
    const err = new IngressError('ING_ERR_CONFIG_INVALID', 'bad', { cause });
    expect([err.code, err.message, err.cause, err.name]).toEqual(['ING_ERR_CONFIG_INVALID', 'bad', cause, 'IngressError']);
  });
});
