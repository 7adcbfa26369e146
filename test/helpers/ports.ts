/**
 * Free TCP ports for processes the tests start. The port is released before it is returned, so
 * another process could take it in between; on a test machine that window is harmless. The
 * kernel may give the same port twice in a row once it is released, so each test process
 * remembers the ports it handed out and never hands one out again (a Flusso started with the
 * same port for --http-port and --admin-port refuses to start).
 */
import { createServer, type AddressInfo } from 'node:net';

/** Ports this test process handed out. */
const handedOut = new Set<number>();

/** askKernel asks the kernel for a free port on `host` and releases it. */
function askKernel(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** freePort asks the kernel for a free port on `host` (127.0.0.1 by default) that this process has not handed out before. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await askKernel(host);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port this test process has not handed out already, after 100 tries');
}

/** freePorts returns `n` distinct free ports. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) ports.push(await freePort(host));
  return ports;
}
