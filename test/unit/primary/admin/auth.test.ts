import { describe, expect, it } from 'vitest';
import { bearerMatches, generateToken, originAllowed, tokenFromProtocols, tokenMatches } from '../../../../src/primary/admin/auth.js';

describe('admin auth', () => {
  const token = generateToken();

  it('generates long URL-safe tokens that differ', () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(generateToken()).not.toBe(token);
  });

  it.each([
    [`Bearer ${token}`, true],
    [`bearer ${token}`, true],
    [`Bearer  ${token} `, true],
    [`Bearer ${token}x`, false],
    [`Basic ${token}`, false],
    [token, false],
    ['', false],
  ])('Authorization %j → %s', (header, want) => {
    expect(bearerMatches(header, token)).toBe(want);
  });

  it('compares tokens of any length without throwing', () => {
    expect(tokenMatches('', token)).toBe(false);
    expect(tokenMatches(token, token)).toBe(true);
  });

  it.each([
    ['', '127.0.0.1:8081', true],
    ['http://127.0.0.1:8081', '127.0.0.1:8081', true],
    ['http://evil.example', '127.0.0.1:8081', false],
    ['http://127.0.0.1:9999', '127.0.0.1:8081', false],
    ['null', '127.0.0.1:8081', false],
  ])('Origin %j for Host %s → %s', (origin, host, want) => {
    expect(originAllowed(origin, host)).toBe(want);
  });

  it('reads the token from the WebSocket subprotocols', () => {
    expect(tokenFromProtocols(`flusso.live.v1, bearer.${token}`)).toBe(token);
    expect(tokenFromProtocols('flusso.live.v1')).toBe('');
  });
});
