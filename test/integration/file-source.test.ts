import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { compileSnapshot } from '../../src/primary/compile/index.js';
import type { ObjectView, KubeObject } from '../../src/primary/model.js';
import { FileSource } from '../../src/primary/sources/file-source.js';
import type { SourceUpdate } from '../../src/primary/sources/source.js';
import { IngressError, type ErrorCode } from '../../src/shared/errors.js';
import { OPTS, backend, endpointSlice, ingress, ingressClass, path, rule, service, sliceEndpoint } from '../helpers/k8s.js';

/** Updates records every onUpdate call and lets a test wait for a state, never for time. */
class Updates {
  count = 0;
  latest: SourceUpdate | undefined;
  #waiters: { check: (u: SourceUpdate) => boolean; resolve: (u: SourceUpdate) => void }[] = [];

  readonly onUpdate = (u: SourceUpdate): void => {
    this.count++;
    this.latest = u;
    for (const w of [...this.#waiters]) {
      if (!w.check(u)) continue;
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve(u);
    }
  };

  /** until resolves with the first update (the latest one included) for which `check` holds. */
  until(check: (u: SourceUpdate) => boolean): Promise<SourceUpdate> {
    if (this.latest !== undefined && check(this.latest)) return Promise.resolve(this.latest);
    return new Promise((resolve) => this.#waiters.push({ check, resolve }));
  }
}

const yamlOf = (...objects: KubeObject[]): string => objects.map((o) => stringify(o)).join('---\n');
const serviceOf = (view: ObjectView, key: string) => {
  const [ns = '', name = ''] = key.split('/');
  return view.service(ns, name);
};
const portsOf = (view: ObjectView, key: string) => serviceOf(view, key)?.spec?.ports?.map((p) => p.port);
const codesOf = (u: SourceUpdate): [ErrorCode, string | undefined][] => u.diagnostics.map((d) => [d.code, d.file]);

let dir: string;
let source: FileSource | undefined;
let logLines: Record<string, unknown>[];
let updates: Updates;

async function start(): Promise<SourceUpdate> {
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
  });
  source = new FileSource({ dir, log: pino({ level: 'debug' }, sink), debounceMs: 20 });
  await source.start(updates.onUpdate);
  if (updates.latest === undefined) throw new Error('start resolved before the first update');
  return updates.latest;
}

/** writeAtomic writes beside the target under a dotfile name (ignored), then renames it in. */
async function writeAtomic(name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, join(dir, name));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flusso-file-source-'));
  logLines = [];
  updates = new Updates();
});

afterEach(async () => {
  await source?.stop();
  source = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('FileSource', () => {
  it('loads every manifest file once before start resolves, skipping dotfiles and other extensions', async () => {
    await writeFile(
      join(dir, 'a-routes.yaml'),
      yamlOf(ingressClass(), ingress('shop/web', { rules: [rule('shop.example.com', path('/', backend('web')))] })),
    );
    await writeFile(join(dir, 'b-backends.yml'), yamlOf(service('shop/web'), endpointSlice('shop/web-1', { service: 'web', endpoints: [sliceEndpoint('10.0.0.1')] })));
    await writeFile(join(dir, 'c-extra.json'), JSON.stringify(service('shop/api')));
    await writeFile(join(dir, '.hidden.yaml'), yamlOf(service('shop/hidden')));
    await writeFile(join(dir, 'notes.txt'), 'not a manifest');

    const first = await start();
    expect(updates.count).toBe(1);
    expect(first.diagnostics).toEqual([]);
    expect(serviceOf(first.view, 'shop/api')).toBeDefined();
    expect(serviceOf(first.view, 'shop/hidden')).toBeUndefined();
    const { table } = compileSnapshot(first.view, OPTS);
    expect(table.hosts.map((h) => h.host)).toEqual(['shop.example.com']);
    expect(table.backends[0]?.endpoints.map((e) => e.address)).toEqual(['10.0.0.1']);
  });

  it('says which objects changed after the first load, naming a slice\'s Services before and after', async () => {
    await writeFile(join(dir, 'a.yaml'), yamlOf(ingressClass(), service('shop/web'), service('shop/api'), endpointSlice('shop/web-1', { service: 'web', endpoints: [sliceEndpoint('10.0.0.1')] })));
    await writeFile(join(dir, 'b.yaml'), yamlOf(service('shop/other')));
    const first = await start();
    expect(first.changes).toBeUndefined();

    // One atomic rewrite: Service api goes, the slice moves from Service web to api; b.yaml is untouched.
    await writeAtomic('a.yaml', yamlOf(ingressClass(), service('shop/web'), endpointSlice('shop/web-1', { service: 'api', endpoints: [sliceEndpoint('10.0.0.2')] })));
    const next = await updates.until((u) => serviceOf(u.view, 'shop/api') === undefined);
    expect(next.changes).toEqual([
      { kind: 'Service', key: 'shop/api' },
      { kind: 'EndpointSlice', key: 'shop/web-1', services: ['shop/web', 'shop/api'] },
    ]);
  });

  it('applies files added, modified and deleted', async () => {
    await writeFile(join(dir, 'web.yaml'), yamlOf(service('shop/web')));
    await start();

    await writeFile(join(dir, 'api.yaml'), yamlOf(service('shop/api')));
    await updates.until((u) => serviceOf(u.view, 'shop/api') !== undefined);

    await writeFile(join(dir, 'web.yaml'), yamlOf(service('shop/web', [{ port: 81 }])));
    await updates.until((u) => portsOf(u.view, 'shop/web')?.[0] === 81);

    await unlink(join(dir, 'api.yaml'));
    const last = await updates.until((u) => serviceOf(u.view, 'shop/api') === undefined);
    expect(portsOf(last.view, 'shop/web')).toEqual([81]);
  });

  it('sees atomic rename-style writes, new files and replacements alike', async () => {
    await start();
    await writeAtomic('web.yaml', yamlOf(service('shop/web')));
    await updates.until((u) => portsOf(u.view, 'shop/web')?.[0] === 80);
    await writeAtomic('web.yaml', yamlOf(service('shop/web', [{ port: 82 }])));
    const u = await updates.until((v) => portsOf(v.view, 'shop/web')?.[0] === 82);
    expect(u.diagnostics).toEqual([]);
  });

  it('keeps the last good objects of a broken file and reports it, once', async () => {
    await writeFile(join(dir, 'web.yaml'), yamlOf(service('shop/web')));
    await start();

    await writeAtomic('web.yaml', `${yamlOf(service('shop/web', [{ port: 99 }]))}---\nmetadata: [unclosed\n`);
    const broken = await updates.until((u) => u.diagnostics.length > 0);
    expect(codesOf(broken)).toEqual([['ING_ERR_MANIFEST_PARSE', 'web.yaml']]);
    expect(broken.diagnostics[0]?.message).toMatch(/; the file is kept at its last good version$/);
    expect(portsOf(broken.view, 'shop/web')).toEqual([80]);
    expect(broken.fileOf?.('Service shop/web')).toBe('web.yaml');
    expect(logLines.filter((l) => l.code === 'ING_ERR_MANIFEST_PARSE')).toEqual([
      expect.objectContaining({ level: 40, code: 'ING_ERR_MANIFEST_PARSE', file: 'web.yaml', object: 'document 2', msg: 'manifest problem' }),
    ]);

    await writeAtomic('web.yaml', yamlOf(service('shop/web', [{ port: 83 }])));
    const fixed = await updates.until((u) => u.diagnostics.length === 0);
    expect(portsOf(fixed.view, 'shop/web')).toEqual([83]);
  });

  it('keeps the last good version of an invalid object while applying the rest of the file', async () => {
    await writeFile(join(dir, 'shop.yaml'), yamlOf(service('shop/web')));
    await start();

    const invalid = { ...service('shop/web'), spec: { ports: [{ port: 'eighty' }] } } as unknown as KubeObject;
    await writeAtomic('shop.yaml', yamlOf(invalid, service('shop/api')));
    const u = await updates.until((v) => serviceOf(v.view, 'shop/api') !== undefined);
    expect(codesOf(u)).toEqual([['ING_ERR_MANIFEST_INVALID', 'shop.yaml']]);
    expect(u.diagnostics[0]?.object).toBe('Service shop/web');
    expect(u.diagnostics[0]?.message).toBe('spec.ports[0].port must be an integer from 1 to 65535; Service shop/web is kept at its last good version');
    expect(portsOf(u.view, 'shop/web')).toEqual([80]);
    expect([u.fileOf?.('Service shop/web'), u.fileOf?.('Service shop/api'), u.fileOf?.('Service shop/none')]).toEqual(['shop.yaml', 'shop.yaml', undefined]);
  });

  it('on first load, a broken file contributes nothing and duplicates keep the first file', async () => {
    await writeFile(join(dir, 'a.yaml'), yamlOf(service('shop/web')));
    await writeFile(join(dir, 'b.yaml'), yamlOf(service('shop/web', [{ port: 81 }]), service('shop/api')));
    await writeFile(join(dir, 'c.yaml'), 'kind: [\n');
    const first = await start();
    expect(codesOf(first)).toEqual([
      ['ING_ERR_MANIFEST_DUPLICATE', 'b.yaml'],
      ['ING_ERR_MANIFEST_PARSE', 'c.yaml'],
    ]);
    expect(first.diagnostics[1]?.message).toMatch(/; nothing in it applies until it parses$/);
    expect(portsOf(first.view, 'shop/web')).toEqual([80]);
    // The definition in service is the first file's.
    expect(first.fileOf?.('Service shop/web')).toBe('a.yaml');
    expect(serviceOf(first.view, 'shop/api')).toBeDefined();
  });

  it('refuses to start on a missing directory, naming it', async () => {
    const missing = join(dir, 'nope');
    const s = new FileSource({ dir: missing, log: pino({ level: 'silent' }) });
    const err: unknown = await s.start(updates.onUpdate).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngressError);
    expect(err).toMatchObject({ code: 'ING_ERR_CONFIG_INVALID' });
    expect((err as Error).message).toContain(missing);
    expect(updates.count).toBe(0);
  });
});
