/** The EndpointsDelta codec: round trip and shape checks. */
import { describe, expect, it } from 'vitest';
import { decodeEndpointsDelta, encodeEndpointsDelta, encodeTable } from '../../../src/shared/codec.js';
import { IngressError } from '../../../src/shared/errors.js';
import { SNAPSHOT_VERSION, type EndpointsDelta } from '../../../src/shared/snapshot.js';

const delta: EndpointsDelta = {
  version: SNAPSHOT_VERSION,
  generation: 8,
  base: 7,
  backends: [
    { id: 'ns/a:80', endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1, ready: true, terminating: false, zone: 'z1' }, { address: 'fd00::2', port: 8080, weight: 1, ready: false, terminating: true }] },
    { id: 'ns/b:http', endpoints: [] },
  ],
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof IngressError ? err.code : 'not an IngressError';
  }
  return undefined;
}

describe('endpoints delta codec', () => {
  it('round-trips a delta', () => {
    expect(decodeEndpointsDelta(encodeEndpointsDelta(delta))).toEqual(delta);
  });

  it('refuses another schema version with ING_ERR_SNAPSHOT_VERSION', () => {
    expect(codeOf(() => decodeEndpointsDelta(encodeEndpointsDelta({ ...delta, version: SNAPSHOT_VERSION + 1 })))).toBe('ING_ERR_SNAPSHOT_VERSION');
  });

  it.each([
    ['an invalid msgpack byte', new Uint8Array([0xc1])],
    ['a number', encodeTable(7 as never)],
    ['a delta without a base', encodeTable({ version: SNAPSHOT_VERSION, generation: 2, backends: [] } as never)],
    ['a delta without backends', encodeTable({ version: SNAPSHOT_VERSION, generation: 2, base: 1 } as never)],
    ['a backend without endpoints', encodeTable({ version: SNAPSHOT_VERSION, generation: 2, base: 1, backends: [{ id: 'x' }] } as never)],
    ['a backend without an id', encodeTable({ version: SNAPSHOT_VERSION, generation: 2, base: 1, backends: [{ endpoints: [] }] } as never)],
  ])('refuses %s with ING_ERR_SNAPSHOT_DECODE', (_name, bytes) => {
    expect(codeOf(() => decodeEndpointsDelta(bytes))).toBe('ING_ERR_SNAPSHOT_DECODE');
  });
});
