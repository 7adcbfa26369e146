import { describe, expect, it } from 'vitest';
import { assembleSnapshot, decodeSnapshot, decodeTable, encodeSnapshot, encodeTable } from '../../../src/shared/codec.js';
import { IngressError } from '../../../src/shared/errors.js';
import { SNAPSHOT_VERSION, type RoutingSnapshot } from '../../../src/shared/snapshot.js';

function fullSnapshot(): RoutingSnapshot {
  return {
    version: SNAPSHOT_VERSION,
    generation: 42,
    table: {
      hosts: [
        {
          host: '*',
          routes: [{ match: 'Prefix', path: '/', backend: 'default/catch:80', source: 'default/catch' }],
        },
        {
          host: '*.foo.com',
          routes: [{ match: 'Prefix', path: '/', backend: 'default/wild:http', source: 'default/wild' }],
        },
        {
          host: 'foo.bar.com',
          routes: [
            { match: 'Exact', path: '/foo/', backend: 'default/exact:8080', source: 'default/ing' },
            { match: 'Prefix', path: '/aaa/bbb', backend: 'default/prefix:8080', source: 'default/ing' },
            { match: 'Prefix', path: '/', backend: 'default/root:8080', source: 'default/ing' },
          ],
        },
      ],
      defaultBackend: { match: 'Prefix', path: '/', backend: 'default/echo:8080', source: 'default/def' },
      backends: [
        { id: 'default/catch:80', service: 'default/catch', servicePort: 80, endpoints: [], loadBalancer: 'round-robin' },
        {
          id: 'default/echo:8080',
          service: 'default/echo',
          servicePort: 8080,
          endpoints: [
            { address: '10.0.0.1', port: 8080, weight: 1, ready: true, terminating: false, zone: 'a' },
            { address: 'fd00::2', port: 8080, weight: 3, ready: false, terminating: true },
          ],
          loadBalancer: 'round-robin',
        },
        { id: 'default/wild:http', service: 'default/wild', servicePort: 'http', endpoints: [], loadBalancer: 'round-robin' },
      ],
    },
    overrides: { drained: ['default/echo:8080|10.0.0.1:8080'], weights: [['default/echo:8080|[fd00::2]:8080', 5]] },
    tls: TLS,
  };
}

const TLS = {
  defaultCertificate: { id: 'd0', certFile: '/run/flusso/tls/d0.crt', keyFile: '/run/flusso/tls/d0.key' },
  certificates: [{ id: 'a1', certFile: '/run/flusso/tls/a1.crt', keyFile: '/run/flusso/tls/a1.key' }],
  serverNames: [
    { name: '*.example.com', certificate: 'a1' },
    { name: 'example.com', certificate: 'a1' },
  ],
};

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IngressError);
    return (err as IngressError).code;
  }
  throw new Error('expected a throw');
}

describe('snapshot codec', () => {
  it('round-trips a full snapshot', () => {
    const s = fullSnapshot();
    expect(decodeSnapshot(encodeSnapshot(s))).toEqual(s);
  });

  it('refuses another schema version with ING_ERR_SNAPSHOT_VERSION', () => {
    const bytes = encodeSnapshot({ ...fullSnapshot(), version: SNAPSHOT_VERSION + 1 });
    expect(codeOf(() => decodeSnapshot(bytes))).toBe('ING_ERR_SNAPSHOT_VERSION');
  });

  it.each([
    ['an invalid msgpack byte', new Uint8Array([0xc1])],
    ['a truncated snapshot', encodeSnapshot(fullSnapshot()).subarray(0, 40)],
    ['a number', encodeTable(7 as never)],
    ['an object without a table', encodeTable({ version: SNAPSHOT_VERSION, generation: 1 } as never)],
    ['a snapshot without overrides', encodeTable({ version: SNAPSHOT_VERSION, generation: 1, table: { hosts: [], backends: [], defaultBackend: null } } as never)],
  ])('refuses %s with ING_ERR_SNAPSHOT_DECODE', (_name, bytes) => {
    expect(codeOf(() => decodeSnapshot(bytes))).toBe('ING_ERR_SNAPSHOT_DECODE');
  });

  it('encodes deterministically: equal input, equal bytes', () => {
    const a = encodeSnapshot(fullSnapshot());
    const b = encodeSnapshot(fullSnapshot());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(encodeTable(fullSnapshot().table)).equals(Buffer.from(encodeTable(fullSnapshot().table)))).toBe(true);
    const other = encodeSnapshot({ ...fullSnapshot(), generation: 43 });
    expect(Buffer.from(a).equals(Buffer.from(other))).toBe(false);
  });
});

describe('assembleSnapshot', () => {
  it.each([
    { name: 'generation 1, no overrides, no TLS', generation: 1, overrides: { drained: [], weights: [] }, tls: null },
    { name: 'generation 127 (fixint edge)', generation: 127, overrides: { drained: [], weights: [] }, tls: TLS },
    { name: 'generation 128 (uint8)', generation: 128, overrides: { drained: ['a|10.0.0.1:80'], weights: [] }, tls: null },
    { name: 'generation 65536 (uint32)', generation: 65536, overrides: { drained: [], weights: [['a|10.0.0.1:80', 3]] as [string, number][] }, tls: TLS },
    { name: 'generation 2^32 + 1 (uint64)', generation: 2 ** 32 + 1, overrides: { drained: ['x'], weights: [['y', 0]] as [string, number][] }, tls: TLS },
  ])('gives the bytes encodeSnapshot gives: $name', ({ generation, overrides, tls }) => {
    const { table } = fullSnapshot();
    const want = encodeSnapshot({ version: SNAPSHOT_VERSION, generation, table, overrides, tls });
    const got = assembleSnapshot({ version: SNAPSHOT_VERSION, generation, overrides, tls }, encodeTable(table));
    expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
    expect(decodeSnapshot(got)).toEqual({ version: SNAPSHOT_VERSION, generation, table, overrides, tls });
  });

  it('decodeTable reverses encodeTable and refuses other data', () => {
    const { table } = fullSnapshot();
    expect(decodeTable(encodeTable(table))).toEqual(table);
    expect(() => decodeTable(encodeSnapshot(fullSnapshot()))).toThrow(IngressError);
  });
});
