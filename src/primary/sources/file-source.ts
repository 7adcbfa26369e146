/**
 * The file source: a directory of Kubernetes manifests, watched for changes. It keeps the
 * last good state of every file and object, so that a half-saved or broken file never takes
 * routes away; the problems surface as diagnostics instead. A large file is parsed on a thread
 * (offload/manifest-parse.ts), so that the event loop stays free meanwhile (issue 14).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { IngressError, type Diagnostic } from '../../shared/errors.js';
import { keyOf, type KubeObject, type TlsSecret } from '../model.js';
import { SecretStore } from '../secrets.js';
import { ObjectStore, sliceService } from '../store.js';
import { objectKey } from '../../shared/keys.js';
import { ManifestParser } from '../offload/manifest-parse.js';
import { fileOutcome, type LastGood } from './manifests.js';
import { mergeManifests } from './merge-manifests.js';
import type { Source, SourceChange, SourceUpdate, WatchHealth } from './source.js';

/** FileSourceOptions configures a FileSource. */
export interface FileSourceOptions {
  /** The manifests directory; only its top level is read. */
  readonly dir: string;
  readonly log: Logger;
  /** Quiet time after the last change before reloading; a burst of changes waits at most 5× this. Default 100. */
  readonly debounceMs?: number;
  /** Parses files (a large one off the event loop); default: a ManifestParser of this source's own. */
  readonly parser?: ManifestParser;
}

/** What one file produced the last time it was read. */
interface FileState {
  /** The text read, or undefined when the read failed. */
  readonly text: string | undefined;
  readonly objects: readonly KubeObject[];
  readonly secrets: readonly TlsSecret[];
  readonly diagnostics: readonly Diagnostic[];
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
const MAX_DELAY_FACTOR = 5;

/**
 * FileSource reads every `*.yaml`, `*.yml` and `*.json` file of a directory (sorted by name,
 * dotfiles skipped) into an ObjectStore, and reloads on change. Files are read through
 * symlinks, so a mounted ConfigMap (whose files are links swapped atomically) works.
 */
export class FileSource implements Source {
  /** name identifies the source kind in logs and the GUI. */
  readonly name = 'file';
  readonly #dir: string;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #parser: ManifestParser;
  readonly #store = new ObjectStore();
  readonly #secrets = new SecretStore();
  #files = new Map<string, FileState>();
  /** The merged objects of the last load by `Kind namespace/name`. */
  #objects = new Map<string, KubeObject>();
  #diagnosticKeys = new Set<string>();
  /** The file of each object (and Secret) in service, by `Kind namespace/name`. */
  #fileOf = new Map<string, string>();
  readonly #fileOfObject = (object: string): string | undefined => this.#fileOf.get(object);
  #onUpdate: ((u: SourceUpdate) => void) | undefined;
  #watcher: FSWatcher | undefined;
  #watchFailed = false;
  #timer: NodeJS.Timeout | undefined;
  #pendingSinceMs: number | undefined;
  #loading: Promise<void> | undefined;
  #reloadAgain = false;
  #stopped = false;

  constructor(opts: FileSourceOptions) {
    const debounceMs = opts.debounceMs ?? 100;
    if (typeof opts.dir !== 'string' || opts.dir === '')
      throw new IngressError('ING_ERR_CONFIG_INVALID', 'the manifests directory must be a non-empty path');
    if (!Number.isFinite(debounceMs) || debounceMs < 0)
      throw new IngressError('ING_ERR_CONFIG_INVALID', `debounceMs must be a finite number >= 0, got ${debounceMs}`);
    this.#dir = opts.dir;
    this.#log = opts.log;
    this.#debounceMs = debounceMs;
    this.#parser = opts.parser ?? new ManifestParser();
  }

  /**
   * start loads the directory once, calls onUpdate with the result, then watches for changes.
   * It throws ING_ERR_CONFIG_INVALID when the directory does not exist.
   */
  async start(onUpdate: (u: SourceUpdate) => void): Promise<void> {
    if (this.#onUpdate !== undefined) throw new IngressError('ING_ERR_CONFIG_INVALID', 'FileSource started twice');
    try {
      if (!(await stat(this.#dir)).isDirectory()) throw new Error('not a directory');
    } catch (cause) {
      throw new IngressError('ING_ERR_CONFIG_INVALID', `manifests directory ${this.#dir} does not exist or is not a directory`, { cause });
    }
    this.#onUpdate = onUpdate;
    // Watch before the first read, so that a change made during it is not missed.
    try {
      this.#watcher = watch(this.#dir, () => this.#schedule());
    } catch (cause) {
      throw new IngressError('ING_ERR_CONFIG_INVALID', `manifests directory ${this.#dir} cannot be watched`, { cause });
    }
    this.#watcher.on('error', (err) => {
      this.#watchFailed = true;
      this.#log.error({ err, dir: this.#dir }, 'manifests watch failed');
    });
    const first = this.#load(true);
    this.#loading = first;
    try {
      await first;
    } catch (err) {
      this.#close();
      throw err;
    } finally {
      this.#loading = undefined;
    }
    if (this.#reloadAgain) this.#flush();
  }

  /** health reports the directory watch: up while the watcher runs. */
  health(): readonly WatchHealth[] {
    return [{ watch: 'directory', up: this.#watcher !== undefined && !this.#watchFailed }];
  }

  /** stop closes the watcher and timers and waits for a reload in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#close();
    await this.#loading;
    await this.#parser.close();
  }

  #close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** #schedule debounces watch events: wait for a quiet holdoff, but never past the max delay. */
  #schedule(): void {
    if (this.#stopped) return;
    const nowMs = performance.now();
    this.#pendingSinceMs ??= nowMs;
    const deadlineMs = this.#pendingSinceMs + this.#debounceMs * MAX_DELAY_FACTOR;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, Math.min(this.#debounceMs, deadlineMs - nowMs)));
  }

  #flush(): void {
    this.#timer = undefined;
    this.#pendingSinceMs = undefined;
    if (this.#stopped) return;
    if (this.#loading !== undefined) {
      this.#reloadAgain = true;
      return;
    }
    this.#reloadAgain = false;
    this.#loading = this.#load(false)
      .catch((err: unknown) => this.#log.error({ err, dir: this.#dir }, 'manifests reload failed'))
      .finally(() => {
        this.#loading = undefined;
        if (this.#reloadAgain) this.#flush();
      });
  }

  async #load(first: boolean): Promise<void> {
    const next = new Map<string, FileState>();
    for (const name of await this.#list()) {
      const state = await this.#read(name);
      if (state !== undefined) next.set(name, state);
    }
    if (this.#stopped) return;
    this.#files = next;
    const merged = mergeManifests([...next].map(([name, state]) => ({ name, ...state })));
    this.#fileOf = merged.fileOf;
    const changes = this.#apply(merged.byId);
    for (const key of this.#secrets.replaceAll(mergeSecrets(next, merged.diagnostics, merged.fileOf))) changes.push({ kind: 'Secret', key });
    const changed = changes.length > 0;
    const keys = new Set<string>();
    for (const d of merged.diagnostics) {
      const key = diagnosticKey(d);
      if (!this.#diagnosticKeys.has(key) && !keys.has(key))
        this.#log.warn({ code: d.code, file: d.file, object: d.object, reason: d.message }, 'manifest problem');
      keys.add(key);
    }
    const diagnosticsChanged = keys.size !== this.#diagnosticKeys.size || [...keys].some((k) => !this.#diagnosticKeys.has(k));
    this.#diagnosticKeys = keys;
    if (!first && !changed && !diagnosticsChanged) return;
    this.#log.info({ files: next.size, objects: this.#store.size, problems: merged.diagnostics.length }, 'manifests loaded');
    try {
      // The first load is everything; later ones say what changed, so that an endpoint-only
      // edit becomes an endpoints delta and the compile thread gets only the changed objects.
      const update = { view: this.#store, secrets: this.#secrets, diagnostics: merged.diagnostics, fileOf: this.#fileOfObject };
      this.#onUpdate?.(first ? update : { ...update, changes });
    } catch (err) {
      // A failing consumer must not kill the watcher; the first load reports it to start().
      if (first) throw err;
      this.#log.error({ err }, 'manifests update handler failed');
    }
  }

  /**
   * #apply makes the store hold exactly `next` and returns what changed. Objects of files that
   * were not re-read are the same instances as last time, so only edited files cost a compare.
   */
  #apply(next: Map<string, KubeObject>): SourceChange[] {
    const changes: SourceChange[] = [];
    const store = this.#store;
    for (const [id, old] of this.#objects) {
      if (next.has(id)) continue;
      const key = keyOf(old);
      const services = old.kind === 'EndpointSlice' ? serviceList(store.get('EndpointSlice', key), undefined) : undefined;
      if (store.delete(old.kind, key)) changes.push(services === undefined ? { kind: old.kind, key } : { kind: old.kind, key, services });
    }
    for (const [id, obj] of next) {
      if (this.#objects.get(id) === obj) continue;
      const key = keyOf(obj);
      const before = obj.kind === 'EndpointSlice' ? store.get('EndpointSlice', key) : undefined;
      if (!store.upsert(obj)) continue;
      changes.push(obj.kind === 'EndpointSlice' ? { kind: obj.kind, key, services: serviceList(before, obj) } : { kind: obj.kind, key });
    }
    this.#objects = next;
    return changes;
  }

  async #list(): Promise<string[]> {
    const entries = await readdir(this.#dir, { withFileTypes: true });
    return entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.') && MANIFEST_FILE.test(e.name))
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** #read reads and parses one file, falling back to its last good objects; undefined when it vanished. */
  async #read(name: string): Promise<FileState | undefined> {
    const previous = this.#files.get(name);
    let text: string;
    try {
      text = await readFile(join(this.#dir, name), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') return undefined;
      const diagnostic: Diagnostic = {
        code: 'ING_ERR_MANIFEST_READ',
        severity: 'error',
        object: 'file',
        message: `file cannot be read (${code ?? 'unknown error'}); ${fileOutcome(lastGoodOf(previous), 'can be read')}`,
        file: name,
      };
      return { text: undefined, objects: previous?.objects ?? [], secrets: previous?.secrets ?? [], diagnostics: [diagnostic] };
    }
    if (previous !== undefined && previous.text === text) return previous;
    // An object that fails validation keeps the version this file last gave it.
    const lastGood = new Map((previous?.objects ?? []).map((o) => [`${o.kind} ${keyOf(o)}`, o]));
    const parsed = await this.#parser.parse(name, text, lastGoodOf(previous).file, new Set(lastGood.keys()));
    if (!parsed.parsed) return { text, objects: previous?.objects ?? [], secrets: previous?.secrets ?? [], diagnostics: parsed.diagnostics };
    const kept = parsed.rejected.flatMap((id) => lastGood.get(`${id.kind} ${id.key}`) ?? []);
    return { text, objects: [...parsed.objects, ...kept], secrets: parsed.secrets, diagnostics: parsed.diagnostics };
  }
}

/** lastGoodOf says whether a file's earlier reads left anything in service (its objects or Secrets). */
function lastGoodOf(previous: FileState | undefined): Pick<LastGood, 'file'> {
  return { file: previous !== undefined && (previous.objects.length > 0 || previous.secrets.length > 0) };
}

/**
 * mergeSecrets combines the Secrets of every file (sorted by name) as mergeManifests does the
 * objects: the first definition wins, a later one gets ING_ERR_MANIFEST_DUPLICATE.
 */
function mergeSecrets(files: ReadonlyMap<string, FileState>, diagnostics: Diagnostic[], fileOf: Map<string, string>): TlsSecret[] {
  const first = new Map<string, string>();
  const out: TlsSecret[] = [];
  for (const [name, state] of files) {
    for (const s of state.secrets) {
      const key = objectKey(s.namespace, s.name);
      const winner = first.get(key);
      if (winner === undefined) {
        first.set(key, name);
        fileOf.set(`Secret ${key}`, name);
        out.push(s);
      } else diagnostics.push({ code: 'ING_ERR_MANIFEST_DUPLICATE', severity: 'error', object: `Secret ${key}`, message: `Secret ${key} is already defined in ${winner}; this definition is ignored`, file: name });
    }
  }
  return out;
}

/** serviceList names the Services (`namespace/name`) a slice belonged to before and after a change. */
function serviceList(before: KubeObject | undefined, after: KubeObject | undefined): string[] {
  const services = new Set<string>();
  for (const o of [before, after]) {
    const s = o?.kind === 'EndpointSlice' ? sliceService(o) : undefined;
    if (s !== undefined) services.add(s);
  }
  return [...services];
}

function diagnosticKey(d: Diagnostic): string {
  return JSON.stringify([d.code, d.severity, d.file, d.object, d.message]);
}
