/**
 * The entry module of the compile thread (piscina `filename`): one mirror per thread, and the
 * result's byte buffers transferred back rather than copied.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { createCompileTask, type CompileTaskInput, type CompileTaskOutput } from './compile-task.js';

const task = createCompileTask();

/** compile runs one CompileTaskInput on this thread's mirror (piscina task `compile`). */
export function compile(input: CompileTaskInput): CompileTaskOutput {
  const out = task(input);
  if (out.kind !== 'compiled') return out;
  return move({
    get [transferableSymbol]() {
      return [out.tableBytes.buffer, out.stateBytes.buffer];
    },
    get [valueSymbol]() {
      return out;
    },
  }) as unknown as CompileTaskOutput;
}
