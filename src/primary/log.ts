/**
 * The primary's root logger: pino, JSON lines on stdout, bound to `{ role: 'primary' }`.
 * Components get `log.child({ component })`.
 */
import { pino, type Logger } from 'pino';

/** createPrimaryLogger builds the one root logger of the primary process. */
export function createPrimaryLogger(level: string): Logger {
  return pino({ level, base: { role: 'primary', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
