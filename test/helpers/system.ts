/**
 * systemBinary finds a Debian package's program for a test: on PATH, else in the sbin directories
 * a non-root user's PATH leaves out (Debian installs nginx as /usr/sbin/nginx). Returns the name
 * unchanged when it is nowhere, so spawn fails with ENOENT naming it.
 */
import { accessSync, constants } from 'node:fs';
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
