/**
 * The primary's root logger: pino, JSON lines on stdout (or one readable line per record with
 * `--log-format pretty`), bound to `{ role: 'primary' }`. Components get `log.child({ component })`.
 */
import { pino, type Logger } from 'pino';
import { prettyStdout } from '../shared/log-format.js';

/** createPrimaryLogger builds the one root logger of the primary process. */
export function createPrimaryLogger(level: string, format: 'json' | 'pretty' = 'json'): Logger {
  const options = { level, base: { role: 'primary', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  return format === 'pretty' ? pino(options, prettyStdout()) : pino(options);
}

export type { Logger };
