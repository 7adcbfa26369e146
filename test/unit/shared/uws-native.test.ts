/**
 * loadUws (src/shared/uws-native.ts): the native binding loads on the runtime the tests run on,
 * and every way it can fail to load becomes ING_ERR_UWS_NATIVE_MISSING with the reason.
 */
import { describe, expect, it } from 'vitest';
import { IngressError } from '../../../src/shared/errors.js';
import { loadUws } from '../../../src/shared/uws-native.js';

function failure(load: () => unknown): IngressError {
  try {
    loadUws(load);
  } catch (err) {
    return err as IngressError;
  }
  throw new Error('expected loadUws to throw');
}

describe('loadUws', () => {
  it('loads the native binding on this Node.js (24 or newer, as package.json engines says)', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
    const uws = loadUws();
    expect(typeof uws.SSLApp).toBe('function');
    expect(typeof uws.us_listen_socket_close).toBe('function');
    expect(loadUws()).toBe(uws); // loaded once
  });

  it('turns a binary that does not load into ING_ERR_UWS_NATIVE_MISSING with the loader\'s last line', () => {
    const err = failure(() => {
      throw new Error("This version of uWS.js (v20.57.0) supports only Node.js versions 20, 22, 24 and 25.\n\nError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found");
    });
    expect(err).toBeInstanceOf(IngressError);
    expect(err.code).toBe('ING_ERR_UWS_NATIVE_MISSING');
    expect(err.message).toContain("(Error: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found)");
    expect(err.message).toContain('docs/runtime.md');
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('refuses a module without SSLApp (a stand-in or a pure-JS fallback)', () => {
    const err = failure(() => ({ App: () => ({}), us_listen_socket_close: () => undefined }));
    expect(err.code).toBe('ING_ERR_UWS_NATIVE_MISSING');
    expect(err.message).toContain('lacks SSLApp');
  });

  it('silences the uWebSockets response header of a binding it accepts', () => {
    const flags: string[] = [];
    const fake = { App: () => ({}), SSLApp: () => ({}), us_listen_socket_close: () => undefined, _cfg: (f: string) => flags.push(f) };
    expect(loadUws(() => fake)).toBe(fake);
    expect(flags).toEqual(['silent']);
  });
});
