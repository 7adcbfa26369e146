/**
 * docs/annotations.md and the compiler agree (issue 15): every ingress-nginx annotation Flusso
 * acts on has a row saying supported or partial, every row saying so names one it acts on, and
 * the snippet annotations are refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SUPPORTED_ANNOTATIONS } from '../../../../src/primary/compile/unsupported.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';
const doc = readFileSync(new URL('../../../../docs/annotations.md', import.meta.url), 'utf8');
/** rows maps each annotation of the big table to its status cell. */
const rows = new Map([...doc.matchAll(/^\| `([a-z0-9-]+)` \| ([^|]+) \|/gm)].map((m) => [m[1] as string, (m[2] as string).trim()]));

describe('docs/annotations.md', () => {
  it('has a row for each ingress-nginx annotation Flusso acts on, saying supported or partial', () => {
    const acted = [...SUPPORTED_ANNOTATIONS].filter((k) => k.startsWith(PREFIX)).map((k) => k.slice(PREFIX.length));
    expect(acted.filter((name) => !['**supported**', '**partial**'].includes(rows.get(name) ?? ''))).toEqual([]);
  });

  it('claims support only for annotations the compiler acts on', () => {
    const claimed = [...rows].filter(([, status]) => status === '**supported**' || status === '**partial**').map(([name]) => name);
    expect(claimed.filter((name) => !SUPPORTED_ANNOTATIONS.has(PREFIX + name))).toEqual([]);
  });

  it('refuses every snippet annotation, and lists well over a hundred annotations', () => {
    for (const name of ['configuration-snippet', 'server-snippet', 'auth-snippet', 'stream-snippet', 'modsecurity-snippet']) expect(rows.get(name), name).toBe('**refused**');
    expect(rows.size).toBeGreaterThan(140);
  });
});
