/**
 * The install step's ELF rewrite (scripts/glibc-compat.mjs, issue #10), run on the real
 * uWebSockets.js binaries of the installed package: what it changes in the symbol and version
 * tables, that the result binds against a glibc 2.36 view of this machine's libc, that it is
 * idempotent and never touches a binary that already binds, and that it refuses anything it
 * does not know.
 *
 * "Glibc 2.36" here is this machine's own libc.so.6 read from disk with every definition of
 * GLIBC_2.37 and newer removed: what Debian 12 offers, on whatever machine the tests run.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  C23_ALIASES, C23_VERSION, GlibcCompatError, compatCopyPath, elfHash, localLibraries, missingBindings, planRewrite, readElf, rewriteElf, writeCompatCopy,
  type LibraryView,
} from '../../../scripts/glibc-compat.mjs';

const UWS_DIR = dirname(createRequire(import.meta.url).resolve('uWebSockets.js'));
/** The package's Linux binaries for this machine's architecture (x64 here; arm64 elsewhere). */
const BINARIES = readdirSync(UWS_DIR).filter((f) => f.startsWith(`uws_linux_${process.arch}_`) && f.endsWith('.node') && !f.endsWith('.glibc-compat.node'));
const NODE_24 = `uws_linux_${process.arch}_137.node`;

/** olderGlibc returns `libs` with every GLIBC_x.y newer than `max` taken out of libc.so.6. */
function olderGlibc(libs: Map<string, LibraryView>, max: [number, number]): Map<string, LibraryView> {
  const newer = (v: string): boolean => {
    const m = /^GLIBC_(\d+)\.(\d+)/.exec(v);
    return m !== null && (Number(m[1]) > max[0] || (Number(m[1]) === max[0] && Number(m[2]) > max[1]));
  };
  const libc = libs.get('libc.so.6') as LibraryView;
  const out = new Map(libs);
  out.set('libc.so.6', {
    defined: new Set([...libc.defined].filter((d) => !newer(d.slice(d.indexOf('@') + 1)))),
    definedVersions: new Set([...libc.definedVersions].filter((v) => !newer(v))),
  });
  return out;
}

const original = readFileSync(join(UWS_DIR, NODE_24));
const local = localLibraries(readElf(original).needs.map((f) => f.file));
const glibc236 = olderGlibc(local, [2, 36]);
const scratch = mkdtempSync(join(tmpdir(), 'flusso-glibc-compat-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** libcImports lists `name@version` of every versioned import from libc.so.6. */
function libcImports(buf: Buffer): Set<string> {
  const elf = readElf(buf);
  const byIndex = new Map<number, string>();
  for (const v of elf.needs.find((f) => f.file === 'libc.so.6')?.versions ?? []) byIndex.set(v.other, v.name);
  const out = new Set<string>();
  for (const s of elf.dynsym) {
    const version = byIndex.get(s.version & 0x7fff);
    if (s.undefined && version !== undefined) out.add(`${s.name}@${version}`);
  }
  return out;
}

describe('the package binaries as shipped', () => {
  it('are there for this architecture, one per Node.js ABI', () => {
    expect(BINARIES.sort()).toEqual(['115', '127', '137', '141'].map((abi) => `uws_linux_${process.arch}_${abi}.node`));
  });

  it.each(BINARIES)('%s needs glibc 2.38 for exactly the three C23 imports', (file) => {
    const missing = missingBindings(readElf(readFileSync(join(UWS_DIR, file))), glibc236);
    expect(missing.map((m) => `${m.symbol || '(version)'}@${m.version}`).sort()).toEqual(['(version)@GLIBC_2.38', '__isoc23_sscanf@GLIBC_2.38', '__isoc23_strtol@GLIBC_2.38', '__isoc23_strtoul@GLIBC_2.38']);
  });
});

describe('the rewrite of the Node.js 24 binary for glibc 2.36', () => {
  const result = rewriteElf(original, glibc236);

  it('rebinds the three imports to the classic functions of the base version, and nothing else', () => {
    expect(result).not.toBeNull();
    const before = libcImports(original);
    const after = libcImports(result!.buffer);
    const base = process.arch === 'x64' ? 'GLIBC_2.2.5' : 'GLIBC_2.17';
    for (const [c23, classic] of C23_ALIASES) {
      expect(before).toContain(`${c23}@${C23_VERSION}`);
      expect(after).not.toContain(`${c23}@${C23_VERSION}`);
      expect(after).toContain(`${classic}@${base}`);
    }
    // Every other import keeps its name and version.
    const untouched = [...before].filter((b) => !b.endsWith(`@${C23_VERSION}`));
    for (const b of untouched) expect(after).toContain(b);
    expect(after.size).toBeLessThanOrEqual(before.size);
  });

  it('turns the GLIBC_2.38 requirement into the base version, hash included, and keeps its index', () => {
    const needOf = (buf: Buffer) => readElf(buf).needs.find((f) => f.file === 'libc.so.6')!.versions;
    const old = needOf(original).find((v) => v.name === C23_VERSION)!;
    const now = needOf(result!.buffer).find((v) => v.offset === old.offset)!;
    expect(now.name).toBe(process.arch === 'x64' ? 'GLIBC_2.2.5' : 'GLIBC_2.17');
    expect(now.hash).toBe(elfHash(now.name));
    expect(now.other).toBe(old.other); // .gnu.version stays as it is
    expect(needOf(result!.buffer).map((v) => v.name)).not.toContain(C23_VERSION);
  });

  it('changes 20 bytes: three symbol name offsets and two words of one version entry', () => {
    let changed = 0;
    for (let i = 0; i < original.length; i++) if (original[i] !== result!.buffer[i]) changed++;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(20);
    const what = result!.patches.map((p) => p.what);
    expect(what.slice(0, 3).sort()).toEqual([...C23_ALIASES].map(([c23, classic]) => `${c23} -> ${classic}`).sort());
    expect(what.slice(3)).toEqual([expect.stringMatching(/^vna_hash GLIBC_2\.38 -> /), expect.stringMatching(/^vna_name GLIBC_2\.38 -> /)]);
  });

  it('binds completely against glibc 2.36, and objdump agrees', () => {
    expect(missingBindings(readElf(result!.buffer), glibc236)).toEqual([]);
    const copy = join(scratch, 'rewritten.node');
    writeFileSync(copy, result!.buffer);
    const dump = execFileSync('objdump', ['-T', copy], { encoding: 'utf8' });
    expect(dump).not.toMatch(/GLIBC_2\.38|__isoc23_/);
    expect(dump).toMatch(/\(GLIBC_2\.[0-9.]+\)\s+strtoul\n/);
  });

  it('is a no-op on its own output (idempotent)', () => {
    expect(planRewrite(result!.buffer, glibc236)).toEqual({ status: 'compatible' });
    expect(rewriteElf(result!.buffer, glibc236)).toBeNull();
  });

  it('never rewrites for a glibc that has what the binary needs', () => {
    const libc = local.get('libc.so.6')!;
    const withC23 = new Map(glibc236);
    withC23.set('libc.so.6', {
      defined: new Set([...glibc236.get('libc.so.6')!.defined, ...[...C23_ALIASES.keys()].map((s) => `${s}@${C23_VERSION}`)]),
      definedVersions: new Set([...libc.definedVersions, C23_VERSION]),
    });
    expect(planRewrite(original, withC23)).toEqual({ status: 'compatible' });
  });
});

describe('refusals', () => {
  /** mutate returns a copy of the original with `from` replaced by `to` (same length) once in .dynstr. */
  function mutate(from: string, to: string): Buffer {
    const out = Buffer.from(original);
    const at = out.indexOf(Buffer.from(`${from}\0`, 'latin1'), readElf(out).stringsAt);
    expect(at).toBeGreaterThan(0);
    out.write(to, at, 'latin1');
    return out;
  }

  it('refuses a binary with an unknown too-new symbol', () => {
    // __isoc23_strtoul becomes __isoc23_strtoux: still GLIBC_2.38, but not a function it knows.
    const unknown = mutate('__isoc23_strtoul', '__isoc23_strtoux');
    expect(() => planRewrite(unknown, glibc236)).toThrowError(GlibcCompatError);
    expect(() => planRewrite(unknown, glibc236)).toThrowError(/__isoc23_strtoux@GLIBC_2\.38/);
    try {
      planRewrite(unknown, glibc236);
    } catch (err) {
      expect((err as GlibcCompatError).code).toBe('UNKNOWN_SYMBOL');
    }
  });

  it('refuses a binary that needs a version it does not know (arc4random at a made-up GLIBC_2.99)', () => {
    const tooNew = mutate('GLIBC_2.36', 'GLIBC_2.99');
    expect(() => planRewrite(tooNew, glibc236)).toThrowError(/GLIBC_2\.99/);
  });

  it('refuses a libc that lacks the version the C23 functions need to bind to', () => {
    const noBase = new Map(glibc236);
    noBase.set('libc.so.6', { defined: new Set(), definedVersions: glibc236.get('libc.so.6')!.definedVersions });
    expect(() => planRewrite(original, noBase)).toThrowError(GlibcCompatError);
  });

  it('refuses what is not a 64-bit ELF file', () => {
    expect(() => readElf(Buffer.from('#!/bin/sh\necho not elf\n'.padEnd(80)))).toThrowError(/not an ELF file/);
  });
});

describe('writeCompatCopy', () => {
  it('writes the copy beside the file, leaves the original alone, and keeps an identical copy', () => {
    const file = join(scratch, NODE_24);
    copyFileSync(join(UWS_DIR, NODE_24), file);
    const first = writeCompatCopy(file, glibc236);
    expect(first?.written).toBe(true);
    expect(readFileSync(file).equals(original)).toBe(true);
    const copy = compatCopyPath(file);
    expect(copy).toBe(join(scratch, `uws_linux_${process.arch}_137.glibc-compat.node`));
    const mtime = statSync(copy).mtimeMs;
    expect(writeCompatCopy(file, glibc236)?.written).toBe(false);
    expect(statSync(copy).mtimeMs).toBe(mtime);
    expect(missingBindings(readElf(readFileSync(copy)), glibc236)).toEqual([]);
  });

  it('removes a leftover copy when the original binds as it is', () => {
    const file = join(scratch, NODE_24);
    copyFileSync(join(UWS_DIR, NODE_24), file);
    writeCompatCopy(file, glibc236);
    const compatible = new Map(glibc236);
    compatible.set('libc.so.6', {
      defined: new Set([...glibc236.get('libc.so.6')!.defined, ...[...C23_ALIASES.keys()].map((s) => `${s}@${C23_VERSION}`)]),
      definedVersions: new Set([...glibc236.get('libc.so.6')!.definedVersions, C23_VERSION]),
    });
    expect(existsSync(compatCopyPath(file))).toBe(true);
    expect(writeCompatCopy(file, compatible)).toBeNull();
    expect(existsSync(compatCopyPath(file))).toBe(false);
  });
});
