/**
 * Snapshot broadcast: stamp a compiled RoutingTable with the schema version and the next
 * generation, encode it ONCE with msgpackr, and hand the same bytes to every worker. A table
 * that encodes to the same bytes as the last one (and unchanged overrides) is not re-sent.
 *
 * The table is encoded once per publish: the snapshot's bytes are assembled around the
 * table's bytes (codec assembleSnapshot), and a table compiled off the event loop arrives
 * already encoded (publishEncoded), its objects decoded only if someone asks for them.
 *
 * An endpoint-only change goes out as a small EndpointsDelta instead, under its own
 * generation (generations are monotonic across both kinds). The broadcaster remembers the
 * table the delta produced; the full snapshot of it is encoded only when a worker needs one
 * (an init, or a worker that cannot take the delta), so the delta path never encodes the table.
 */
import { assembleSnapshot, encodeEndpointsDelta, encodeTable } from '../shared/codec.js';
import { NO_OVERRIDES, SNAPSHOT_VERSION, type Backend, type Overrides, type RoutingTable, type TlsSnapshot } from '../shared/snapshot.js';

/** PublishResult says what publish did. */
export interface PublishResult {
  readonly changed: boolean;
  readonly generation: number;
  readonly bytes: number;
}

/** SnapshotSink receives encoded snapshots (the WorkerPool's publish). */
export type SnapshotSink = (snapshot: Uint8Array, generation: number) => void;

/**
 * DeltaSink receives an encoded EndpointsDelta for `generation` (its base is `generation - 1`)
 * and a function that encodes the full snapshot of `generation`, for workers that need it.
 */
export type DeltaSink = (delta: Uint8Array, generation: number, snapshot: () => Uint8Array) => void;

/** SnapshotBroadcaster turns tables into generations of encoded snapshots and deltas. */
export class SnapshotBroadcaster {
  readonly #sink: SnapshotSink;
  readonly #deltaSink: DeltaSink | undefined;
  #generation = 0;
  /** The current table, or how to get it (decoding is deferred for tables that came encoded). */
  #table: RoutingTable | (() => RoutingTable) | null = null;
  /** Encoded current table; null after a delta until a full publish needs it. */
  #tableBytes: Uint8Array | null = null;
  #overrides: Overrides = NO_OVERRIDES;
  /** The HTTPS certificates; a new object means a change (the TLS manager keeps it while nothing changed). */
  #tls: TlsSnapshot | null = null;
  /** Encoded snapshot of #generation; null until someone needs it. */
  #snapshotBytes: Uint8Array | null = null;
  #lastSize = 0;

  /** Without a delta sink, endpoint changes go out as full snapshots. */
  constructor(sink: SnapshotSink, deltaSink?: DeltaSink) {
    this.#sink = sink;
    this.#deltaSink = deltaSink;
  }

  /** generation is the newest generation published (0 before the first). */
  get generation(): number {
    return this.#generation;
  }

  /** publish sends a new generation unless table, overrides and TLS equal the last ones. */
  publish(table: RoutingTable, overrides: Overrides = this.#overrides, tls: TlsSnapshot | null = this.#tls): PublishResult {
    return this.publishEncoded(encodeTable(table), table, overrides, tls);
  }

  /**
   * publishEncoded is publish for a table already encoded with encodeTable; `table` is the
   * table itself or a function that produces it (called at most once, and only when an
   * endpoints delta or `table` needs the objects).
   */
  publishEncoded(tableBytes: Uint8Array, table: RoutingTable | (() => RoutingTable), overrides: Overrides = this.#overrides, tls: TlsSnapshot | null = this.#tls): PublishResult {
    if (this.#table !== null && overrides === this.#overrides && tls === this.#tls && Buffer.compare(tableBytes, this.#currentTableBytes()) === 0)
      return { changed: false, generation: this.#generation, bytes: this.#lastSize };
    const generation = this.#generation + 1;
    const bytes = assembleSnapshot({ version: SNAPSHOT_VERSION, generation, overrides, tls }, tableBytes);
    this.#generation = generation;
    this.#table = table;
    this.#tableBytes = tableBytes;
    this.#overrides = overrides;
    this.#tls = tls;
    this.#snapshotBytes = bytes;
    this.#lastSize = bytes.byteLength;
    this.#sink(bytes, generation);
    return { changed: true, generation, bytes: bytes.byteLength };
  }

  /** publishOverrides sends the current table with new overrides (nothing before the first publish). */
  publishOverrides(overrides: Overrides): PublishResult {
    if (this.#table === null) return { changed: false, generation: this.#generation, bytes: 0 };
    return this.publishEncoded(this.#currentTableBytes(), this.#table, overrides);
  }

  /** publishTls sends the current table with new TLS certificates (before the first publish it only keeps them). */
  publishTls(tls: TlsSnapshot | null): PublishResult {
    if (this.#table === null) {
      this.#tls = tls;
      return { changed: false, generation: this.#generation, bytes: 0 };
    }
    return this.publishEncoded(this.#currentTableBytes(), this.#table, this.#overrides, tls);
  }

  /** tls is the TLS part of the current generation. */
  get tls(): TlsSnapshot | null {
    return this.#tls;
  }

  /**
   * publishEndpoints sends `changed` (backends of `table` whose endpoints alone changed since
   * the last published table) as a delta under a new generation, and makes `table` current.
   * Nothing is sent when `changed` is empty.
   */
  publishEndpoints(table: RoutingTable, changed: readonly Backend[]): PublishResult {
    if (changed.length === 0) return { changed: false, generation: this.#generation, bytes: 0 };
    if (this.#deltaSink === undefined || this.#table === null) return this.publish(table);
    const generation = this.#generation + 1;
    const bytes = encodeEndpointsDelta({
      version: SNAPSHOT_VERSION,
      generation,
      base: this.#generation,
      backends: changed.map((c) => ({ id: c.id, endpoints: c.endpoints })),
    });
    this.#generation = generation;
    this.#table = table;
    this.#tableBytes = null;
    this.#snapshotBytes = null;
    this.#deltaSink(bytes, generation, () => this.snapshot());
    return { changed: true, generation, bytes: bytes.byteLength };
  }

  /** table is the current table (null before the first publish); a deferred one is decoded now. */
  get table(): RoutingTable | null {
    if (typeof this.#table === 'function') this.#table = this.#table();
    return this.#table;
  }

  /** snapshot is the full snapshot of the current generation, encoded on first use. */
  snapshot(): Uint8Array {
    if (this.#table === null) throw new Error('SnapshotBroadcaster.snapshot before the first publish');
    if (this.#snapshotBytes === null) {
      this.#snapshotBytes = assembleSnapshot({ version: SNAPSHOT_VERSION, generation: this.#generation, overrides: this.#overrides, tls: this.#tls }, this.#currentTableBytes());
      this.#lastSize = this.#snapshotBytes.byteLength;
    }
    return this.#snapshotBytes;
  }

  #currentTableBytes(): Uint8Array {
    this.#tableBytes ??= encodeTable(this.table as RoutingTable);
    return this.#tableBytes;
  }
}
