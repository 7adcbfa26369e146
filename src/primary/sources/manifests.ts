/**
 * Manifest parsing for the file source: multi-document YAML (or JSON) in, validated model
 * objects and diagnostics out. Pure: the caller reads the file.
 */
import { parseAllDocuments } from 'yaml';
import { IngressError, type Diagnostic, type ErrorCode, type Severity } from '../../shared/errors.js';
import { objectKey } from '../../shared/keys.js';
import { boundDiagnostic } from '../diagnostics.js';
import { KUBE_KINDS, type KubeKind, type KubeObject, type TlsSecret } from '../model.js';
import { API_VERSIONS, validateObject, validateSecret } from './validate-object.js';

/** ObjectId names an object across versions: its kind and store key. */
export interface ObjectId {
  readonly kind: KubeKind;
  readonly key: string;
}

/** ParsedManifest is what one manifest file yields. */
export interface ParsedManifest {
  /** The valid objects, in file order. */
  readonly objects: KubeObject[];
  /** The valid v1 Secrets, in file order (the TLS manager reads them; the compiler never does). */
  readonly secrets: TlsSecret[];
  readonly diagnostics: Diagnostic[];
  /** false when the file is not valid YAML: `objects` is then empty, and the caller may keep older ones. */
  readonly parsed: boolean;
  /** Objects that failed validation but whose kind and name are known, so a last good version can stand in. */
  readonly rejected: ObjectId[];
}

/**
 * LastGood is what the file source still holds from this file's earlier reads, so that each
 * diagnostic can say what happens: a file that does not parse keeps its last good version only
 * when it had one, and so does an invalid object.
 */
export interface LastGood {
  /** The file parsed before and its objects (or Secrets) are still in service. */
  readonly file: boolean;
  /** The file gave this object a version before, which stays in service. */
  object(id: ObjectId): boolean;
}

/** NOTHING_KEPT: a file read for the first time. */
export const NOTHING_KEPT: LastGood = { file: false, object: () => false };

/** What a file that does not parse (or cannot be read) comes to. */
export function fileOutcome(lastGood: Pick<LastGood, 'file'>, until: string): string {
  return lastGood.file ? 'the file is kept at its last good version' : `nothing in it applies until it ${until}`;
}

/** MAX_ALIAS_COUNT bounds YAML alias expansion (the "billion laughs" document). */
const MAX_ALIAS_COUNT = 100;

/**
 * parseManifestFile parses the text of one manifest file. Empty documents are skipped and
 * `kind: List` items expanded. A YAML syntax error rejects the whole file (ING_ERR_MANIFEST_PARSE
 * with its line); an invalid object (ING_ERR_MANIFEST_INVALID) or an object of a kind Flusso
 * does not read (ING_ERR_MANIFEST_UNSUPPORTED_KIND, a warning) is dropped alone. v1 Secrets go
 * to `secrets`. Every diagnostic carries `file` and says what happens, from `lastGood`.
 */
export function parseManifestFile(fileName: string, text: string, lastGood: LastGood = NOTHING_KEPT): ParsedManifest {
  const result: ParsedManifest = { objects: [], secrets: [], diagnostics: [], parsed: true, rejected: [] };
  const values: (readonly [string, unknown])[] = [];
  try {
    for (const [i, doc] of parseAllDocuments(text).entries()) {
      const error = doc.errors[0];
      if (error !== undefined) {
        const line = error.linePos?.[0].line ?? 1;
        const reason = error.message.split('\n', 1)[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.code;
        return parseFailure(fileName, `document ${i + 1}`, `file is not valid YAML at line ${line} (${reason}); ${fileOutcome(lastGood, 'parses')}`);
      }
      // An empty document (between two `---`, or comments only) has no contents or a null scalar.
      const value: unknown = doc.contents === null ? null : doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      if (value !== null && value !== undefined) values.push([`document ${i + 1}`, value]);
    }
  } catch (cause) {
    // Alias bombs and absurd nesting end up here rather than as syntax errors.
    const reason = cause instanceof Error ? cause.message : String(cause);
    return parseFailure(fileName, 'file', `file cannot be loaded (${reason}); ${fileOutcome(lastGood, 'loads')}`);
  }
  for (const [where, value] of values) {
    if (isRecord(value) && value.kind === 'List') {
      if (!Array.isArray(value.items)) {
        add(result, fileName, 'ING_ERR_MANIFEST_INVALID', 'error', where, 'List document has no items list; the document is not applied');
        continue;
      }
      for (const [j, item] of value.items.entries()) readObject(result, fileName, item, `${where} item ${j + 1}`, lastGood);
    } else {
      readObject(result, fileName, value, where, lastGood);
    }
  }
  return result;
}

function readObject(result: ParsedManifest, file: string, value: unknown, where: string, lastGood: LastGood): void {
  if (!isRecord(value)) {
    add(result, file, 'ING_ERR_MANIFEST_INVALID', 'error', where, 'document is not an object; the document is not applied');
    return;
  }
  const { kind, apiVersion } = value;
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') {
    add(result, file, 'ING_ERR_MANIFEST_INVALID', 'error', where, 'object has no string apiVersion and kind; the document is not applied');
    return;
  }
  if (kind === 'Secret' && apiVersion === 'v1') {
    try {
      result.secrets.push(validateSecret(value));
    } catch (err) {
      if (!(err instanceof IngressError)) throw err;
      add(result, file, 'ING_ERR_MANIFEST_INVALID', 'error', describeRaw(kind, value, where), `${err.message}; the Secret is not applied (a host that names it keeps its last good certificate)`);
    }
    return;
  }
  if (!isKubeKind(kind)) {
    const message = `${kind} (${apiVersion}) is a kind Flusso does not read; ignored`;
    add(result, file, 'ING_ERR_MANIFEST_UNSUPPORTED_KIND', 'warning', describeRaw(kind, value, where), message);
    return;
  }
  const id = identify(kind, value);
  const object = id === undefined ? where : `${kind} ${id.key}`;
  let reason: string;
  if (apiVersion === API_VERSIONS[kind]) {
    try {
      result.objects.push(validateObject(kind, value));
      return;
    } catch (err) {
      if (!(err instanceof IngressError)) throw err;
      reason = err.message;
    }
  } else {
    reason = `apiVersion ${apiVersion} is not read for ${kind}, only ${API_VERSIONS[kind]}`;
  }
  const outcome = id === undefined ? 'the object is not applied' : lastGood.object(id) ? `${object} is kept at its last good version` : `${object} is not applied (it has no last good version yet)`;
  add(result, file, 'ING_ERR_MANIFEST_INVALID', 'error', object, `${reason}; ${outcome}`);
  if (id !== undefined) result.rejected.push(id);
}

/** identify finds kind and key of an object that may fail validation, when its name is usable. */
function identify(kind: KubeKind, value: Readonly<Record<string, unknown>>): ObjectId | undefined {
  const meta = value.metadata;
  if (!isRecord(meta) || typeof meta.name !== 'string' || meta.name === '') return undefined;
  if (kind === 'IngressClass') return { kind, key: meta.name };
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
  return { kind, key: objectKey(namespace, meta.name) };
}

function describeRaw(kind: string, value: Readonly<Record<string, unknown>>, where: string): string {
  const meta = value.metadata;
  if (!isRecord(meta) || typeof meta.name !== 'string') return `${kind} in ${where}`;
  return `${kind} ${objectKey(typeof meta.namespace === 'string' ? meta.namespace : undefined, meta.name)}`;
}

function parseFailure(file: string, where: string, message: string): ParsedManifest {
  const result: ParsedManifest = { objects: [], secrets: [], diagnostics: [], parsed: false, rejected: [] };
  add(result, file, 'ING_ERR_MANIFEST_PARSE', 'error', where, message);
  return result;
}

function add(result: ParsedManifest, file: string, code: ErrorCode, severity: Severity, object: string, message: string): void {
  // Bounded here, so the file source's log line is too (a file may hold any text: ../diagnostics.ts).
  result.diagnostics.push(boundDiagnostic({ code, severity, object, message, file }));
}

function isKubeKind(kind: string): kind is KubeKind {
  return (KUBE_KINDS as readonly string[]).includes(kind);
}

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
