/**
 * Merging the objects of every manifest file into one set, the way `kubectl apply -f DIR`
 * would see them, except that a second definition of an object is refused rather than
 * applied over the first.
 */
import type { Diagnostic } from '../../shared/errors.js';
import { describeObject, keyOf, type KubeObject } from '../model.js';

/** ManifestFile is one file's contribution: its objects in file order and its diagnostics. */
export interface ManifestFile {
  readonly name: string;
  readonly objects: readonly KubeObject[];
  readonly diagnostics: readonly Diagnostic[];
}

/** MergedManifests is the object set of a directory and every diagnostic, file by file. */
export interface MergedManifests {
  readonly objects: KubeObject[];
  readonly diagnostics: Diagnostic[];
  /** The same objects by `Kind namespace/name` (see objectId). */
  readonly byId: Map<string, KubeObject>;
  /** The file each object in service comes from, by `Kind namespace/name`. */
  readonly fileOf: Map<string, string>;
}

/** objectId names an object across kinds: `Kind namespace/name`. */
export function objectId(obj: KubeObject): string {
  return `${obj.kind} ${keyOf(obj)}`;
}

/**
 * The ids of a file's objects, kept as long as its object list lives: a reload re-reads every
 * file but re-parses only the changed ones, so most lists are the same arrays as last time.
 */
const idsByList = new WeakMap<readonly KubeObject[], readonly string[]>();

function idsOf(objects: readonly KubeObject[]): readonly string[] {
  let ids = idsByList.get(objects);
  if (ids === undefined) idsByList.set(objects, (ids = objects.map(objectId)));
  return ids;
}

/**
 * mergeManifests combines files (in the order given, which the caller sorts by name). When
 * two definitions share kind, namespace and name, the first wins and the later one gets
 * ING_ERR_MANIFEST_DUPLICATE; so the outcome does not depend on which file changed last.
 */
export function mergeManifests(files: Iterable<ManifestFile>): MergedManifests {
  const firstFile = new Map<string, string>();
  const byId = new Map<string, KubeObject>();
  const objects: KubeObject[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of files) {
    diagnostics.push(...file.diagnostics);
    const ids = idsOf(file.objects);
    for (const [i, obj] of file.objects.entries()) {
      const id = ids[i] as string;
      const winner = firstFile.get(id);
      if (winner === undefined) {
        firstFile.set(id, file.name);
        byId.set(id, obj);
        objects.push(obj);
        continue;
      }
      diagnostics.push({
        code: 'ING_ERR_MANIFEST_DUPLICATE',
        severity: 'error',
        object: describeObject(obj),
        message: `${describeObject(obj)} is already defined in ${winner}; this definition is ignored`,
        file: file.name,
      });
    }
  }
  return { objects, diagnostics, byId, fileOf: firstFile };
}
