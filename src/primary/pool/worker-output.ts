/**
 * What a worker process writes to its stdout and stderr. Its log goes to fd 3 (the primary's
 * stdout); fd 1 and 2 are pipes the primary reads, because uWebSockets.js prints lines of its
 * own there.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';

/** UWS_STDOUT_NOISE matches the lines uWebSockets.js prints on its own when it sets up server names. */
const UWS_STDOUT_NOISE = /^(finding |Browsed to SNI: |Cannot browse to SNI: )/;

/**
 * UNCORKED_WRITE_WARNING is the line uWebSockets.js prints on stderr for every response write
 * outside a cork. The worker writes a WebSocket's 101 outside one on purpose: uWS 20.57 can lose
 * a socket upgraded inside a cork (docs/websocket.md, "The 101 outside a cork").
 */
export const UNCORKED_WRITE_WARNING = 'Warning: uWS.HttpResponse writes must be made from within a corked callback. See documentation for uWS.HttpResponse.cork and consult the user manual.';

/**
 * readStdout reads what a worker writes to its stdout: uWebSockets.js's own lines (`finding
 * <name>`, `Browsed to SNI: <name>`, `Cannot browse to SNI: <name>`), printed while it sets up
 * TLS server names, are dropped; anything else is logged as a warning rather than mixed into
 * the JSON log.
 */
export function readStdout(workerId: number, stdout: Readable, log: Logger): void {
  createInterface({ input: stdout }).on('line', (line) => {
    if (line === '' || UWS_STDOUT_NOISE.test(line)) return;
    log.warn({ workerId, line: line.slice(0, 500) }, 'worker wrote to stdout');
  });
}

/**
 * readStderr passes a worker's stderr on to `out` line by line (crash reports, Node.js warnings),
 * except uWebSockets.js's warning about the 101 a worker writes outside a cork on purpose.
 */
export function readStderr(stderr: Readable, out: NodeJS.WritableStream): void {
  createInterface({ input: stderr, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    if (line !== UNCORKED_WRITE_WARNING) out.write(`${line}\n`);
  });
}
