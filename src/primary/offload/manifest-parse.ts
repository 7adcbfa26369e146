/**
 * ManifestParser parses manifest files for the file source, a large one on a thread (issue 14
 * item 4). The YAML library reads about half a megabyte a second here: one Ingress with 15,000
 * paths (1.4 MiB) held the primary's event loop for 6 s, and /healthz with it. On the thread the
 * loop stays free; the objects come back as an object batch, read one text per turn of the loop.
 *
 * The thread is started for a large file and ends PARSE_IDLE_MS after its last one, so the
 * memory a big parse took (the YAML document tree is tens of times the text) goes back to the
 * system with it; its heap is bounded (PARSE_HEAP_MB), so a file too large to load fails alone
 * with a diagnostic and the file keeps its last good version.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Diagnostic } from '../../shared/errors.js';
import { fileOutcome, parseManifestFile, type ParsedManifest } from '../sources/manifests.js';
import { nextTurn } from './compile-offload.js';
import { unpackObjects, type ObjectBatch } from './object-batch.js';

/** ParseTaskInput is one file to parse on the thread, with what its earlier reads left in service. */
export interface ParseTaskInput {
  readonly name: string;
  readonly text: string;
  readonly lastGoodFile: boolean;
  /** `Kind namespace/name` of every object this file gave a version before. */
  readonly lastGoodObjects: readonly string[];
}

/** ParseTaskOutput is a ParsedManifest whose objects are an object batch. */
export type ParseTaskOutput = Omit<ParsedManifest, 'objects'> & { readonly objects: ObjectBatch };

/** ParseRunner runs one task (tests run it in-process). */
export type ParseRunner = (input: ParseTaskInput) => Promise<ParseTaskOutput>;

/** PARSE_OFFLOAD_MIN_CHARS: smaller files parse on the event loop (at most some 30 ms). */
export const PARSE_OFFLOAD_MIN_CHARS = 16 * 1024;
/** PARSE_IDLE_MS: the thread ends this long after its last task. */
const PARSE_IDLE_MS = 2000;
/** PARSE_HEAP_MB bounds the thread's heap: a 5 MiB manifest of one Ingress with 50,000 paths needs some 700 MB. */
const PARSE_HEAP_MB = 1536;

const THREAD_ENTRY = fileURLToPath(new URL('./manifest-thread.js', import.meta.url));

/** ManifestParser parses a file on the event loop or on the thread; see the module comment. */
export class ManifestParser {
  readonly #run: ParseRunner | undefined;
  readonly #minChars: number;
  #pool: Piscina | undefined;

  /** Without a runner, large files go to a piscina pool of at most one thread. */
  constructor(opts: { readonly run?: ParseRunner; readonly minChars?: number } = {}) {
    this.#run = opts.run;
    this.#minChars = opts.minChars ?? PARSE_OFFLOAD_MIN_CHARS;
  }

  /**
   * parse is parseManifestFile for the file source: `lastGoodFile` says whether the file's earlier
   * reads left anything in service, `lastGoodObjects` which objects (`Kind namespace/name`).
   * It never rejects: a file the thread cannot load is a parse failure with its diagnostic.
   */
  async parse(name: string, text: string, lastGoodFile: boolean, lastGoodObjects: ReadonlySet<string>): Promise<ParsedManifest> {
    if (text.length < this.#minChars) return parseManifestFile(name, text, { file: lastGoodFile, object: (id) => lastGoodObjects.has(`${id.kind} ${id.key}`) });
    let out: ParseTaskOutput;
    try {
      out = await this.#task({ name, text, lastGoodFile, lastGoodObjects: [...lastGoodObjects] });
    } catch (err) {
      const reason = (err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? `it needs more than ${PARSE_HEAP_MB} MB to parse` : err instanceof Error ? err.message : String(err);
      const diagnostic: Diagnostic = { code: 'ING_ERR_MANIFEST_PARSE', severity: 'error', object: 'file', message: `file cannot be loaded (${reason}); ${fileOutcome({ file: lastGoodFile }, 'loads')}`, file: name };
      return { objects: [], secrets: [], diagnostics: [diagnostic], parsed: false, rejected: [] };
    }
    return { ...out, objects: await unpackObjects(out.objects, nextTurn) };
  }

  /** close ends the thread, if one runs. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.destroy();
  }

  #task(input: ParseTaskInput): Promise<ParseTaskOutput> {
    if (this.#run !== undefined) return this.#run(input);
    this.#pool ??= new Piscina({
      filename: THREAD_ENTRY,
      name: 'parse',
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: PARSE_IDLE_MS,
      resourceLimits: { maxOldGenerationSizeMb: PARSE_HEAP_MB },
    });
    return this.#pool.run(input) as Promise<ParseTaskOutput>;
  }
}
