/**
 * Object batches: how store objects cross between the primary and its threads (issue 14 item 4).
 *
 * Not as a structured clone: cloning one Ingress with 15,000 paths takes over 100 ms of the
 * primary's event loop in one piece (V8's deserializer is slower still), and nothing can run
 * meanwhile. JSON is several times faster for this plain data, and it can be cut: a batch is a
 * list of JSON texts of at most about BATCH_WEIGHT paths or objects each, so the primary can
 * write or read one text, let the event loop run (`pause`), and go on with the next. A large
 * Ingress is cut between its paths: its head (every rule with no paths) goes first, and the
 * paths follow as pieces that name their rule.
 *
 * Pure: the caller supplies `pause`.
 */
import type { HTTPIngressPath, Ingress, KubeObject } from '../model.js';

/** ObjectBatch is a list of JSON texts; see the module comment. */
export type ObjectBatch = readonly string[];

/** BATCH_WEIGHT is the paths (or objects) per text: a few milliseconds of JSON work each. */
export const BATCH_WEIGHT = 4096;

/** Pause lets the event loop run between two texts (the primary: setImmediate; a thread: nothing). */
export type Pause = () => Promise<void>;

/** Entry is one item of a text: a whole object, or paths to append to rule `r` of the last object. */
type Entry = { readonly o: KubeObject } | { readonly r: number; readonly p: readonly HTTPIngressPath[] };

/** weightOf is what an object costs to encode: one, plus its paths for an Ingress. */
export function weightOf(obj: KubeObject): number {
  if (obj.kind !== 'Ingress') return 1;
  let n = 1;
  for (const rule of obj.spec?.rules ?? []) n += rule.http?.paths.length ?? 0;
  return n;
}

/**
 * packObjects encodes `objects` as a batch, calling `pause` after each text. The
 * objects are read before the first pause, so the batch is one consistent state even when the
 * store changes meanwhile (stored objects are replaced, never mutated).
 */
export async function packObjects(objects: Iterable<KubeObject>, pause: Pause): Promise<string[]> {
  const out: string[] = [];
  const it = texts(entriesOf([...objects]));
  // One text is written per turn of the event loop.
  for (let next = it.next(); next.done !== true; next = it.next()) {
    out.push(next.value);
    await pause();
  }
  return out;
}

/** packObjectsNow is packObjects without pauses (on a thread). */
export function packObjectsNow(objects: Iterable<KubeObject>): string[] {
  return [...texts(entriesOf([...objects]))];
}

/** unpackObjects decodes a batch, calling `pause` after each text but the last. */
export async function unpackObjects(batch: ObjectBatch, pause: Pause): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (let i = 0; i < batch.length; i++) {
    readText(batch[i] as string, out);
    if (i < batch.length - 1) await pause();
  }
  return out;
}

/** unpackObjectsNow is unpackObjects without pauses (on a thread). */
export function unpackObjectsNow(batch: ObjectBatch): KubeObject[] {
  const out: KubeObject[] = [];
  for (const text of batch) readText(text, out);
  return out;
}

/** texts cuts entries into JSON texts of about BATCH_WEIGHT each. */
function* texts(entries: readonly Entry[]): Generator<string> {
  let piece: Entry[] = [];
  let weight = 0;
  for (const e of entries) {
    const w = 'p' in e ? e.p.length : 1;
    if (weight + w > BATCH_WEIGHT && piece.length > 0) {
      yield JSON.stringify(piece);
      piece = [];
      weight = 0;
    }
    piece.push(e);
    weight += w;
  }
  if (piece.length > 0) yield JSON.stringify(piece);
}

/** entriesOf lists the entries of `objects`: a large Ingress as its head, then pieces of its paths. */
function entriesOf(objects: readonly KubeObject[]): Entry[] {
  const entries: Entry[] = [];
  for (const o of objects) {
    if (o.kind !== 'Ingress' || weightOf(o) <= BATCH_WEIGHT) {
      entries.push({ o });
      continue;
    }
    entries.push({ o: headOf(o) });
    const rules = o.spec?.rules ?? [];
    for (let r = 0; r < rules.length; r++) {
      const paths = rules[r]?.http?.paths ?? [];
      for (let at = 0; at < paths.length; at += BATCH_WEIGHT) entries.push({ r, p: paths.slice(at, at + BATCH_WEIGHT) });
    }
  }
  return entries;
}

/** headOf is an Ingress whose rules have no paths yet (the pieces bring them). */
function headOf(ing: Ingress): Ingress {
  const spec = ing.spec;
  if (spec?.rules === undefined) return ing;
  return { ...ing, spec: { ...spec, rules: spec.rules.map((rule) => (rule.http === undefined ? rule : { ...rule, http: { ...rule.http, paths: [] } })) } };
}

function readText(text: string, out: KubeObject[]): void {
  for (const e of JSON.parse(text) as Entry[]) {
    if ('o' in e) {
      out.push(e.o);
      continue;
    }
    // A piece follows its Ingress's head in the same batch; the head was built by JSON.parse, so it is ours to fill.
    const last = out[out.length - 1] as Ingress;
    const paths = last.spec?.rules?.[e.r]?.http?.paths as HTTPIngressPath[] | undefined;
    if (paths === undefined) throw new Error(`object batch: paths for rule ${e.r} follow no Ingress with that rule`);
    for (const p of e.p) paths.push(p);
  }
}
