/**
 * Controller: endpoint-only changes go out as endpoint deltas that match a full compile;
 * anything else, or an update that does not say what changed, is a full rebuild.
 */
import { pino } from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { SnapshotBroadcaster } from '../../../src/primary/broadcast.js';
import { compileSnapshot } from '../../../src/primary/compile/index.js';
import { Controller } from '../../../src/primary/controller.js';
import { ControlPlaneMetrics } from '../../../src/primary/metrics/control-plane.js';
import type { KubeObject, TlsSecret } from '../../../src/primary/model.js';
import { TlsManager } from '../../../src/primary/tls/manager.js';
import { testPki, type TlsPair } from '../../helpers/certs.js';
import { CompileOffload, type CompileRunner } from '../../../src/primary/offload/compile-offload.js';
import { createCompileTask } from '../../../src/primary/offload/compile-task.js';
import { OverrideStore } from '../../../src/primary/overrides.js';
import type { SourceChange } from '../../../src/primary/sources/source.js';
import { SecretStore } from '../../../src/primary/secrets.js';
import { ObjectStore } from '../../../src/primary/store.js';
import { decodeEndpointsDelta, decodeSnapshot } from '../../../src/shared/codec.js';
import { backend, endpointSlice, ingress, ingressClass, OPTS, path, rule, service, sliceEndpoint } from '../../helpers/k8s.js';

function setup(): { store: ObjectStore; controller: Controller; sent: { kind: string; generation: number; bytes: Uint8Array }[]; snapshotOf: () => Uint8Array } {
  const store = new ObjectStore();
  const objects: KubeObject[] = [ingressClass()];
  for (const s of ['s0', 's1']) {
    objects.push(service(`default/${s}`), endpointSlice(`default/${s}-a`, { service: s, endpoints: [sliceEndpoint('10.0.0.1')] }));
    objects.push(ingress(`default/${s}`, { rules: [rule(`${s}.example`, path('/', backend(s, 80)))] }));
  }
  store.replaceAll(objects);
  const sent: { kind: string; generation: number; bytes: Uint8Array }[] = [];
  let snapshotOf = (): Uint8Array => new Uint8Array();
  const broadcaster = new SnapshotBroadcaster(
    (bytes, generation) => sent.push({ kind: 'snapshot', generation, bytes }),
    (bytes, generation, snapshot) => {
      sent.push({ kind: 'endpoints', generation, bytes });
      snapshotOf = snapshot;
    },
  );
  const controller = new Controller({ log: pino({ level: 'silent' }), compile: OPTS, broadcaster, overrides: new OverrideStore(), metrics: new ControlPlaneMetrics() });
  controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
  controller.rebuild();
  return { store, controller, sent, snapshotOf: () => snapshotOf() };
}

const NO_SECRETS = new SecretStore();

const sliceChange = (svc: string): SourceChange => ({ kind: 'EndpointSlice', key: `default/${svc}-a`, services: [`default/${svc}`] });

describe('Controller', () => {
  it('keeps serving the last snapshot when a rebuild on the event loop throws, counts it, and publishes again on the next change', () => {
    const store = new ObjectStore();
    store.replaceAll([ingressClass(), service('default/s0'), endpointSlice('default/s0-a', { service: 's0', endpoints: [sliceEndpoint('10.0.0.1')] }), ingress('default/s0', { rules: [rule('s0.example', path('/', backend('s0', 80)))] })]);
    const sent: number[] = [];
    let fail = false;
    const broadcaster = new SnapshotBroadcaster((_bytes, generation) => {
      if (fail) throw new Error('a bug in the publish path');
      sent.push(generation);
    });
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
    const metrics = new ControlPlaneMetrics();
    const controller = new Controller({ log: pino({ level: 'info' }, sink), compile: OPTS, broadcaster, overrides: new OverrideStore(), metrics });
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
    void controller.rebuild();
    expect(sent).toEqual([1]);

    fail = true;
    store.upsert(ingress('default/s0', { rules: [rule('s0.example', path('/', backend('s0', 80)), path('/x', backend('s0', 80)))] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
    expect(() => controller.rebuild()).not.toThrow();
    expect(metrics.reloads().failed).toBe(1);
    expect(lines.find((l) => l.code === 'ING_ERR_COMPILE_FAILED')).toMatchObject({ msg: 'compile failed; the last published snapshot keeps serving' });

    fail = false;
    store.upsert(ingress('default/s0', { rules: [rule('s0.example', path('/', backend('s0', 80)), path('/y', backend('s0', 80)))] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
    void controller.rebuild();
    expect(sent.length).toBe(2);
    expect(controller.table?.hosts[0]?.routes.map((r) => r.path)).toContain('/y');
  });

  it('throws from the first compile, which has nothing to fall back on', () => {
    const store = new ObjectStore();
    store.replaceAll([ingressClass()]);
    const broadcaster = new SnapshotBroadcaster(() => {
      throw new Error('a bug in the publish path');
    });
    const controller = new Controller({ log: pino({ level: 'silent' }), compile: OPTS, broadcaster, overrides: new OverrideStore(), metrics: new ControlPlaneMetrics() });
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
    expect(() => controller.rebuild()).toThrow('a bug in the publish path');
  });

  it('publishes an endpoint-only change as a delta equal to a full compile', () => {
    const { store, controller, sent, snapshotOf } = setup();
    store.upsert(endpointSlice('default/s1-a', { service: 's1', endpoints: [sliceEndpoint('10.0.0.2'), sliceEndpoint('10.0.0.3')] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [sliceChange('s1')] });
    expect(controller.endpointsOnly).toBe(true);
    controller.rebuild();
    expect(sent.map((s) => [s.kind, s.generation])).toEqual([['snapshot', 1], ['endpoints', 2]]);
    const full = compileSnapshot(store, OPTS);
    expect(controller.table).toEqual(full.table);
    expect(controller.diagnostics).toEqual(full.diagnostics);
    expect(decodeEndpointsDelta(sent[1]!.bytes).backends).toEqual([{ id: full.table.backends[1]!.id, endpoints: full.table.backends[1]!.endpoints }]);
    expect(decodeSnapshot(snapshotOf()).table).toEqual(full.table);
  });

  it('names the file of each compile diagnostic\'s object when the source reads files, on full and endpoint rebuilds', () => {
    const { store, controller } = setup();
    const files = new Map([['Service default/s0', 's0.yaml'], ['Ingress default/s1', 's1.yaml']]);
    const fileOf = (object: string): string | undefined => files.get(object);
    const own = { code: 'ING_ERR_MANIFEST_PARSE', severity: 'error', object: 'document 1', message: 'broken', file: 'x.yaml' } as const;
    // A full rebuild: the Ingress names a Service that does not exist.
    store.upsert(ingress('default/s1', { rules: [rule('s1.example', path('/', backend('gone', 80)))] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [own], fileOf });
    controller.rebuild();
    expect(controller.diagnostics.map((d) => [d.code, d.object, d.file])).toEqual([
      ['ING_ERR_MANIFEST_PARSE', 'document 1', 'x.yaml'],
      ['ING_ERR_SERVICE_NOT_FOUND', 'Ingress default/s1', 's1.yaml'],
    ]);
    // An endpoint rebuild: s0 loses its endpoints; an object the source does not know gets no file.
    store.delete('EndpointSlice', 'default/s0-a');
    files.delete('Ingress default/s1');
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], fileOf, changes: [sliceChange('s0')] });
    controller.rebuild();
    expect(controller.diagnostics.map((d) => [d.code, d.object, d.file])).toEqual([
      ['ING_ERR_SERVICE_NOT_FOUND', 'Ingress default/s1', undefined],
      ['ING_ERR_NO_ENDPOINTS', 'Service default/s0', 's0.yaml'],
    ]);
  });

  it('publishes nothing when the changed slices leave every endpoint as it was, and updates the diagnostics', () => {
    const { store, controller, sent } = setup();
    store.upsert(endpointSlice('default/s0-b', { service: 's0', endpoints: [sliceEndpoint('10.0.0.1')] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [{ kind: 'EndpointSlice', key: 'default/s0-b', services: ['default/s0'] }] });
    controller.rebuild();
    expect(sent).toHaveLength(1);
    store.delete('EndpointSlice', 'default/s0-a');
    store.delete('EndpointSlice', 'default/s0-b');
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [sliceChange('s0')] });
    controller.rebuild();
    expect(sent.map((s) => s.kind)).toEqual(['snapshot', 'endpoints']);
    expect(controller.diagnostics.map((d) => [d.code, d.object])).toEqual([['ING_ERR_NO_ENDPOINTS', 'Service default/s0']]);
  });

  it.each([
    ['a Service change', [{ kind: 'Service', key: 'default/s1' }]],
    ['an Ingress change among slice changes', [sliceChange('s1'), { kind: 'Ingress', key: 'default/s1' }]],
    ['an update that does not say what changed', undefined],
  ])('rebuilds in full after %s', (_name, changes) => {
    const { store, controller, sent } = setup();
    store.upsert(endpointSlice('default/s1-a', { service: 's1', endpoints: [sliceEndpoint('10.0.0.9')] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [sliceChange('s1')] });
    controller.accept(changes === undefined ? { view: store, secrets: NO_SECRETS, diagnostics: [] } : { view: store, secrets: NO_SECRETS, diagnostics: [], changes });
    expect(controller.endpointsOnly).toBe(false);
    controller.rebuild();
    expect(sent.map((s) => [s.kind, s.generation])).toEqual([['snapshot', 1], ['snapshot', 2]]);
    expect(controller.table).toEqual(compileSnapshot(store, OPTS).table);
    // The next endpoint-only change is a delta again.
    store.upsert(endpointSlice('default/s1-a', { service: 's1', endpoints: [sliceEndpoint('10.0.0.8')] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [sliceChange('s1')] });
    controller.rebuild();
    expect(sent.map((s) => s.kind)).toEqual(['snapshot', 'snapshot', 'endpoints']);
  });
});

// Issue #11: certificates come from Secrets; a Secret change republishes them alone.
describe('Controller with TLS', () => {
  const pki = testPki();
  const tlsSecret = (pair: TlsPair): TlsSecret => ({ namespace: 'default', name: 's0-cert', type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pair.certPem).toString('base64'), 'tls.key': Buffer.from(pair.keyPem).toString('base64') } });

  function tlsSetup(): { store: ObjectStore; secrets: SecretStore; controller: Controller; sent: Uint8Array[]; logs: Record<string, unknown>[]; referenced: ReadonlySet<string>[] } {
    const store = new ObjectStore();
    store.replaceAll([
      ingressClass(),
      service('default/s0'),
      endpointSlice('default/s0-a', { service: 's0', endpoints: [sliceEndpoint('10.0.0.1')] }),
      ingress('default/s0', { rules: [rule('s0.example', path('/', backend('s0', 80)))], tls: [{ hosts: ['s0.example'], secretName: 's0-cert' }] }),
    ]);
    const secrets = new SecretStore();
    secrets.upsert(tlsSecret(pki.valid(['s0.example'])));
    const dir = mkdtempSync(join(tmpdir(), 'flusso-controller-tls-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const tls = new TlsManager({ dir: join(dir, 'tls'), ownsDir: true, log: pino({ level: 'silent' }) });
    tls.init();
    const sent: Uint8Array[] = [];
    const logs: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>), cb()) });
    const referenced: ReadonlySet<string>[] = [];
    const controller = new Controller({ log: pino({ level: 'info' }, sink), compile: OPTS, broadcaster: new SnapshotBroadcaster((bytes) => sent.push(bytes)), overrides: new OverrideStore(), metrics: new ControlPlaneMetrics(), tls, onSecretsReferenced: (keys) => referenced.push(keys) });
    controller.accept({ view: store, secrets, diagnostics: [] });
    controller.rebuild();
    return { store, secrets, controller, sent, logs, referenced };
  }

  it('publishes the routes with the certificates, and names the Secrets it needs', () => {
    const { sent, referenced } = tlsSetup();
    const snap = decodeSnapshot(sent[0]!);
    expect(snap.tls?.serverNames.map((s) => s.name)).toEqual(['s0.example']);
    expect(snap.table.hosts[0]?.routes[0]?.httpsRedirect).toBe(true);
    expect(referenced.at(-1)).toEqual(new Set(['default/s0-cert']));
  });

  it('republishes a rotated Secret without recompiling the routes', () => {
    const { secrets, controller, sent, logs, store } = tlsSetup();
    const before = decodeSnapshot(sent[0]!);
    secrets.upsert(tlsSecret(pki.valid(['s0.example'])));
    controller.accept({ view: store, secrets, diagnostics: [], changes: [{ kind: 'Secret', key: 'default/s0-cert' }] });
    expect(controller.endpointsOnly).toBe(false);
    void controller.rebuild();
    expect(sent).toHaveLength(2);
    const after = decodeSnapshot(sent[1]!);
    expect(after.table).toEqual(before.table);
    expect(after.tls?.certificates[0]?.id).not.toBe(before.tls?.certificates[0]?.id);
    expect(logs.filter((l) => l.msg === 'snapshot published')).toHaveLength(1);
    expect(logs.filter((l) => l.msg === 'certificates published')).toHaveLength(1);
  });

  it('lists a Secret gone bad among the diagnostics and keeps the certificate', () => {
    const { secrets, controller, sent, store } = tlsSetup();
    secrets.upsert(tlsSecret(pki.garbage()));
    controller.accept({ view: store, secrets, diagnostics: [], changes: [{ kind: 'Secret', key: 'default/s0-cert' }] });
    void controller.rebuild();
    expect(sent).toHaveLength(1);
    expect(controller.diagnostics.map((d) => d.code)).toEqual(['ING_ERR_TLS_CERT_INVALID']);
  });
});

/** offloaded builds a Controller whose full compiles go through `run` (the compile task in-process). */
function offloaded(run: CompileRunner, minWeight = 0): { store: ObjectStore; controller: Controller; sent: { kind: string; generation: number; bytes: Uint8Array }[]; logs: Record<string, unknown>[] } {
  const store = new ObjectStore();
  const objects: KubeObject[] = [ingressClass()];
  for (const s of ['s0', 's1']) {
    objects.push(service(`default/${s}`), endpointSlice(`default/${s}-a`, { service: s, endpoints: [sliceEndpoint('10.0.0.1')] }));
    objects.push(ingress(`default/${s}`, { rules: [rule(`${s}.example`, path('/', backend(s, 80)))] }));
  }
  store.replaceAll(objects);
  const sent: { kind: string; generation: number; bytes: Uint8Array }[] = [];
  const broadcaster = new SnapshotBroadcaster(
    (bytes, generation) => sent.push({ kind: 'snapshot', generation, bytes }),
    (bytes, generation) => sent.push({ kind: 'endpoints', generation, bytes }),
  );
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const controller = new Controller({ log, compile: OPTS, broadcaster, overrides: new OverrideStore(), metrics: new ControlPlaneMetrics(), offload: { pool: new CompileOffload(run), minWeight } });
  return { store, controller, sent, logs };
}

/** gate holds tasks until released, to act while a compile is in flight. */
function gatedTask(): { run: CompileRunner; release: () => void; started: () => number } {
  const task = createCompileTask();
  let started = 0;
  let open: (() => void)[] = [];
  return {
    run: (input) => {
      started++;
      const result = task(input);
      return new Promise((resolve) => open.push(() => resolve(result)));
    },
    release: () => {
      const waiting = open;
      open = [];
      for (const go of waiting) go();
    },
    started: () => started,
  };
}

describe('Controller with the compile thread', () => {
  // Issue 14 item 4: one Ingress with many paths costs what many Ingresses do.
  it('decides the offload on the paths, not the number of Ingresses, and releases the thread when the table shrinks', async () => {
    const task = createCompileTask();
    let runs = 0;
    const { store, controller } = offloaded(async (input) => (runs++, task(input)), 100);
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
    await controller.rebuild();
    expect(runs).toBe(0); // two Ingresses of one path each: on the event loop
    const paths = Array.from({ length: 99 }, (_, i) => path(`/p-${i}`, backend('s0', 80)));
    store.upsert(ingress('default/big', { rules: [rule('big.example', ...paths)] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [{ kind: 'Ingress', key: 'default/big' }] });
    await controller.rebuild();
    expect(runs).toBe(1); // still three Ingresses, but 102 paths: on the thread
    expect(controller.table).toEqual(compileSnapshot(store, OPTS).table);
    store.delete('Ingress', 'default/big');
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [{ kind: 'Ingress', key: 'default/big' }] });
    await controller.rebuild();
    expect(runs).toBe(1);
    expect(controller.table).toEqual(compileSnapshot(store, OPTS).table);
  });

  it('publishes the bytes an in-loop compile publishes, and endpoint changes as deltas', async () => {
    const task = createCompileTask();
    const { store, controller, sent } = offloaded(async (input) => task(input));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
    await controller.rebuild();
    const inLoop = setup();
    expect(sent.map((s) => [s.kind, s.generation])).toEqual([['snapshot', 1]]);
    expect(Buffer.from(sent[0]!.bytes).equals(Buffer.from(inLoop.sent[0]!.bytes))).toBe(true);
    expect(controller.table).toEqual(compileSnapshot(store, OPTS).table);
    store.upsert(endpointSlice('default/s1-a', { service: 's1', endpoints: [sliceEndpoint('10.0.0.7')] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [sliceChange('s1')] });
    await controller.rebuild();
    expect(sent.map((s) => [s.kind, s.generation])).toEqual([['snapshot', 1], ['endpoints', 2]]);
    expect(controller.table).toEqual(compileSnapshot(store, OPTS).table);
  });

  it('runs a rebuild asked for during a compile after it, on the newest state, in order', async () => {
    const gate = gatedTask();
    const { store, controller, sent } = offloaded(gate.run);
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
    const first = controller.rebuild();
    // While the first compile runs: a route change and an endpoint change arrive.
    store.upsert(ingress('default/s2', { rules: [rule('s2.example', path('/', backend('s0', 80)))] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [{ kind: 'Ingress', key: 'default/s2' }] });
    void controller.rebuild();
    store.upsert(endpointSlice('default/s0-a', { service: 's0', endpoints: [sliceEndpoint('10.0.0.5')] }));
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [sliceChange('s0')] });
    void controller.rebuild();
    // The objects were read when the first rebuild began; they go to the thread a turn later.
    await vi.waitFor(() => expect(gate.started()).toBe(1));
    expect(sent).toEqual([]);
    gate.release();
    await first;
    expect(sent.map((s) => s.generation)).toEqual([1]);
    expect(decodeSnapshot(sent[0]!.bytes).table.hosts.map((h) => h.host)).toEqual(['s0.example', 's1.example']);
    await vi.waitFor(() => expect(gate.started()).toBe(2));
    gate.release();
    await controller.rebuild();
    expect(sent.map((s) => [s.kind, s.generation])).toEqual([['snapshot', 1], ['snapshot', 2]]);
    expect(decodeSnapshot(sent[1]!.bytes).table).toEqual(compileSnapshot(store, OPTS).table);
  });

  it('keeps the last good table and logs when the thread fails, then recovers', async () => {
    const task = createCompileTask();
    let fail = false;
    const { store, controller, sent, logs } = offloaded(async (input) => {
      if (fail) throw new Error('compile thread crashed');
      return task(input);
    });
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [] });
    await controller.rebuild();
    const good = controller.table;
    fail = true;
    store.delete('Ingress', 'default/s1');
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [{ kind: 'Ingress', key: 'default/s1' }] });
    await controller.rebuild();
    expect(sent).toHaveLength(1);
    expect(controller.table).toBe(good);
    expect(logs.filter((l) => l.level === 50).map((l) => [l.msg, (l.err as { message?: string } | undefined)?.message])).toEqual([['compile failed; the last published snapshot keeps serving', 'compile thread crashed']]);
    fail = false;
    controller.accept({ view: store, secrets: NO_SECRETS, diagnostics: [], changes: [] });
    await controller.rebuild();
    expect(sent.map((s) => s.generation)).toEqual([1, 2]);
    expect(controller.table).toEqual(compileSnapshot(store, OPTS).table);
  });
});
