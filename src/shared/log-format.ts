/**
 * Turns Flusso's pino JSON log lines into one short human line each: `--log-format pretty`
 * and the demo's terminal use it. prettyStdout is the one writer both processes share.
 */
import { writeSync } from 'node:fs';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'role', 'msg']);

/** formatLogLine renders a pino line as `  [role] level msg {fields}`; other text is returned as is. */
export function formatLogLine(line: string): string {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return line;
  const r = rec as Record<string, unknown>;
  const who = r.role === 'worker' && r.workerId !== undefined ? `worker ${String(r.workerId)}` : String(r.role ?? 'flusso');
  const level = typeof r.level === 'number' ? (LEVELS[r.level] ?? String(r.level)) : String(r.level ?? '');
  const fields = Object.fromEntries(Object.entries(r).filter(([k]) => !HIDDEN.has(k) && !(k === 'workerId' && r.role === 'worker')));
  const extra = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  return `  [${who}] ${level} ${String(r.msg ?? '')}${extra}`;
}

/** prettyLine renders a pino line with its time first, for `--log-format pretty`. */
export function prettyLine(line: string): string {
  let time = '';
  try {
    const t = (JSON.parse(line) as { time?: unknown }).time;
    if (typeof t === 'string') time = t.slice(11, 23);
    else if (typeof t === 'number') time = new Date(t).toISOString().slice(11, 23);
  } catch {
    return line;
  }
  return `${time}${formatLogLine(line).replace(/^ {2}/, ' ')}`;
}

/** prettyStdout is a pino destination writing each record to stdout (or file descriptor `fd`) in the readable form, synchronously. */
export function prettyStdout(fd = 1): { write(line: string): void } {
  return { write: (line: string) => void writeSync(fd, `${prettyLine(line.trimEnd())}\n`) };
}
