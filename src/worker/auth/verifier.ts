/**
 * Password checks for `auth-type: basic` without stalling the event loop (docs/annotations.md
 * "Basic authentication"): the cheap formats ({PLAIN}, {SHA}, {SSHA}: one hash) are checked at
 * once; the expensive ones (bcrypt: tens of milliseconds at cost 10; $apr1$/$1$: 1,000 MD5 rounds;
 * $5$/$6$: 5,000 SHA rounds) go to one verifier thread per worker, started on first use, with at
 * most MAX_QUEUED jobs waiting (beyond: refused, the caller answers 503). Every result is kept
 * (bounded) under a SHA-256 of the hash and the password, never the password itself, so a client
 * that sends the same credentials again costs one lookup, and a changed Secret (a new hash) is a
 * new key.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { CHEAP_HASHES, type HashKind } from '../../shared/htpasswd.js';
import { verifyHash } from './hashes.js';
import type { VerifyRequest } from './verify-thread.js';

const THREAD_ENTRY = new URL('./verify-thread.js', import.meta.url);
/** Jobs waiting for the thread beyond which a check is refused: 64 bcrypt checks at cost 10 are about 5 s of work (bench/auth/hash-cost.mjs). */
const MAX_QUEUED = 64;
/** Results kept; past this the oldest goes. */
const MAX_CACHED = 10_000;

/** HashVerifier checks passwords for one worker. */
export class HashVerifier {
  #thread: Worker | null = null;
  readonly #waiting = new Map<number, (ok: boolean | null) => void>();
  #next = 1;
  readonly #cache = new Map<string, boolean>();

  /** queued is the number of jobs the thread has not answered. */
  get queued(): number {
    return this.#waiting.size;
  }

  /**
   * known returns the kept result for these credentials, or undefined; a cheap format is checked
   * now (and kept). `key` is set for verify() to use.
   */
  known(kind: HashKind, hash: string, password: Buffer): { readonly ok: boolean | undefined; readonly key: string } {
    const key = createHash('sha256').update(hash).update('\0').update(password).digest('base64');
    let ok = this.#cache.get(key);
    if (ok === undefined && CHEAP_HASHES.has(kind)) {
      ok = verifyHash(kind, hash, password);
      this.#keep(key, ok);
    }
    return { ok, key };
  }

  /** verify checks on the thread and calls `done` with the result, or null when the queue is full or the thread failed. */
  verify(kind: HashKind, hash: string, password: Buffer, key: string, done: (ok: boolean | null) => void): void {
    if (this.#waiting.size >= MAX_QUEUED) {
      setImmediate(done, null);
      return;
    }
    const id = this.#next++;
    this.#waiting.set(id, (ok) => {
      if (ok !== null) this.#keep(key, ok);
      done(ok);
    });
    const job: VerifyRequest = { id, kind, hash, password: new Uint8Array(password) };
    this.#start().postMessage(job);
  }

  /** close stops the thread; waiting checks get null. */
  close(): void {
    const t = this.#thread;
    this.#thread = null;
    this.#failAll();
    void t?.terminate();
  }

  #start(): Worker {
    if (this.#thread !== null) return this.#thread;
    const t = new Worker(THREAD_ENTRY);
    t.unref();
    t.on('message', (m: { id: number; ok: boolean }) => {
      const done = this.#waiting.get(m.id);
      if (done === undefined) return;
      this.#waiting.delete(m.id);
      done(m.ok === true);
    });
    const gone = (): void => {
      if (this.#thread !== t) return;
      this.#thread = null; // the next check starts another
      this.#failAll();
    };
    t.on('error', gone);
    t.on('exit', gone);
    this.#thread = t;
    return t;
  }

  #failAll(): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const done of waiting) done(null);
  }

  #keep(key: string, ok: boolean): void {
    if (this.#cache.size >= MAX_CACHED) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, ok);
  }
}
