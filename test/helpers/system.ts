/**
 * systemBinary finds a Debian package's program for a test: on PATH, else in the sbin directories
 * a non-root user's PATH leaves out (Debian installs nginx as /usr/sbin/nginx). Returns the name
 * unchanged when it is nowhere, so spawn fails with ENOENT naming it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';

export function systemBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return name;
}

/**
 * nginxPreamble is the top of a test nginx.conf that keeps everything inside `dir`: one worker,
 * errors and pid there, no access log, temp paths there; it ends inside the open `http {` block.
 */
export function nginxPreamble(dir: string): string {
  return `daemon off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
`;
}

/** Nginx is a running nginx started by startNginx. */
export interface Nginx {
  readonly process: ChildProcess;
  /** stop sends SIGTERM and waits for the exit. */
  stop(): Promise<void>;
}

/**
 * startNginx runs nginx with `dir/nginx.conf` (prefix `dir`) and resolves once `port` on
 * 127.0.0.1 accepts connections; it throws with nginx's stderr when nginx exits or never listens.
 */
export async function startNginx(dir: string, port: number): Promise<Nginx> {
  const child = spawn(systemBinary('nginx'), ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
  };
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return { process: child, stop };
    if (i > 100 || child.exitCode !== null) {
      await stop();
      throw new Error(`nginx did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
