/**
 * ManifestParser (issue 14 item 4): a large manifest file is parsed on the thread (here its task
 * in-process) with the result an event-loop parse gives; a thread that runs out of memory is a
 * parse failure of that file alone, which keeps its last good version.
 */
import { describe, expect, it } from 'vitest';
import { ManifestParser, type ParseRunner } from '../../../../src/primary/offload/manifest-parse.js';
import { parse } from '../../../../src/primary/offload/manifest-thread.js';
import { parseManifestFile } from '../../../../src/primary/sources/manifests.js';

const text = (paths: number, pathType = 'Prefix'): string =>
  `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: big, namespace: team }
spec:
  rules:
  - host: big.example
    http:
      paths:
${Array.from({ length: paths }, (_, i) => `      - { path: /p-${i}, pathType: ${pathType}, backend: { service: { name: web, port: { number: 80 } } } }`).join('\n')}
`;

describe('ManifestParser', () => {
  it('parses a small file on the event loop and a large one on the thread, with the same result', async () => {
    const calls: string[] = [];
    const run: ParseRunner = async (input) => (calls.push(input.name), parse(input));
    const parser = new ManifestParser({ run, minChars: 4096 });
    const small = await parser.parse('small.yaml', text(3), false, new Set());
    expect(calls).toEqual([]);
    expect(small).toEqual(parseManifestFile('small.yaml', text(3)));
    const big = await parser.parse('big.yaml', text(5000), false, new Set());
    expect(calls).toEqual(['big.yaml']);
    expect(big).toEqual(parseManifestFile('big.yaml', text(5000)));
  });

  it('says what happens to an invalid object from what the file held before, on the thread too', async () => {
    const parser = new ManifestParser({ run: async (input) => parse(input), minChars: 0 });
    const broken = await parser.parse('big.yaml', text(10, 'Bogus'), true, new Set(['Ingress team/big']));
    expect(broken.objects).toEqual([]);
    expect(broken.rejected).toEqual([{ kind: 'Ingress', key: 'team/big' }]);
    expect(broken.diagnostics[0]?.message).toMatch(/; Ingress team\/big is kept at its last good version$/);
  });

  it('turns a thread out of memory into a parse failure of that file, which keeps its last good version', async () => {
    const parser = new ManifestParser({ run: () => Promise.reject(Object.assign(new Error('worker ran out of memory'), { code: 'ERR_WORKER_OUT_OF_MEMORY' })), minChars: 0 });
    expect(await parser.parse('huge.yaml', text(1), true, new Set())).toEqual({
      objects: [],
      secrets: [],
      rejected: [],
      parsed: false,
      diagnostics: [{ code: 'ING_ERR_MANIFEST_PARSE', severity: 'error', object: 'file', file: 'huge.yaml', message: 'file cannot be loaded (it needs more than 1536 MB to parse); the file is kept at its last good version' }],
    });
  });
});
