// exitOnHelp: `--help` / `-h` on any bench entry point prints the script's own header comment
// (what it measures, its knobs, what it needs) and exits 0 before anything starts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function exitOnHelp(moduleUrl, argv = process.argv.slice(2)) {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const file = fileURLToPath(moduleUrl);
  const lines = readFileSync(file, 'utf8').split('\n');
  const out = [];
  let i = lines[0]?.startsWith('#!') ? 1 : 0;
  if (lines[i]?.trim().startsWith('/**')) {
    for (i++; i < lines.length && !lines[i].trim().startsWith('*/'); i++) out.push(lines[i].replace(/^\s*\* ?/, ''));
  } else {
    for (; i < lines.length && lines[i].startsWith('//'); i++) out.push(lines[i].replace(/^\/\/ ?/, ''));
  }
  console.log(`usage: node ${file.slice(file.indexOf('bench/'))} [options]\n\n${out.join('\n').trim()}`);
  process.exit(0);
}
