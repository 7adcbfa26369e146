// Loads the in-repo fake Kubernetes API server (test/helpers/fake-apiserver.ts) for bench
// scripts: bundled on the fly with esbuild (vite's dependency), `vitest` stubbed out.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** loadFakeApiServer returns the module's startFakeApiServer. */
export async function loadFakeApiServer() {
  const work = mkdtempSync(path.join(os.tmpdir(), 'flusso-fakeapi-'));
  const bundle = path.join(work, 'fake-apiserver.mjs');
  await build({
    entryPoints: [path.join(ROOT, 'test/helpers/fake-apiserver.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: bundle,
    logLevel: 'warning',
    plugins: [{
      name: 'stub-vitest',
      setup(b) {
        b.onResolve({ filter: /^vitest$/ }, () => ({ path: 'vitest', namespace: 'stub' }));
        b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export const afterAll = () => {};', loader: 'js' }));
      },
    }],
  });
  const mod = await import(pathToFileURL(bundle).href);
  rmSync(work, { recursive: true, force: true });
  return mod.startFakeApiServer;
}
