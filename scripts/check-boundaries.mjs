#!/usr/bin/env node
/**
 * The import boundaries of src/ (docs/architecture.md, "Boundaries"):
 *
 * - src/primary/ and src/worker/ never import each other, and src/shared/ imports neither: the
 *   snapshot and the IPC messages in src/shared/ are the whole contract between the two sides;
 * - only src/shared/codec.ts imports msgpackr;
 * - uWebSockets.js is imported only under src/worker/proxy/, by the admin server
 *   (src/primary/admin/) and by its loader, src/shared/uws-native.ts.
 *
 * Every import form counts: `import … from`, `export … from`, `import type`, a bare
 * `import '…'`, `import('…')`, `require('…')` and `require.resolve('…')`.
 *
 * Usage: node scripts/check-boundaries.mjs [ROOT]   (ROOT holds src/; default: this repository)
 * Exit status 0 when every import keeps the boundaries, 1 with one line per violation otherwise,
 * 2 when ROOT has no src/ directory. The unit test test/unit/scripts/check-boundaries.test.ts
 * runs it on this repository and on a fixture that breaks every rule.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** SOURCE_FILE matches the files checked: TypeScript and JavaScript modules. */
const SOURCE_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** IMPORT_FORMS capture the specifier of every way a module names another. */
const IMPORT_FORMS = [
  /\b(?:import|export)\s+(?:type\s+)?[\w*{}\s,$]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\brequire(?:\.resolve)?\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/**
 * RULES are the boundaries: `from` is the importing file's area (its path under src/), `test`
 * says whether an import (resolved to a path under src/, or a package name) breaks the rule.
 */
const RULES = [
  { name: 'primary and worker never import each other', applies: (file) => file.startsWith('primary/'), breaks: (target) => target.startsWith('worker/') },
  { name: 'primary and worker never import each other', applies: (file) => file.startsWith('worker/'), breaks: (target) => target.startsWith('primary/') },
  { name: 'shared imports neither primary nor worker', applies: (file) => file.startsWith('shared/'), breaks: (target) => target.startsWith('primary/') || target.startsWith('worker/') },
  { name: 'only shared/codec.ts imports msgpackr', applies: (file) => file !== 'shared/codec.ts', breaks: (target) => target === 'msgpackr' || target.startsWith('msgpackr/') },
  {
    name: 'uWebSockets.js only in worker/proxy/, the admin server and shared/uws-native.ts',
    applies: (file) => !file.startsWith('worker/proxy/') && !file.startsWith('primary/admin/') && file !== 'shared/uws-native.ts',
    breaks: (target) => target === 'uWebSockets.js' || target.startsWith('uWebSockets.js/'),
  },
];

/** sourceFiles lists every module under `dir`, sorted, as paths relative to `srcDir` with `/`. */
function sourceFiles(dir, srcDir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path, srcDir));
    else if (SOURCE_FILE.test(name) && !name.endsWith('.d.ts')) out.push(relative(srcDir, path).split(sep).join('/'));
  }
  return out;
}

/**
 * importsOf returns the specifiers `text` imports, with their line numbers. Lines that are
 * comments (starting with `//`, `/*` or `*`) are skipped, so a doc comment that shows an import
 * is not one.
 */
export function importsOf(text) {
  const out = [];
  const lines = text.split('\n');
  const code = lines.map((line) => (/^\s*(\/\/|\/\*|\*)/.test(line) ? '' : line)).join('\n');
  for (const form of IMPORT_FORMS) {
    for (const m of code.matchAll(form)) {
      const line = code.slice(0, m.index).split('\n').length;
      out.push({ specifier: m[1], line });
    }
  }
  return out.sort((a, b) => a.line - b.line || a.specifier.localeCompare(b.specifier));
}

/** targetOf turns a specifier into a path under src/ (relative ones) or leaves a package name. */
function targetOf(file, specifier) {
  if (!specifier.startsWith('.')) return specifier;
  const path = join(dirname(file), specifier).split(sep).join('/');
  return path.startsWith('../') ? `(outside src)/${path}` : path;
}

/**
 * checkBoundaries returns every import under `root`/src that breaks a rule, as
 * `src/<file>:<line>: imports '<specifier>': <rule>`, in file order.
 */
export function checkBoundaries(root) {
  const srcDir = join(root, 'src');
  if (!existsSync(srcDir)) throw new Error(`${srcDir}: no such directory`);
  const violations = [];
  for (const file of sourceFiles(srcDir, srcDir)) {
    const text = readFileSync(join(srcDir, file), 'utf8');
    for (const { specifier, line } of importsOf(text)) {
      const target = targetOf(file, specifier);
      for (const rule of RULES) {
        if (rule.applies(file) && rule.breaks(target)) violations.push(`src/${file}:${line}: imports '${specifier}': ${rule.name}`);
      }
    }
  }
  return violations;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = process.argv[2];
  if (arg === '--help' || arg === '-h') {
    process.stdout.write('Usage: node scripts/check-boundaries.mjs [ROOT]\nChecks the import boundaries of ROOT/src (default: this repository); docs/architecture.md, "Boundaries".\n');
    process.exit(0);
  }
  const root = resolve(arg ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  let violations;
  try {
    violations = checkBoundaries(root);
  } catch (err) {
    process.stderr.write(`check-boundaries: ${err.message}\n`);
    process.exit(2);
  }
  for (const v of violations) process.stderr.write(`${v}\n`);
  if (violations.length > 0) {
    process.stderr.write(`check-boundaries: ${violations.length} import(s) break the boundaries (docs/architecture.md, "Boundaries")\n`);
    process.exit(1);
  }
  process.stdout.write('check-boundaries: every import keeps the boundaries\n');
}
