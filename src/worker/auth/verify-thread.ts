/**
 * The verifier thread of a worker (worker/auth/verifier.ts): it runs the expensive password
 * hashes (bcrypt, $apr1$, $1$, $5$, $6$) so the worker's event loop never does.
 */
import { parentPort } from 'node:worker_threads';
import type { HashKind } from '../../shared/htpasswd.js';
import { verifyHash } from './hashes.js';

/** VerifyRequest is one job; the answer is `{ id, ok }`. */
export interface VerifyRequest {
  readonly id: number;
  readonly kind: HashKind;
  readonly hash: string;
  readonly password: Uint8Array;
}

parentPort?.on('message', (m: VerifyRequest) => {
  let ok = false;
  try {
    ok = verifyHash(m.kind, m.hash, Buffer.from(m.password));
  } catch {
    ok = false; // a malformed hash matches nothing
  }
  parentPort?.postMessage({ id: m.id, ok });
});
