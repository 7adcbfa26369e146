/**
 * Free TCP ports for processes the tests start. The port is released before it is returned, so
 * another process could take it in between; on a test machine that window is harmless.
 */
import { createServer, type AddressInfo } from 'node:net';

/** freePort asks the kernel for a free port on `host` (127.0.0.1 by default) and releases it. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** freePorts returns `n` distinct free ports. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort(host));
  return [...ports];
}
