/**
 * Turns Flusso's pino JSON log lines into one short human line each for the demo's terminal.
 */

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
