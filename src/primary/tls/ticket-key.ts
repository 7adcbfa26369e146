/**
 * The TLS session ticket key (docs/tls.md, "Session resumption"): one key for every worker of a
 * process, from `--ssl-session-ticket-key` when given, so that replicas given the same file
 * resume each other's tickets (ingress-nginx's `ssl-session-ticket-key`), else random per start.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { IngressError } from '../../shared/errors.js';

/** TICKET_KEY_BYTES is the size of the ticket keys node takes (key name, HMAC and AES keys). */
export const TICKET_KEY_BYTES = 48;

/**
 * ticketKey reads the key file at `path` (48 raw bytes, or their base64 with or without a final
 * newline), or makes a random key when `path` is undefined. A file that is neither is a
 * configuration error naming the file and what it holds, never its content.
 */
export function ticketKey(path: string | undefined, read: (path: string) => Buffer = readFileSync): Buffer {
  if (path === undefined) return randomBytes(TICKET_KEY_BYTES);
  let bytes: Buffer;
  try {
    bytes = read(path);
  } catch (err) {
    throw new IngressError('ING_ERR_CONFIG_INVALID', `--ssl-session-ticket-key ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (bytes.length === TICKET_KEY_BYTES) return bytes;
  const text = bytes.toString('latin1').trim();
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    const decoded = Buffer.from(text, 'base64');
    if (decoded.length === TICKET_KEY_BYTES) return decoded;
    throw new IngressError('ING_ERR_CONFIG_INVALID', `--ssl-session-ticket-key ${path}: its base64 decodes to ${decoded.length} bytes, not ${TICKET_KEY_BYTES}${decoded.length === 80 ? " (nginx's 80-byte AES-256 keys are not what node takes: make one with `openssl rand 48 | base64`)" : ''}`);
  }
  throw new IngressError('ING_ERR_CONFIG_INVALID', `--ssl-session-ticket-key ${path}: ${bytes.length} bytes that are not base64; expected ${TICKET_KEY_BYTES} bytes or their base64 (\`openssl rand 48 | base64\`)`);
}
