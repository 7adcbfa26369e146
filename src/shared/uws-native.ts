/**
 * The one place that loads uWebSockets.js, for both its users: the worker's proxy front and the
 * primary's admin server. Like process-stats.ts it is a deliberate exception to shared/ being
 * free of I/O: loading the native binding must fail the same clear way on both sides.
 *
 * On glibc 2.36 and 2.37 the install step writes a rewritten copy of the binary beside the
 * package's own (`uws_<platform>_<arch>_<abi>.glibc-compat.node`, scripts/glibc-compat.mjs);
 * when it exists for this Node.js ABI it is loaded instead. Otherwise the package's loader
 * picks the binary, and throws when none fits this platform, Node.js ABI or libc (musl/Alpine,
 * a Node.js major it has no build for, an older glibc; docs/runtime.md). A static `import`
 * would surface that as a stack trace from the module graph; loading it here, on first use,
 * turns it into ING_ERR_UWS_NATIVE_MISSING with the reason, so startup exits 1 with a message
 * an operator can act on.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type uWSModule from 'uWebSockets.js';
import { IngressError } from './errors.js';

/** Uws is the uWebSockets.js module (its default export). */
export type Uws = typeof uWSModule;

const HINT = 'Flusso needs glibc 2.36+ (not musl/Alpine) and a Node.js the build ships for (24: bin/flusso and the npm scripts use the one npm ci installs); see docs/runtime.md';

let loaded: Uws | null = null;

/** requireUws loads the rewritten copy for this ABI when the install step wrote one, else the package. */
function requireUws(): unknown {
  const require = createRequire(import.meta.url);
  const copy = join(dirname(require.resolve('uWebSockets.js')), `uws_${process.platform}_${process.arch}_${process.versions.modules}.glibc-compat.node`);
  return existsSync(copy) ? require(copy) : require('uWebSockets.js');
}

/**
 * loadUws returns the native uWebSockets.js binding, loading it once. It throws IngressError
 * ING_ERR_UWS_NATIVE_MISSING when the binary does not load, or when what loaded lacks the API
 * Flusso relies on (SSLApp, listen-socket control): never run on a stand-in. `load` is for tests.
 */
export function loadUws(load: () => unknown = requireUws): Uws {
  if (loaded !== null && load === requireUws) return loaded;
  let mod: unknown;
  try {
    mod = load();
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n').filter((l) => l.trim() !== '').at(-1) ?? 'unknown error';
    throw new IngressError('ING_ERR_UWS_NATIVE_MISSING', `the native uWebSockets.js binding did not load (${reason}). ${HINT}`, { cause: err });
  }
  const u = mod as Partial<Uws> | null;
  if (u === null || typeof u.SSLApp !== 'function' || typeof u.App !== 'function' || typeof u.us_listen_socket_close !== 'function')
    throw new IngressError('ING_ERR_UWS_NATIVE_MISSING', `the native uWebSockets.js binding did not load (the module lacks SSLApp). ${HINT}`);
  // No `uWebSockets: 20` header on every response.
  (u as { _cfg?: (flag: string) => void })._cfg?.('silent');
  if (load === requireUws) loaded = u as Uws;
  return u as Uws;
}
