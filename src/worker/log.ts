/**
 * The worker's root logger: JSON lines on stdout, every line bound to its role and worker id.
 *
 * A worker forked by the primary writes its log to file descriptor 3, which is the primary's
 * own stdout: the worker's fd 1 is a pipe the primary filters, because uWebSockets.js prints
 * lines of its own to stdout when it sets up TLS server names (docs/tls.md).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyStdout } from '../shared/log-format.js';

export type { Logger };

/** WorkerLoggerOptions configures createWorkerLogger. */
export interface WorkerLoggerOptions {
  readonly workerId: number;
  /** A pino level name; an unknown one falls back to `info`. */
  readonly level: string;
  /** Where lines go; defaults to file descriptor `fd`. Tests pass a sink. */
  readonly destination?: DestinationStream;
  /** The file descriptor of the log (default 1, stdout; 3 in a worker the primary forked). */
  readonly fd?: number;
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
  const fd = options.fd ?? 1;
  const destination = options.destination ?? (options.format === 'pretty' ? prettyStdout(fd) : pino.destination({ dest: fd, sync: true }));
  return pino({ level, base: { role: 'worker', workerId: options.workerId }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
