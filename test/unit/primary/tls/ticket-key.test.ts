import { describe, expect, it } from 'vitest';
import { TICKET_KEY_BYTES, ticketKey } from '../../../../src/primary/tls/ticket-key.js';

/** fileOf stands for readFileSync: one file's bytes, or the error a missing file gives. */
const fileOf = (bytes: Buffer | null) => (): Buffer => {
  if (bytes === null) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  return bytes;
};
const key = Buffer.from(Array.from({ length: TICKET_KEY_BYTES }, (_, i) => i));

describe('ticketKey', () => {
  it('makes a random 48-byte key without a file, a new one each start', () => {
    const [a, b] = [ticketKey(undefined), ticketKey(undefined)];
    expect([a.length, b.length, a.equals(b)]).toEqual([48, 48, false]);
  });

  it('reads 48 raw bytes, or their base64 with or without a final newline', () => {
    expect(ticketKey('/k', fileOf(key)).equals(key)).toBe(true);
    expect(ticketKey('/k', fileOf(Buffer.from(key.toString('base64')))).equals(key)).toBe(true);
    expect(ticketKey('/k', fileOf(Buffer.from(`${key.toString('base64')}\n`))).equals(key)).toBe(true);
  });

  it.each([
    ['a missing file', null, '--ssl-session-ticket-key /k: cannot be read (ENOENT)'],
    ["nginx's 80-byte key", Buffer.from(Buffer.alloc(80, 1).toString('base64')), "--ssl-session-ticket-key /k: its base64 decodes to 80 bytes, not 48 (nginx's 80-byte AES-256 keys are not what node takes: make one with `openssl rand 48 | base64`)"],
    ['32 bytes of base64', Buffer.from(Buffer.alloc(32, 1).toString('base64')), '--ssl-session-ticket-key /k: its base64 decodes to 32 bytes, not 48'],
    ['text that is not base64', Buffer.from('not a key at all!'), '--ssl-session-ticket-key /k: 17 bytes that are not base64; expected 48 bytes or their base64 (`openssl rand 48 | base64`)'],
  ])('refuses %s with a configuration error that never shows the content', (_name, bytes, message) => {
    expect(() => ticketKey('/k', fileOf(bytes))).toThrow(expect.objectContaining({ code: 'ING_ERR_CONFIG_INVALID', message }));
  });
});
