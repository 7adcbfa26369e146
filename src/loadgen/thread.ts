/**
 * The entry of a load thread (worker_threads): runs one LoadDriver over the shared counters and
 * histograms it is given, starts on the main thread's "start", stops early on "stop", and
 * posts "done" when its share of the run is over.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LoadDriver, type DriverConfig } from './driver.js';
import { HdrHistogram } from './hdr-histogram.js';

/** ThreadData is the workerData of a load thread. */
export interface ThreadData {
  readonly config: DriverConfig;
  readonly highestUs: number;
  readonly counters: SharedArrayBuffer;
  readonly latency: SharedArrayBuffer;
  readonly service: SharedArrayBuffer | null;
}

/** ThreadMessage is what a load thread posts. */
export type ThreadMessage = { readonly kind: 'ready' } | { readonly kind: 'done' };

const port = parentPort;
if (port === null) throw new Error('thread.ts runs as a worker thread of flusso bench');
const data = workerData as ThreadData;
const driver = new LoadDriver(
  data.config,
  new Float64Array(data.counters),
  new HdrHistogram(data.highestUs, data.latency),
  data.service === null ? null : new HdrHistogram(data.highestUs, data.service),
);
port.on('message', (m: unknown) => {
  if (m === 'start') {
    void driver.run().then(() => {
      port.postMessage({ kind: 'done' } satisfies ThreadMessage);
      port.close();
    });
  } else if (m === 'stop') driver.stop();
});
port.postMessage({ kind: 'ready' } satisfies ThreadMessage);
