/**
 * The worker's root logger: JSON lines on stdout, every line bound to its role and worker id.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyStdout } from '../shared/log-format.js';

export type { Logger };

/** WorkerLoggerOptions configures createWorkerLogger. */
export interface WorkerLoggerOptions {
  readonly workerId: number;
  /** A pino level name; an unknown one falls back to `info`. */
  readonly level: string;
  /** Where lines go; defaults to fd 1 (stdout). Tests pass a sink. */
  readonly destination?: DestinationStream;
  /** `pretty` writes one readable line per record instead of JSON. */
  readonly format?: 'json' | 'pretty';
}

/**
 * createWorkerLogger creates the worker's one root logger, bound to `{ role: 'worker',
 * workerId }`. Components take `log.child({ component })`. Writes are synchronous: the worker
 * logs nothing at info on the request path, and a line written just before `process.exit`
 * must not be lost.
 */
export function createWorkerLogger(options: WorkerLoggerOptions): Logger {
  const level = options.level in pino.levels.values || options.level === 'silent' ? options.level : 'info';
  const destination = options.destination ?? (options.format === 'pretty' ? prettyStdout() : pino.destination({ dest: 1, sync: true }));
  return pino({ level, base: { role: 'worker', workerId: options.workerId }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
