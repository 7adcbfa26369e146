// The cost of one password check per htpasswd format (issue 15 group 6, docs/annotations.md
// "Basic authentication"): what the verifier thread spends, and why the expensive formats never
// run on a worker's event loop. Run after `npm run build`:
//   flock /tmp/flusso-bench.lock node bench/auth/hash-cost.mjs
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { hashKind } from '../../dist/shared/htpasswd.js';
import { verifyHash } from '../../dist/worker/auth/hashes.js';

const pw = 'correct horse battery staple';
const openssl = (...a) => execFileSync('openssl', ['passwd', ...a, pw], { encoding: 'utf8' }).trim();
const cases = [
  ['bcrypt cost 10', bcrypt.hashSync(pw, 10)],
  ['bcrypt cost 12', bcrypt.hashSync(pw, 12)],
  ['$apr1$', openssl('-apr1')],
  ['$1$', openssl('-1')],
  ['$5$ (5000 rounds)', openssl('-5')],
  ['$6$ (5000 rounds)', openssl('-6')],
  ['{SSHA}', `{SSHA}${Buffer.concat([createHash('sha1').update(pw).update('salt').digest(), Buffer.from('salt')]).toString('base64')}`],
];
const password = Buffer.from(pw);
for (const [name, hash] of cases) {
  const kind = hashKind(hash);
  verifyHash(kind, hash, password); // warm-up
  const n = name.startsWith('bcrypt') ? 5 : 50;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (!verifyHash(kind, hash, password)) throw new Error(`${name} failed`);
  const ms = (performance.now() - t0) / n;
  console.log(`${name.padEnd(20)} ${ms.toFixed(2).padStart(8)} ms per check`);
}
