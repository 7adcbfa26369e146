/**
 * Password hash verification for `auth-type: basic` (shared/htpasswd.ts lists the formats), with
 * node:crypto and bcryptjs. verifyHash is synchronous and, for bcrypt, $apr1$/$1$ (1,000 MD5
 * rounds), $5$/$6$ (5,000 SHA rounds by default), expensive: the worker runs those on its
 * verifier thread (worker/auth/verifier.ts), never on the event loop. Comparisons are constant-time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { HashKind } from '../../shared/htpasswd.js';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** verifyHash says whether `password` (its UTF-8 bytes) matches `hash` of format `kind`. */
export function verifyHash(kind: HashKind, hash: string, password: Buffer): boolean {
  switch (kind) {
    case 'plain':
      return same(Buffer.from(hash.slice(7), 'utf8'), password);
    case 'sha':
      return same(Buffer.from(hash.slice(5), 'base64'), createHash('sha1').update(password).digest());
    case 'ssha': {
      const raw = Buffer.from(hash.slice(6), 'base64');
      return same(raw.subarray(0, 20), createHash('sha1').update(password).update(raw.subarray(20)).digest());
    }
    case 'apr1':
    case 'md5crypt': {
      const magic = kind === 'apr1' ? '$apr1$' : '$1$';
      const salt = hash.slice(magic.length, hash.indexOf('$', magic.length));
      return same(Buffer.from(md5crypt(password, Buffer.from(salt, 'latin1'), magic)), Buffer.from(hash));
    }
    case 'sha256crypt':
    case 'sha512crypt':
      return same(Buffer.from(shacrypt(kind === 'sha256crypt' ? 'sha256' : 'sha512', password, hash)), Buffer.from(hash));
    case 'bcrypt':
      // bcryptjs reads $2a$/$2b$; $2y$ is the same algorithm (PHP's name for the fixed $2a$).
      return bcrypt.compareSync(password.toString('utf8'), hash.replace(/^\$2y\$/, '$2b$'));
  }
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function to64(v: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[v & 0x3f];
    v >>>= 6;
  }
  return out;
}

/** md5crypt is the MD5-based crypt (Poul-Henning Kamp's; Apache's $apr1$ differs only in its magic). */
export function md5crypt(pw: Buffer, salt: Buffer, magic: string): string {
  const ctx = createHash('md5').update(pw).update(magic).update(salt);
  let final = createHash('md5').update(pw).update(salt).update(pw).digest();
  for (let pl = pw.length; pl > 0; pl -= 16) ctx.update(final.subarray(0, Math.min(pl, 16)));
  for (let i = pw.length; i > 0; i >>= 1) ctx.update((i & 1) !== 0 ? Buffer.from([0]) : pw.subarray(0, 1));
  final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const c = createHash('md5');
    c.update((i & 1) !== 0 ? pw : final);
    if (i % 3 !== 0) c.update(salt);
    if (i % 7 !== 0) c.update(pw);
    c.update((i & 1) !== 0 ? final : pw);
    final = c.digest();
  }
  const f = final;
  const g = (a: number, b: number, c: number): string => to64(((f[a] as number) << 16) | ((f[b] as number) << 8) | (f[c] as number), 4);
  return `${magic}${salt.toString('latin1')}$${g(0, 6, 12)}${g(1, 7, 13)}${g(2, 8, 14)}${g(3, 9, 15)}${g(4, 10, 5)}${to64(f[11] as number, 2)}`;
}

const ORDER_256 = [[0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14], [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29]];
const ORDER_512 = [[0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41]];

/** shacrypt is Ulrich Drepper's SHA-crypt ($5$ / $6$): the whole hash string for `setting` (its rounds and salt). */
export function shacrypt(alg: 'sha256' | 'sha512', pw: Buffer, setting: string): string {
  const magic = alg === 'sha256' ? '$5$' : '$6$';
  let rest = setting.slice(3);
  let rounds = 5000;
  let custom = false;
  const m = /^rounds=(\d+)\$/.exec(rest);
  if (m !== null) {
    rounds = Math.min(999_999_999, Math.max(1000, Number(m[1])));
    custom = true;
    rest = rest.slice(m[0].length);
  }
  const end = rest.indexOf('$');
  const salt = Buffer.from((end < 0 ? rest : rest.slice(0, end)).slice(0, 16), 'latin1');
  const size = alg === 'sha256' ? 32 : 64;
  const H = () => createHash(alg);
  const B = H().update(pw).update(salt).update(pw).digest();
  const a = H().update(pw).update(salt);
  let n = pw.length;
  for (; n > size; n -= size) a.update(B);
  a.update(B.subarray(0, n));
  for (let i = pw.length; i > 0; i >>= 1) a.update((i & 1) !== 0 ? B : pw);
  let C = a.digest();
  const dp = H();
  for (let i = 0; i < pw.length; i++) dp.update(pw);
  const DP = dp.digest();
  const P = Buffer.alloc(pw.length);
  for (let i = 0; i < pw.length; i++) P[i] = DP[i % size] as number;
  const ds = H();
  for (let i = 0; i < 16 + (C[0] as number); i++) ds.update(salt);
  const DS = ds.digest();
  const S = Buffer.alloc(salt.length);
  for (let i = 0; i < salt.length; i++) S[i] = DS[i % size] as number;
  for (let i = 0; i < rounds; i++) {
    const h = H();
    h.update((i & 1) !== 0 ? P : C);
    if (i % 3 !== 0) h.update(S);
    if (i % 7 !== 0) h.update(P);
    h.update((i & 1) !== 0 ? C : P);
    C = h.digest();
  }
  let out = '';
  for (const [x, y, z] of alg === 'sha256' ? ORDER_256 : ORDER_512) out += to64(((C[x as number] as number) << 16) | ((C[y as number] as number) << 8) | (C[z as number] as number), 4);
  out += alg === 'sha256' ? to64(((C[31] as number) << 8) | (C[30] as number), 3) : to64(C[63] as number, 2);
  return `${magic}${custom ? `rounds=${rounds}$` : ''}${salt.toString('latin1')}$${out}`;
}
