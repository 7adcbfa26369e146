// Loads the in-repo fake Kubernetes API server (test/helpers/fake-apiserver.ts) for bench
// scripts: bundled on the fly with rolldown (vite's bundler), `vitest` stubbed out.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'rolldown';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** loadFakeApiServer returns the module's startFakeApiServer. */
export async function loadFakeApiServer() {
  const work = mkdtempSync(path.join(os.tmpdir(), 'flusso-fakeapi-'));
  const bundle = path.join(work, 'fake-apiserver.mjs');
  await build({
    input: path.join(ROOT, 'test/helpers/fake-apiserver.ts'),
    platform: 'node',
    logLevel: 'warn',
    output: { file: bundle, format: 'esm' },
    plugins: [{
      name: 'stub-vitest',
      resolveId: (id) => (id === 'vitest' ? '\0vitest-stub' : null),
      load: (id) => (id === '\0vitest-stub' ? 'export const afterAll = () => {};' : null),
    }],
  });
  const mod = await import(pathToFileURL(bundle).href);
  rmSync(work, { recursive: true, force: true });
  return mod.startFakeApiServer;
}
