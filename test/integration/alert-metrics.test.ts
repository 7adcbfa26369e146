/**
 * The alert rules read what Flusso exports (issue 16 item 2): every metric a rule of
 * deploy/prometheus/flusso-alerts.yml names is a family on a running Flusso's /metrics, and every
 * label a rule matches or groups by is on its samples, with the values the rules match on. The
 * running Flusso (the built CLI) is given traffic that makes each of those samples exist: a 200,
 * a 502 from a Service with no listening endpoint, a diagnostic (an Ingress naming a missing
 * Service), and its generated default certificate.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { DEPLOY_DIR } from '../helpers/kustomize.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';

const TOKEN = 'alert-metrics-test-token-0123456789';
/** Labels Prometheus adds to every series of a target: not Flusso's to export. */
const TARGET_LABELS = new Set(['pod', 'instance', 'job']);

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
}

/** parseExposition returns the families (`# TYPE` lines) and the samples of a Prometheus text exposition. */
function parseExposition(text: string): { families: Set<string>; samples: Sample[] } {
  const families = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type !== null) families.add(type[1] as string);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (m === null) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels });
  }
  return { families, samples };
}

/** Use is what one rule reads of one metric: labels it groups by or matches, and the exact values it matches. */
interface Use {
  readonly alert: string;
  readonly metric: string;
  readonly labels: Set<string>;
  readonly values: [string, string][];
}

/** usesOf lists, per rule, the metrics its expression names with the labels it reads of them. */
function usesOf(rules: readonly { alert: string; expr: string }[]): Use[] {
  const out: Use[] = [];
  for (const r of rules) {
    const grouped = [...r.expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => (m[1] as string).split(',').map((s) => s.trim()).filter((s) => s !== ''));
    for (const m of r.expr.matchAll(/\b(flusso_[a-z0-9_]+)(?:\{([^}]*)\})?/g)) {
      const matchers = [...(m[2] ?? '').matchAll(/([a-z_]+)\s*(=~|!=|!~|=)\s*"([^"]*)"/g)];
      out.push({
        alert: r.alert,
        metric: m[1] as string,
        labels: new Set([...grouped, ...matchers.map((x) => x[1] as string)].filter((l) => !TARGET_LABELS.has(l))),
        values: matchers.filter((x) => x[2] === '=').map((x) => [x[1] as string, x[3] as string]),
      });
    }
  }
  return out;
}

const rules = (parse(readFileSync(join(DEPLOY_DIR, 'prometheus/flusso-alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);

let flusso: FlussoProcess;
let backend: http.Server;

beforeAll(async () => {
  backend = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const up = (backend.address() as AddressInfo).port;
  const closed = await freePort(); // nothing listens here: connect errors, 502
  const dir = await manifestDir();
  await dir.write('00-class.yaml', [ingressClass('flusso')]);
  await dir.write('10-web.yaml', [
    ingress('shop', 'web', { host: 'web.test', paths: [{ path: '/', service: 'web', port: 'http' }] }),
    service('shop', 'web', [{ name: 'http', port: 80, targetPort: up }]),
    endpointSlice('shop', 'web', ['127.0.0.1'], up, { portName: 'http' }),
    ingress('shop', 'down', { host: 'down.test', paths: [{ path: '/', service: 'down', port: 'http' }] }),
    service('shop', 'down', [{ name: 'http', port: 80, targetPort: closed }]),
    endpointSlice('shop', 'down', ['127.0.0.1'], closed, { portName: 'http' }),
    ingress('shop', 'orphan', { host: 'orphan.test', paths: [{ path: '/', service: 'missing', port: 'http' }] }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--admin-token', TOKEN] });
});

afterAll(async () => {
  await flusso?.stop();
  await new Promise<void>((r) => backend?.close(() => r()));
});

describe('the alert rules read metrics Flusso exports', () => {
  it('every metric, label and matched value of every rule is on /metrics', async () => {
    const get = async (host: string) => (await httpRequest({ port: flusso.httpPort, host, path: '/' })).status;
    expect([await get('web.test'), await get('down.test')]).toEqual([200, 502]);
    // Workers ship their counts once a second: wait until both answers are counted.
    const exposition = await pollUntil('both requests counted on /metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${flusso.adminPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      const e = parseExposition(text);
      const counted = (ingress: string, cls: string) => e.samples.some((s) => s.name === 'flusso_requests_total' && s.labels.ingress === ingress && s.labels.status_class === cls);
      return counted('web', '2xx') && counted('down', '5xx') ? e : undefined;
    });
    const uses = usesOf(rules);
    expect(new Set(uses.map((u) => u.alert))).toEqual(new Set(rules.map((r) => r.alert)));
    const problems: string[] = [];
    for (const u of uses) {
      if (!exposition.families.has(u.metric)) {
        problems.push(`${u.alert}: no family ${u.metric}`);
        continue;
      }
      const samples = exposition.samples.filter((s) => s.name === u.metric);
      for (const l of u.labels) if (!samples.some((s) => l in s.labels)) problems.push(`${u.alert}: ${u.metric} has no label ${l}`);
      for (const [l, v] of u.values) if (!samples.some((s) => s.labels[l] === v)) problems.push(`${u.alert}: ${u.metric} has no sample with ${l}="${v}"`);
    }
    expect(problems).toEqual([]);
  });
});
