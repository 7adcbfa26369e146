/**
 * The entry module of the manifest parse thread (piscina `filename`, task `parse`): parses one
 * manifest file as the file source would on its event loop, and sends the objects back as an
 * object batch (object-batch.ts) rather than as a structured clone.
 */
import { parseManifestFile } from '../sources/manifests.js';
import { packObjectsNow } from './object-batch.js';
import type { ParseTaskInput, ParseTaskOutput } from './manifest-parse.js';

/** parse runs parseManifestFile on this thread. */
export function parse(input: ParseTaskInput): ParseTaskOutput {
  const kept = new Set(input.lastGoodObjects);
  const parsed = parseManifestFile(input.name, input.text, { file: input.lastGoodFile, object: (id) => kept.has(`${id.kind} ${id.key}`) });
  return { ...parsed, objects: packObjectsNow(parsed.objects) };
}
