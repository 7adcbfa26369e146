import { describe, expect, it } from 'vitest';
import { parseCommandLine, type Config } from '../../../src/primary/config.js';
import { IngressError } from '../../../src/shared/errors.js';

const ctx = { env: {}, cpus: 2, demoManifests: '/pkg/demo/manifests', readFile: (): string => '' };

function http2Of(argv: string[], env: Record<string, string> = {}): boolean {
  const req = parseCommandLine(argv, { ...ctx, env });
  if (req.kind !== 'run') throw new Error(`expected run, got ${req.kind}`);
  return (req.config as Config).http2;
}

// Issue 12 item 2: `--http2 on|off`, on by default as ingress-nginx's use-http2 (docs/http2.md).
describe('--http2', () => {
  it.each([
    { argv: [], want: true },
    { argv: ['--http2', 'off'], want: false },
    { argv: ['--http2', 'on'], want: true },
    { argv: ['--http2=off'], want: false },
    { argv: ['--http2', 'false'], want: false },
    { argv: ['--http2'], want: true },
  ])('$argv gives $want', ({ argv, want }) => {
    expect(http2Of(argv)).toBe(want);
  });

  it('reads FLUSSO_HTTP2', () => {
    expect(http2Of([], { FLUSSO_HTTP2: 'off' })).toBe(false);
  });

  it('refuses a value that is not on or off, naming the flag', () => {
    let err: unknown;
    try {
      parseCommandLine(['--http2=maybe'], { ...ctx, env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IngressError);
    expect((err as IngressError).message).toContain('--http2');
    expect((err as IngressError).message).toContain('on or off');
  });
});
