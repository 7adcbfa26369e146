/**
 * The htpasswd formats Flusso checks (issue 15 group 6): each verified against hashes made by
 * independent tools at test time (openssl passwd for $apr1$, $1$, $5$, $6$; bcryptjs for bcrypt;
 * node:crypto for {SHA}/{SSHA}), a wrong password refused, and unsupported lines reported.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { hashKind, parseHtpasswd } from '../../../../src/shared/htpasswd.js';
import { verifyHash } from '../../../../src/worker/auth/hashes.js';

const openssl = (...args: string[]): string => execFileSync('openssl', ['passwd', ...args], { encoding: 'utf8' }).trim();
const PASSWORDS = ['s3cret', '', 'a much longer password that is over sixteen bytes and then some more, past 64 bytes too!!', 'ünïcödé'];

describe('verifyHash', () => {
  it.each([
    ['$apr1$', (pw: string) => openssl('-apr1', '-salt', 'abcdefgh', pw)],
    ['$1$', (pw: string) => openssl('-1', '-salt', 'xyz', pw)],
    ['$5$', (pw: string) => openssl('-5', '-salt', 'saltsaltsaltsalt', pw)],
    ['$6$', (pw: string) => openssl('-6', '-salt', 'NaCl', pw)],
    ['$5$ with rounds', (pw: string) => openssl('-5', '-salt', 'rounds=1200$short', pw)],
    ['bcrypt $2b$', (pw: string) => bcrypt.hashSync(pw, 4)],
    ['bcrypt $2y$', (pw: string) => bcrypt.hashSync(pw, 4).replace('$2b$', '$2y$')],
    ['bcrypt $2a$', (pw: string) => bcrypt.hashSync(pw, 4).replace('$2b$', '$2a$')],
    ['{SHA}', (pw: string) => `{SHA}${createHash('sha1').update(pw).digest('base64')}`],
    ['{SSHA}', (pw: string) => `{SSHA}${Buffer.concat([createHash('sha1').update(pw).update('salt4').digest(), Buffer.from('salt4')]).toString('base64')}`],
    ['{PLAIN}', (pw: string) => `{PLAIN}${pw}`],
  ])('%s: the right password passes, a wrong one fails', (_name, make) => {
    for (const pw of PASSWORDS) {
      if (pw === '' && _name.startsWith('$')) continue; // openssl refuses an empty argument as a prompt
      const hash = make(pw);
      const kind = hashKind(hash);
      expect(kind, hash).toBeDefined();
      expect(verifyHash(kind!, hash, Buffer.from(pw)), `${hash} with ${pw}`).toBe(true);
      expect(verifyHash(kind!, hash, Buffer.from(`x${pw}`)), `${hash} with a wrong password`).toBe(false);
    }
  });
});

describe('parseHtpasswd', () => {
  it('reads user:hash lines, skips comments and blank lines, and reports what it cannot check', () => {
    const lines = parseHtpasswd(`# users\nann:{PLAIN}pw\n\nbob:$apr1$abcdefgh$${'a'.repeat(22)}:extra\nold:abJnggxhB/yWI\nbroken\n`);
    expect(lines).toEqual([
      { user: 'ann', hash: '{PLAIN}pw', kind: 'plain' },
      { user: 'bob', hash: `$apr1$abcdefgh$${'a'.repeat(22)}`, kind: 'apr1' },
      { line: 5, problem: 'for user "old" has a hash format Flusso does not check (supported: bcrypt $2a$/$2b$/$2y$, $apr1$, $1$, $5$, $6$, {SHA}, {SSHA}, {PLAIN})' },
      { line: 6, problem: 'is not "user:hash"' },
    ]);
  });
});
