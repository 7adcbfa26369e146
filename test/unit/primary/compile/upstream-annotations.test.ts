/**
 * The timeout, size and retry annotations in the compiler (issue 15 group 3, docs/annotations.md):
 * proxy-connect/send/read-timeout in whole seconds, proxy-body-size and client-body-buffer-size
 * in nginx's size syntax, proxy-request-buffering on/off, and proxy-next-upstream with its tries
 * and timeout, on every route of the Ingress (its default backend included); each bad value one
 * diagnostic naming the Ingress, the annotation and what is allowed, that annotation without
 * effect and the rest of the Ingress still applied.
 */
import { describe, expect, it } from 'vitest';
import { parseNginxSize } from '../../../../src/primary/compile/upstream-annotations.js';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import type { Route } from '../../../../src/shared/snapshot.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';

function compileWeb(annotations: Record<string, string>) {
  const web = ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')), path('/api', backend('web')))] });
  const other = ingress('shop/other', { rules: [rule('other.test', path('/', backend('web')))] });
  return compileAll([ingressClass(), web, other, service('shop/web')]);
}
const routesOf = (annotations: Record<string, string>, host = 'web.test'): Route[] => [...compileWeb(annotations).table.hosts.find((h) => h.host === host)!.routes];
const settings = (annotations: Record<string, string>): { upstream: Route['upstream'] | undefined; requestBody: Route['requestBody'] | undefined }[] => routesOf(annotations).map((r) => ({ upstream: r.upstream, requestBody: r.requestBody }));
const problems = (annotations: Record<string, string>): Diagnostic[] => compileWeb(annotations).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));
const invalid = (name: string, value: string, allowed: string): Diagnostic => ({
  code: 'ING_ERR_INGRESS_INVALID_ANNOTATION',
  severity: 'error',
  object: 'Ingress shop/web',
  message: `annotation ${N}${name} is "${value}", expected ${allowed}; it has no effect`,
});
const SECONDS = 'a whole number of seconds from 1 to 86400, without a unit (such as "30")';

describe('nginx sizes', () => {
  it.each<[string, boolean, number | undefined]>([
    ['0', true, 0],
    ['1048576', true, 1048576],
    ['8m', true, 8 * 1024 * 1024],
    ['8M', true, 8 * 1024 * 1024],
    ['512k', false, 512 * 1024],
    ['1g', true, 1024 ** 3],
    ['1g', false, undefined], // client_body_buffer_size is a size, not an offset: no g
    ['8mb', true, undefined],
    ['1.5m', true, undefined],
    ['-1', true, undefined],
    ['', true, undefined],
    ['8 m', true, undefined],
  ])('%s (offset %s) is %s bytes', (raw, offset, want) => {
    expect(parseNginxSize(raw, offset)).toBe(want);
  });
});

describe('timeout annotations', () => {
  it('puts the three timeouts, in milliseconds, on every route of the Ingress and no other', () => {
    const a = { [`${N}proxy-connect-timeout`]: '2', [`${N}proxy-send-timeout`]: '30', [`${N}proxy-read-timeout`]: '3600' };
    const want = { upstream: { connectTimeoutMs: 2000, sendTimeoutMs: 30_000, readTimeoutMs: 3_600_000 }, requestBody: undefined };
    expect(settings(a)).toEqual([want, want]);
    expect(problems(a)).toEqual([]);
    expect(routesOf(a, 'other.test').map((r) => r.upstream)).toEqual([undefined]);
  });

  it('leaves routes without these annotations without the fields (one property check in the worker)', () => {
    for (const r of routesOf({})) {
      expect('upstream' in r).toBe(false);
      expect('requestBody' in r).toBe(false);
    }
  });

  it.each(['0', '5s', ' 5', '1.5', '-1', '86401', 'ten'])('refuses %j, keeping the other annotations', (value) => {
    const a = { [`${N}proxy-read-timeout`]: value, [`${N}proxy-connect-timeout`]: '3' };
    expect(settings(a)[0]).toEqual({ upstream: { connectTimeoutMs: 3000 }, requestBody: undefined });
    expect(problems(a)).toEqual([invalid('proxy-read-timeout', value, SECONDS)]);
  });
});

describe('body annotations', () => {
  it.each<[string, Record<string, string>, Route['requestBody'] | undefined]>([
    ['proxy-body-size', { [`${N}proxy-body-size`]: '8m' }, { maxBytes: 8 * 1024 * 1024 }],
    ['proxy-body-size 0: no limit', { [`${N}proxy-body-size`]: '0' }, { maxBytes: 0 }],
    ['client-body-buffer-size', { [`${N}client-body-buffer-size`]: '1m' }, { bufferBytes: 1024 * 1024 }],
    ['proxy-request-buffering off', { [`${N}proxy-request-buffering`]: 'off' }, { buffering: false }],
    ['proxy-request-buffering on', { [`${N}proxy-request-buffering`]: ' on' }, { buffering: true }],
    ['all three', { [`${N}proxy-body-size`]: '2k', [`${N}client-body-buffer-size`]: '1024', [`${N}proxy-request-buffering`]: 'on' }, { maxBytes: 2048, bufferBytes: 1024, buffering: true }],
  ])('%s', (_name, a, want) => {
    expect(settings(a)).toEqual([
      { upstream: undefined, requestBody: want },
      { upstream: undefined, requestBody: want },
    ]);
    expect(problems(a)).toEqual([]);
  });

  it.each<[string, string, string]>([
    ['proxy-body-size', '8mb', 'an nginx size such as "8m", "512k", "1g" or "1048576" ("0": no limit)'],
    ['proxy-body-size', 'unlimited', 'an nginx size such as "8m", "512k", "1g" or "1048576" ("0": no limit)'],
    ['client-body-buffer-size', '1g', 'an nginx size up to 64m such as "16k", "1m" or "8192"'],
    ['client-body-buffer-size', '65m', 'an nginx size up to 64m such as "16k", "1m" or "8192"'],
    ['proxy-request-buffering', 'OFF', '"on" or "off"'],
    ['proxy-request-buffering', 'true', '"on" or "off"'],
  ])('%s %j is refused with a diagnostic and has no effect', (name, value, allowed) => {
    const a = { [`${N}${name}`]: value, [`${N}proxy-read-timeout`]: '7' };
    expect(settings(a)[0]).toEqual({ upstream: { readTimeoutMs: 7000 }, requestBody: undefined });
    expect(problems(a)).toEqual([invalid(name, value, allowed)]);
  });
});

describe('proxy-next-upstream', () => {
  const next = (a: Record<string, string>) => settings(a)[0]?.upstream?.nextUpstream;
  it.each<[string, Record<string, string>, unknown]>([
    ['conditions, the others at ingress-nginx defaults', { [`${N}proxy-next-upstream`]: 'error timeout http_502' }, { when: ['error', 'timeout', 'http_502'], nonIdempotent: false, tries: 3, timeoutMs: 0 }],
    ['non_idempotent', { [`${N}proxy-next-upstream`]: 'http_503 non_idempotent' }, { when: ['http_503'], nonIdempotent: true, tries: 3, timeoutMs: 0 }],
    ['off, anywhere, turns retries off', { [`${N}proxy-next-upstream`]: 'error off' }, { when: [], nonIdempotent: false, tries: 3, timeoutMs: 0 }],
    ['tries alone: the default conditions error timeout', { [`${N}proxy-next-upstream-tries`]: '5' }, { when: ['error', 'timeout'], nonIdempotent: false, tries: 5, timeoutMs: 0 }],
    ['tries 0: no limit', { [`${N}proxy-next-upstream-tries`]: '0' }, { when: ['error', 'timeout'], nonIdempotent: false, tries: 0, timeoutMs: 0 }],
    ['timeout in seconds', { [`${N}proxy-next-upstream-timeout`]: '10' }, { when: ['error', 'timeout'], nonIdempotent: false, tries: 3, timeoutMs: 10_000 }],
    ['every condition', { [`${N}proxy-next-upstream`]: 'http_429 http_404 http_403 http_504 http_503 http_502 http_500 invalid_header timeout error' }, { when: ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429'], nonIdempotent: false, tries: 3, timeoutMs: 0 }],
    ['none: Flusso\'s own rule', {}, undefined],
  ])('%s', (_name, a, want) => {
    expect(next(a)).toEqual(want);
    expect(problems(a)).toEqual([]);
  });

  it.each<[string, string, string]>([
    ['proxy-next-upstream', 'http_501', 'conditions separated by spaces, from error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent, off'],
    ['proxy-next-upstream', 'errortimeout', 'conditions separated by spaces, from error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent, off'],
    ['proxy-next-upstream', ' ', 'conditions separated by spaces, from error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent, off'],
    ['proxy-next-upstream-tries', '-1', 'a whole number of tries from 0 (no limit) to 1000'],
    ['proxy-next-upstream-timeout', '10s', 'a whole number of seconds from 0 (no limit) to 86400, without a unit'],
  ])('%s %j is refused with a diagnostic and has no effect', (name, value, allowed) => {
    const a = { [`${N}${name}`]: value };
    expect(next(a)).toBeUndefined();
    expect(problems(a)).toEqual([invalid(name, value, allowed)]);
  });

  it('a bad tries value leaves the valid conditions in force with the default tries', () => {
    const a = { [`${N}proxy-next-upstream`]: 'http_502', [`${N}proxy-next-upstream-tries`]: 'x' };
    expect(next(a)).toEqual({ when: ['http_502'], nonIdempotent: false, tries: 3, timeoutMs: 0 });
    expect(problems(a)).toHaveLength(1);
  });
});

describe('the default backend of an annotated Ingress', () => {
  it('gets the settings too', () => {
    const web = ingress('shop/web', { annotations: { [`${N}proxy-read-timeout`]: '9', [`${N}proxy-body-size`]: '1k' }, defaultBackend: backend('web') });
    const { table } = compileAll([ingressClass(), web, service('shop/web')]);
    expect(table.defaultBackend).toEqual(expect.objectContaining({ upstream: { readTimeoutMs: 9000 }, requestBody: { maxBytes: 1024 } }));
  });
});
