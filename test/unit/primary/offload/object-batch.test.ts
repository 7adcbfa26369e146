/**
 * Object batches (issue 14 item 4): a large Ingress crosses to a thread in texts of at most
 * BATCH_WEIGHT paths, with a pause between texts, and arrives equal to what was sent.
 */
import { describe, expect, it } from 'vitest';
import type { HTTPIngressPath, KubeObject } from '../../../../src/primary/model.js';
import { BATCH_WEIGHT, packObjects, packObjectsNow, unpackObjects, unpackObjectsNow, weightOf } from '../../../../src/primary/offload/object-batch.js';
import { backend, endpointSlice, ingress, ingressClass, path, rule, service, sliceEndpoint } from '../../../helpers/k8s.js';

function paths(n: number, prefix: string): HTTPIngressPath[] {
  return Array.from({ length: n }, (_, i) => path(`/${prefix}-${i}`, backend('web', 80)));
}

const huge = ingress('team/huge', {
  rules: [rule('a.example', ...paths(BATCH_WEIGHT * 2 + 7, 'a')), rule('b.example'), rule('c.example', ...paths(BATCH_WEIGHT - 1, 'c'))],
  defaultBackend: backend('web', 80),
});
const objects: KubeObject[] = [
  ingressClass(),
  service('team/web'),
  huge,
  endpointSlice('team/web-a', { service: 'web', endpoints: [sliceEndpoint('10.0.0.1')] }),
  ingress('team/small', { rules: [rule('s.example', path('/', backend('web', 80)))] }),
];

describe('object batches', () => {
  it('round-trip objects, a large Ingress cut between its paths, in order', async () => {
    let pauses = 0;
    const batch = await packObjects(objects, async () => void pauses++);
    expect(pauses).toBe(batch.length);
    expect(batch.length).toBeGreaterThanOrEqual(Math.ceil(weightOf(huge) / BATCH_WEIGHT));
    for (const text of batch) expect((JSON.parse(text) as { p?: unknown[] }[]).reduce((n, e) => n + (e.p?.length ?? 1), 0)).toBeLessThanOrEqual(BATCH_WEIGHT);
    expect(await unpackObjects(batch, async () => undefined)).toEqual(objects);
    expect(unpackObjectsNow(packObjectsNow(objects))).toEqual(objects);
  });

  it('read every object before the first pause: a change meanwhile is not half in the batch', async () => {
    const list = [ingress('team/a'), ingress('team/b')];
    const batch = await packObjects(list, async () => {
      list.length = 0;
    });
    expect(unpackObjectsNow(batch).map((o) => o.metadata.name)).toEqual(['a', 'b']);
  });

  it('weigh an Ingress by its paths', () => {
    expect(weightOf(huge)).toBe(1 + BATCH_WEIGHT * 3 + 6);
    expect(weightOf(service('team/web'))).toBe(1);
  });
});
