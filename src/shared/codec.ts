/**
 * The snapshot codec: the only module that imports msgpackr. Encoding is deterministic
 * for a deterministic input (msgpackr keeps key insertion order and we disable record
 * structures so no per-encoder state leaks into the bytes).
 */
import { Packr } from 'msgpackr';
import { IngressError } from './errors.js';
import { SNAPSHOT_VERSION, type EndpointsDelta, type RoutingSnapshot, type RoutingTable } from './snapshot.js';

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });

/** encodeSnapshot encodes a snapshot to the bytes every worker receives. */
export function encodeSnapshot(snapshot: RoutingSnapshot): Uint8Array {
  return packr.pack(snapshot);
}

/** encodeTable encodes a routing table alone; equal tables give equal bytes. */
export function encodeTable(table: RoutingTable): Uint8Array {
  return packr.pack(table);
}

/**
 * decodeSnapshot decodes and shape-checks snapshot bytes. It throws IngressError
 * ING_ERR_SNAPSHOT_DECODE or ING_ERR_SNAPSHOT_VERSION; the caller keeps its old state.
 */
export function decodeSnapshot(bytes: Uint8Array): RoutingSnapshot {
  const value = unpack(bytes, 'snapshot');
  if (!isObject(value) || typeof value.version !== 'number' || typeof value.generation !== 'number')
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'snapshot has no version or generation');
  if (value.version !== SNAPSHOT_VERSION)
    throw new IngressError('ING_ERR_SNAPSHOT_VERSION', `snapshot version ${value.version}, expected ${SNAPSHOT_VERSION}`);
  const table = value.table;
  if (!isObject(table) || !Array.isArray(table.hosts) || !Array.isArray(table.clusters))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'snapshot has no routing table');
  const overrides = value.overrides;
  if (!isObject(overrides) || !Array.isArray(overrides.drained) || !Array.isArray(overrides.weights))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'snapshot has no overrides');
  return value as unknown as RoutingSnapshot;
}

/** encodeEndpointsDelta encodes an endpoint-only change (a few hundred bytes, not the table). */
export function encodeEndpointsDelta(delta: EndpointsDelta): Uint8Array {
  return packr.pack(delta);
}

/**
 * decodeEndpointsDelta decodes and shape-checks delta bytes. It throws IngressError
 * ING_ERR_SNAPSHOT_DECODE or ING_ERR_SNAPSHOT_VERSION; the caller keeps its old state.
 */
export function decodeEndpointsDelta(bytes: Uint8Array): EndpointsDelta {
  const value = unpack(bytes, 'endpoints delta');
  if (!isObject(value) || typeof value.version !== 'number' || !Number.isInteger(value.generation) || !Number.isInteger(value.base))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'endpoints delta has no version, generation or base');
  if (value.version !== SNAPSHOT_VERSION)
    throw new IngressError('ING_ERR_SNAPSHOT_VERSION', `endpoints delta version ${value.version}, expected ${SNAPSHOT_VERSION}`);
  const clusters = value.clusters;
  if (!Array.isArray(clusters) || !clusters.every((c: unknown) => isObject(c) && typeof c.id === 'string' && Array.isArray(c.endpoints)))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'endpoints delta has malformed clusters');
  return value as unknown as EndpointsDelta;
}

/** unpack decodes msgpack bytes or throws ING_ERR_SNAPSHOT_DECODE naming `what`. */
function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes) as unknown;
  } catch (cause) {
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', `${what} bytes are not valid msgpack`, { cause });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
