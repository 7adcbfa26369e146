import { describe, expect, it } from 'vitest';
import { mergeManifests } from '../../../../src/primary/sources/merge-manifests.js';
import { ingressClass, service } from '../../../helpers/k8s.js';

describe('mergeManifests', () => {
  it('keeps the first definition of an object and reports the later ones in their file', () => {
    const first = service('shop/web');
    const merged = mergeManifests([
      { name: 'a.yaml', objects: [first, ingressClass()], diagnostics: [] },
      {
        name: 'b.yaml',
        objects: [service('shop/web', [{ port: 81 }]), service('shop/api')],
        diagnostics: [{ code: 'ING_ERR_MANIFEST_PARSE', severity: 'error', object: 'document 3', message: 'm', file: 'b.yaml' }],
      },
      { name: 'c.yaml', objects: [ingressClass()], diagnostics: [] },
    ]);
    expect(merged.objects).toEqual([first, ingressClass(), service('shop/api')]);
    expect(merged.diagnostics.map((d) => [d.code, d.object, d.file])).toEqual([
      ['ING_ERR_MANIFEST_PARSE', 'document 3', 'b.yaml'],
      ['ING_ERR_MANIFEST_DUPLICATE', 'Service shop/web', 'b.yaml'],
      ['ING_ERR_MANIFEST_DUPLICATE', 'IngressClass flusso', 'c.yaml'],
    ]);
    expect(merged.diagnostics[1]?.message).toBe('Service shop/web is already defined in a.yaml; this definition is ignored');
  });
});
