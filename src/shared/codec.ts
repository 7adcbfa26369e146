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

/** SnapshotHead is a RoutingSnapshot without its table. */
export type SnapshotHead = Omit<RoutingSnapshot, 'table'>;

/**
 * assembleSnapshot builds the bytes encodeSnapshot would give for `head` plus the table that
 * `tableBytes` (from encodeTable) encodes, without encoding the table again: a msgpack map is
 * its header followed by key, value pairs, so the table's bytes are spliced in as they are.
 * The key order is that of RoutingSnapshot literals (version, generation, table, overrides, tls).
 */
export function assembleSnapshot(head: SnapshotHead, tableBytes: Uint8Array): Uint8Array {
  const start = packr.pack({ version: head.version, generation: head.generation });
  const parts = [start, packr.pack('table'), tableBytes, packr.pack('overrides'), packr.pack(head.overrides), packr.pack('tls'), packr.pack(head.tls)];
  let size = 0;
  for (const part of parts) size += part.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  // Make the 2-entry map header say 5: msgpackr writes maps as map16 (0xde, then the count).
  if (out[0] === 0xde && out[1] === 0 && out[2] === 2) out[2] = 5;
  else if (out[0] === 0x82) out[0] = 0x85;
  else throw new Error('assembleSnapshot: unexpected msgpack map header');
  return out;
}

/**
 * decodeTable decodes encodeTable bytes that this process (or its compile thread) produced.
 * It throws IngressError ING_ERR_SNAPSHOT_DECODE when they are not a routing table.
 */
export function decodeTable(bytes: Uint8Array): RoutingTable {
  const table = unpack(bytes, 'routing table');
  if (!isObject(table) || !Array.isArray(table.hosts) || !Array.isArray(table.backends))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'bytes hold no routing table');
  return table as unknown as RoutingTable;
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
  if (!isObject(table) || !Array.isArray(table.hosts) || !Array.isArray(table.backends))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'snapshot has no routing table');
  const overrides = value.overrides;
  if (!isObject(overrides) || !Array.isArray(overrides.drained) || !Array.isArray(overrides.weights))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'snapshot has no overrides');
  const tls = value.tls;
  if (tls !== null && (!isObject(tls) || !isObject(tls.defaultCertificate) || !Array.isArray(tls.certificates) || !Array.isArray(tls.serverNames)))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'snapshot has a malformed tls part');
  return value as unknown as RoutingSnapshot;
}

/**
 * encodeValue encodes plain data (no snapshot contract) for the primary's compile thread;
 * decodeValue reverses it. Both throw like the snapshot functions on bad bytes.
 */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** decodeValue decodes encodeValue bytes; the caller validates the shape. */
export function decodeValue(bytes: Uint8Array): unknown {
  return unpack(bytes, 'value');
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
  const backends = value.backends;
  if (!Array.isArray(backends) || !backends.every((c: unknown) => isObject(c) && typeof c.id === 'string' && Array.isArray(c.endpoints)))
    throw new IngressError('ING_ERR_SNAPSHOT_DECODE', 'endpoints delta has malformed backends');
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
