// Issue 16 item 5: the import boundaries (docs/architecture.md, "Boundaries") are checked on
// every test run; the fixture breaks each rule once, so the checker is shown to catch them.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkBoundaries, importsOf } from '../../../scripts/check-boundaries.mjs';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../fixtures/boundaries/', import.meta.url));

describe('check-boundaries', () => {
  it('finds nothing in this repository', () => {
    expect(checkBoundaries(REPO)).toEqual([]);
  });

  it('reports every import of the fixture that breaks a rule, and none that keeps them', () => {
    expect(checkBoundaries(FIXTURE)).toEqual([
      "src/primary/packs.ts:2: imports 'msgpackr': only shared/codec.ts imports msgpackr",
      "src/primary/uses-worker.ts:2: imports '../worker/thing.js': primary and worker never import each other",
      "src/shared/leak.ts:2: imports '../primary/ok.js': shared imports neither primary nor worker",
      "src/worker/router/uses-uws.ts:2: imports 'uWebSockets.js': uWebSockets.js only in worker/proxy/, the admin server and shared/uws-native.ts",
      "src/worker/thing.ts:5: imports '../primary/ok.js': primary and worker never import each other",
      "src/worker/thing.ts:8: imports '../primary/ok.js': primary and worker never import each other",
    ]);
  });

  it.each([
    { form: 'import from', text: "import { a } from 'x';", want: ['x'] },
    { form: 'import type over lines', text: "import type {\n  A,\n  B,\n} from 'x';", want: ['x'] },
    { form: 'export from', text: "export * from 'x';", want: ['x'] },
    { form: 'bare import', text: "import 'x';", want: ['x'] },
    { form: 'dynamic import', text: "const m = await import('x');", want: ['x'] },
    { form: 'require and require.resolve', text: "require('x'); require.resolve('y');", want: ['x', 'y'] },
    { form: 'a doc comment', text: "/**\n * import { a } from 'x';\n */\n// import 'y';", want: [] },
  ])('reads $form', ({ text, want }) => {
    expect(importsOf(text).map((i) => i.specifier)).toEqual(want);
  });
});
