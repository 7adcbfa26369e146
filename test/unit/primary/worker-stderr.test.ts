/**
 * A worker's stderr reaches the primary's stderr line by line, except uWebSockets.js's warning
 * about the 101 written outside a cork on purpose (docs/websocket.md, "The 101 outside a cork").
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UNCORKED_WRITE_WARNING, readStderr } from '../../../src/primary/workers.js';

async function pass(chunks: string[]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (d: Buffer) => (out += d.toString()));
  readStderr(input, output);
  for (const c of chunks) input.write(c);
  input.end();
  await once(input, 'end');
  await new Promise((resolve) => setImmediate(resolve));
  return out;
}

describe('readStderr', () => {
  it('drops the uncorked-write warning, also when it arrives in pieces, and keeps every other line', async () => {
    const half = UNCORKED_WRITE_WARNING.length >> 1;
    const out = await pass([
      'FATAL ERROR: something\n',
      UNCORKED_WRITE_WARNING.slice(0, half),
      UNCORKED_WRITE_WARNING.slice(half),
      '\n',
      `${UNCORKED_WRITE_WARNING}\n`,
      '    at frame (file.js:1:1)\n',
    ]);
    expect(out).toBe('FATAL ERROR: something\n    at frame (file.js:1:1)\n');
  });

  it('keeps a line that only contains the warning among other text', async () => {
    const out = await pass([`worker says: ${UNCORKED_WRITE_WARNING}\n`]);
    expect(out).toBe(`worker says: ${UNCORKED_WRITE_WARNING}\n`);
  });
});
