/**
 * The GUI's static files (`gui/` at the package root), read once at start and served from
 * memory with an ETag. Everything is local: no CDN, no external fonts.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

/** GuiAsset is one file ready to serve. */
export interface GuiAsset {
  readonly type: string;
  readonly body: Uint8Array;
  readonly etag: string;
}

/** GuiAssets maps a request path to an asset (`/` is index.html). */
export interface GuiAssets {
  get(path: string): GuiAsset | undefined;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** loadGuiAssets reads every file of `dir` (not recursive) into memory. */
export function loadGuiAssets(dir: string): GuiAssets {
  const assets = new Map<string, GuiAsset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(join(dir, name));
    assets.set(`/${name}`, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  const index = assets.get('/index.html');
  return { get: (path) => (path === '/' ? index : assets.get(path)) };
}
