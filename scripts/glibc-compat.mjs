/**
 * glibc-compat: makes the uWebSockets.js binaries, which are built against glibc 2.38, load on
 * glibc 2.36 and 2.37 (Debian 12) without touching the system (docs/runtime.md, "uWebSockets.js
 * on glibc 2.36").
 *
 * Those binaries need glibc 2.38 for exactly three imports: `__isoc23_sscanf`, `__isoc23_strtol`
 * and `__isoc23_strtoul`, the C23 variants a new compiler picks for `sscanf`/`strtol`/`strtoul`.
 * They differ from the classic functions only in accepting `0b` binary literals, which the
 * binaries' own calls can never meet (base 10, or `%lu`/`%lx`). The rewrite points each of the
 * three dynamic symbols at the classic name (the suffix of its own string: no new string) and
 * turns the `GLIBC_2.38` version requirement into the version the classic functions carry in
 * the local libc (a name the binary already holds). Nothing else is touched.
 *
 * It is careful by construction: it computes what the binary needs that the local libraries do
 * not define, refuses when that is anything but those three symbols, checks the result binds
 * completely against the local libraries, and does nothing when nothing is missing (a new
 * glibc). The package's own file is never modified: the rewrite is a copy beside it
 * (`uws_linux_x64_137.glibc-compat.node`), which Flusso loads in its place when present
 * (src/shared/uws-native.ts). Plain JavaScript: it runs at install time, before any build, on
 * whatever Node.js runs npm.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** C23_ALIASES maps each import the rewrite knows to the classic function it stands for. */
export const C23_ALIASES = new Map([
  ['__isoc23_sscanf', 'sscanf'],
  ['__isoc23_strtol', 'strtol'],
  ['__isoc23_strtoul', 'strtoul'],
]);

/** C23_VERSION is the only version requirement the rewrite removes. */
export const C23_VERSION = 'GLIBC_2.38';

const LIBC = 'libc.so.6';
const SHT_DYNSYM = 11;
const SHT_GNU_VERDEF = 0x6ffffffd;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const VER_FLG_BASE = 0x1;
const VER_FLG_WEAK = 0x2;
const STB_WEAK = 2;
const SYM_SIZE = 24;

/** GlibcCompatError is thrown for a file the rewrite will not touch; `code` says why. */
export class GlibcCompatError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'GlibcCompatError';
    this.code = code;
  }
}

/**
 * elfHash is the System V ELF hash that `vna_hash` holds.
 * @param {string} name
 */
export function elfHash(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = ((h << 4) + name.charCodeAt(i)) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h = (h & ~g) >>> 0;
  }
  return h;
}

/**
 * @typedef {{ index: number, offset: number, name: string, nameOffset: number, undefined: boolean, weak: boolean, version: number }} DynSymbol
 * @typedef {{ offset: number, hash: number, flags: number, other: number, name: string, nameOffset: number }} VersionNeed
 * @typedef {{ file: string, versions: VersionNeed[] }} FileNeed
 * @typedef {{ dynsym: DynSymbol[], needs: FileNeed[], defined: Set<string>, definedVersions: Set<string>, stringsAt: number }} ElfView
 */

/**
 * readElf reads what the dynamic linker binds by from an ELF64 little-endian shared object: its
 * dynamic symbols with their versions, its version requirements (`.gnu.version_r`) and, for a
 * library, what it defines (`name@version`) and which versions it defines (`.gnu.version_d`).
 * @param {Buffer} buf
 * @returns {ElfView}
 */
export function readElf(buf) {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new GlibcCompatError('NOT_ELF', 'not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new GlibcCompatError('NOT_ELF64LE', 'not a 64-bit little-endian ELF file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  if (shoff === 0 || shentsize !== 64 || shoff + shnum * 64 > buf.length) throw new GlibcCompatError('NO_SECTIONS', 'no usable section headers');
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    sections.push({
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 0x18)),
      size: Number(buf.readBigUInt64LE(at + 0x20)),
      link: buf.readUInt32LE(at + 0x28),
      info: buf.readUInt32LE(at + 0x2c),
    });
  }
  const find = (type) => sections.find((s) => s.type === type);
  const dynsymSection = find(SHT_DYNSYM);
  if (dynsymSection === undefined) throw new GlibcCompatError('NO_DYNSYM', 'no dynamic symbol table');
  const strings = sections[dynsymSection.link];
  if (strings === undefined) throw new GlibcCompatError('NO_DYNSTR', 'no dynamic string table');
  const stringAt = (offset) => {
    if (offset >= strings.size) throw new GlibcCompatError('BAD_STRING', `string offset ${offset} outside .dynstr`);
    const start = strings.offset + offset;
    const end = buf.indexOf(0, start);
    return buf.toString('latin1', start, end < 0 ? strings.offset + strings.size : end);
  };

  const versym = find(SHT_GNU_VERSYM);
  const count = dynsymSection.size / SYM_SIZE;
  /** @type {DynSymbol[]} */
  const dynsym = [];
  for (let i = 0; i < count; i++) {
    const at = dynsymSection.offset + i * SYM_SIZE;
    const nameOffset = buf.readUInt32LE(at);
    dynsym.push({
      index: i,
      offset: at,
      name: stringAt(nameOffset),
      nameOffset,
      undefined: buf.readUInt16LE(at + 6) === 0,
      weak: buf[at + 4] >> 4 === STB_WEAK,
      version: versym === undefined ? 1 : buf.readUInt16LE(versym.offset + i * 2),
    });
  }

  /** @type {FileNeed[]} */
  const needs = [];
  const verneed = find(SHT_GNU_VERNEED);
  if (verneed !== undefined) {
    let at = verneed.offset;
    for (let n = 0; n < verneed.info; n++) {
      const file = { file: stringAt(buf.readUInt32LE(at + 4)), versions: [] };
      let aux = at + buf.readUInt32LE(at + 8);
      for (let k = buf.readUInt16LE(at + 2); k > 0; k--) {
        const nameOffset = buf.readUInt32LE(aux + 8);
        file.versions.push({ offset: aux, hash: buf.readUInt32LE(aux), flags: buf.readUInt16LE(aux + 4), other: buf.readUInt16LE(aux + 6), name: stringAt(nameOffset), nameOffset });
        const next = buf.readUInt32LE(aux + 12);
        if (next === 0) break;
        aux += next;
      }
      needs.push(file);
      const next = buf.readUInt32LE(at + 12);
      if (next === 0) break;
      at += next;
    }
  }

  // A library's version definitions, by index (1 is the library itself, flagged BASE).
  /** @type {Map<number, string>} */
  const defs = new Map();
  const definedVersions = new Set();
  const verdef = find(SHT_GNU_VERDEF);
  if (verdef !== undefined) {
    let at = verdef.offset;
    for (let n = 0; n < verdef.info; n++) {
      const name = stringAt(buf.readUInt32LE(at + buf.readUInt32LE(at + 12)));
      defs.set(buf.readUInt16LE(at + 4), name);
      if ((buf.readUInt16LE(at + 2) & VER_FLG_BASE) === 0) definedVersions.add(name);
      const next = buf.readUInt32LE(at + 16);
      if (next === 0) break;
      at += next;
    }
  }
  const defined = new Set();
  for (const s of dynsym) {
    const version = defs.get(s.version & 0x7fff);
    if (!s.undefined && s.name !== '' && version !== undefined) defined.add(`${s.name}@${version}`);
  }
  return { dynsym, needs, defined, definedVersions, stringsAt: strings.offset };
}

/**
 * @typedef {{ defined: Set<string>, definedVersions: Set<string> }} LibraryView
 * @typedef {{ symbol: string, file: string, version: string }} Missing
 */

/**
 * versionNeeds maps each version index of `elf` to the library and version it requires.
 * @param {ElfView} elf
 * @returns {Map<number, { file: string, need: VersionNeed }>}
 */
function versionNeeds(elf) {
  const byIndex = new Map();
  for (const f of elf.needs) for (const v of f.versions) byIndex.set(v.other, { file: f.file, need: v });
  return byIndex;
}

/**
 * missingBindings lists what `elf` requires that `libraries` (soname → what it defines) do not
 * provide: a required version a library does not define (the dynamic linker refuses to load
 * then), or a strong versioned import no library defines at that version. Empty: it loads.
 * @param {ElfView} elf
 * @param {Map<string, LibraryView>} libraries
 * @returns {Missing[]}
 */
export function missingBindings(elf, libraries) {
  /** @type {Missing[]} */
  const missing = [];
  for (const f of elf.needs) {
    const lib = libraries.get(f.file);
    for (const v of f.versions) {
      if ((v.flags & VER_FLG_WEAK) !== 0) continue;
      if (lib === undefined || !lib.definedVersions.has(v.name)) missing.push({ symbol: '', file: f.file, version: v.name });
    }
  }
  const byIndex = versionNeeds(elf);
  for (const s of elf.dynsym) {
    if (!s.undefined || s.weak || s.name === '') continue;
    const need = byIndex.get(s.version & 0x7fff);
    if (need === undefined) continue; // unversioned: bound by name, not what glibc's versions decide
    const lib = libraries.get(need.file);
    if (lib === undefined || !lib.defined.has(`${s.name}@${need.need.name}`)) missing.push({ symbol: s.name, file: need.file, version: need.need.name });
  }
  return missing;
}

/** @param {Missing} m */
const describe = (m) => (m.symbol === '' ? `version ${m.version} of ${m.file}` : `${m.symbol}@${m.version} from ${m.file}`);

/**
 * @typedef {{ offset: number, before: number, after: number, what: string }} Patch
 * @typedef {{ status: 'compatible' } | { status: 'rewrite', patches: Patch[], missing: Missing[] }} Plan
 */

/**
 * planRewrite decides what to do with one binary against the local libraries: `compatible`
 * (nothing missing: leave it alone), or the exact 32-bit words to rewrite. It throws
 * GlibcCompatError UNKNOWN_SYMBOL when anything is missing besides the three C23 imports at
 * GLIBC_2.38, and NO_CLASSIC_VERSION when the local libc does not define the classic functions
 * at one version the binary already names.
 * @param {Buffer} buf
 * @param {Map<string, LibraryView>} libraries
 * @returns {Plan}
 */
export function planRewrite(buf, libraries) {
  const elf = readElf(buf);
  const missing = missingBindings(elf, libraries);
  if (missing.length === 0) return { status: 'compatible' };
  const unknown = missing.filter((m) => m.file !== LIBC || m.version !== C23_VERSION || (m.symbol !== '' && !C23_ALIASES.has(m.symbol)));
  if (unknown.length > 0)
    throw new GlibcCompatError('UNKNOWN_SYMBOL', `needs what this libc lacks and the rewrite does not know: ${unknown.map(describe).join(', ')}`);

  const libc = libraries.get(LIBC);
  const need = elf.needs.find((f) => f.file === LIBC)?.versions.find((v) => v.name === C23_VERSION);
  if (libc === undefined || need === undefined) throw new GlibcCompatError('UNKNOWN_SYMBOL', `no ${C23_VERSION} requirement on ${LIBC}`);
  // The version the local libc gives all three classic functions, among those the binary names.
  const named = elf.needs.find((f) => f.file === LIBC)?.versions ?? [];
  const classic = named.find((v) => v.name !== C23_VERSION && [...C23_ALIASES.values()].every((fn) => libc.defined.has(`${fn}@${v.name}`)));
  if (classic === undefined) throw new GlibcCompatError('NO_CLASSIC_VERSION', `the local ${LIBC} has no version the binary names that defines ${[...C23_ALIASES.values()].join(', ')}`);

  /** @type {Patch[]} */
  const patches = [];
  for (const s of elf.dynsym) {
    if ((s.version & 0x7fff) !== need.other || s.name === '') continue;
    const alias = C23_ALIASES.get(s.name);
    // Every symbol bound to GLIBC_2.38 moves with the requirement: one we do not know would be rebound blindly.
    if (alias === undefined || !s.undefined) throw new GlibcCompatError('UNKNOWN_SYMBOL', `${s.name} also uses ${C23_VERSION}`);
    if (!s.name.endsWith(alias) || s.name.length - alias.length !== 9) throw new GlibcCompatError('UNKNOWN_SYMBOL', `${s.name} is not __isoc23_${alias}`);
    patches.push({ offset: s.offset, before: s.nameOffset, after: s.nameOffset + 9, what: `${s.name} -> ${alias}` });
  }
  patches.push(
    { offset: need.offset, before: need.hash, after: elfHash(classic.name), what: `vna_hash ${C23_VERSION} -> ${classic.name}` },
    { offset: need.offset + 8, before: need.nameOffset, after: classic.nameOffset, what: `vna_name ${C23_VERSION} -> ${classic.name}` },
  );
  return { status: 'rewrite', patches, missing };
}

/**
 * rewriteElf returns a rewritten copy of `buf` (the input is never modified), or null when it
 * needs nothing. The copy is checked before it is returned: only the planned words differ, and
 * it binds completely against `libraries` (GlibcCompatError UNVERIFIED otherwise).
 * @param {Buffer} buf
 * @param {Map<string, LibraryView>} libraries
 * @returns {{ buffer: Buffer, patches: Patch[] } | null}
 */
export function rewriteElf(buf, libraries) {
  const plan = planRewrite(buf, libraries);
  if (plan.status === 'compatible') return null;
  const out = Buffer.from(buf);
  for (const p of plan.patches) {
    if (out.readUInt32LE(p.offset) !== p.before) throw new GlibcCompatError('UNVERIFIED', `unexpected word at ${p.offset} (${p.what})`);
    out.writeUInt32LE(p.after, p.offset);
  }
  const rewritten = readElf(out);
  const left = missingBindings(rewritten, libraries);
  if (left.length > 0) throw new GlibcCompatError('UNVERIFIED', `still unbound after the rewrite: ${left.map(describe).join(', ')}`);
  // The dynamic linker matches a version by its hash first.
  for (const f of rewritten.needs) for (const v of f.versions) if (v.hash !== elfHash(v.name)) throw new GlibcCompatError('UNVERIFIED', `${f.file} ${v.name}: hash does not match the name`);
  let changed = 0;
  for (let i = 0; i < out.length; i++) if (out[i] !== buf[i]) changed++;
  if (changed > plan.patches.length * 4) throw new GlibcCompatError('UNVERIFIED', `${changed} bytes changed, more than planned`);
  return { buffer: out, patches: plan.patches };
}

/**
 * libraryView reads what one shared library defines.
 * @param {Buffer} buf
 * @returns {LibraryView}
 */
export function libraryView(buf) {
  const { defined, definedVersions } = readElf(buf);
  return { defined, definedVersions };
}

/**
 * localLibraries reads the libraries this very process runs on, found in /proc/self/maps, for
 * the given sonames: exactly the files the dynamic linker would bind a native addon against.
 * @param {Iterable<string>} sonames
 * @returns {Map<string, LibraryView>}
 */
export function localLibraries(sonames) {
  const wanted = new Set(sonames);
  const paths = new Map();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const file = line.slice(line.indexOf('/'));
    if (line.includes('/') && wanted.has(path.basename(file)) && !paths.has(path.basename(file))) paths.set(path.basename(file), file);
  }
  const views = new Map();
  for (const [soname, file] of paths) views.set(soname, libraryView(readFileSync(file)));
  return views;
}

/**
 * compatCopyPath is where the rewritten copy of a binary lives: beside it, `.glibc-compat.node`.
 * @param {string} file
 */
export function compatCopyPath(file) {
  return file.replace(/\.node$/, '.glibc-compat.node');
}

/**
 * writeCompatCopy writes the rewritten copy of `file` beside it when the local libraries need
 * one, and returns the patches it holds; when `file` binds as it is it removes any copy left
 * from before and returns null. Idempotent: an existing copy with the right bytes is kept. The
 * copy is written to a temporary name, synced and renamed, so it is whole or absent.
 * @param {string} file
 * @param {Map<string, LibraryView>} [libraries] defaults to this process's own libraries
 * @returns {{ patches: Patch[], written: boolean } | null}
 */
export function writeCompatCopy(file, libraries) {
  const buf = readFileSync(file);
  const libs = libraries ?? localLibraries(readElf(buf).needs.map((f) => f.file));
  const copy = compatCopyPath(file);
  const result = rewriteElf(buf, libs);
  if (result === null) {
    rmSync(copy, { force: true });
    return null;
  }
  if (existsSync(copy) && readFileSync(copy).equals(result.buffer)) return { patches: result.patches, written: false };
  const tmp = `${copy}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, result.buffer);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, copy);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { patches: result.patches, written: true };
}
