/**
 * Flusso's Prometheus alert rules (deploy/prometheus/flusso-alerts.yml, issue 16 item 2), with the
 * real promtool: `promtool check rules` accepts the file, `promtool test rules` proves each alert
 * fires on its series and not on the healthy ones (flusso-alerts.test.yml), and each alert's test
 * is needed: with that one alert's expression made never true, the unit tests fail naming it.
 * test/integration/alert-metrics.test.ts checks that the metrics and labels the rules read are
 * the ones a running Flusso exports.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEPLOY_DIR } from '../../helpers/kustomize.js';
import { systemBinary } from '../../helpers/system.js';

const RULES = join(DEPLOY_DIR, 'prometheus/flusso-alerts.yml');
const TESTS = join(DEPLOY_DIR, 'prometheus/flusso-alerts.test.yml');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** promtool runs the real promtool; a missing one fails with what to install. */
function promtool(args: readonly string[], cwd: string): { code: number; out: string } {
  const r = spawnSync(systemBinary('promtool'), args, { cwd, encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`promtool could not run (apt-get install prometheus): ${r.error.message}`);
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const scratch = mkdtempSync(join(tmpdir(), 'flusso-alerts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('deploy/prometheus/flusso-alerts.yml', () => {
  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES], DEPLOY_DIR);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('has the alerts the issue asks for, each with a severity, a summary and a description', () => {
    expect(rules.map((r) => r.alert)).toEqual([
      'FlussoHighServerErrorRatio', 'FlussoUpstreamErrors', 'FlussoConfigRebuildFailed', 'FlussoConfigDiagnostics', 'FlussoWorkerRestarting',
      'FlussoSourceWatchDown', 'FlussoCertificateExpiring', 'FlussoCertificateExpiryCritical', 'FlussoCertificateError',
    ]);
    for (const r of rules) {
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels.severity);
      expect(Object.keys(r.annotations).sort(), r.alert).toEqual(['description', 'summary']);
    }
  });

  it('passes its promtool unit tests: every alert fires on its series, with its labels and texts, and on nothing else', () => {
    const r = promtool(['test', 'rules', TESTS], join(DEPLOY_DIR, 'prometheus'));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
    // Every alert has a test case that expects it to fire.
    const tested = new Set<string>();
    for (const t of (parse(readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests)
      for (const a of t.alert_rule_test) if (a.exp_alerts.length > 0) tested.add(a.alertname);
    expect([...tested].sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  // Mutation check: the unit tests must notice when any one alert stops firing.
  it.each(rules.map((r) => ({ alert: r.alert })))('the unit tests fail when $alert never fires', ({ alert }) => {
    const doc = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
    for (const g of doc.groups) for (const r of g.rules) if (r.alert === alert) r.expr = 'vector(1) == 0';
    const dir = mkdtempSync(join(scratch, 'm-'));
    writeFileSync(join(dir, 'flusso-alerts.yml'), stringify(doc));
    copyFileSync(TESTS, join(dir, 'flusso-alerts.test.yml'));
    const r = promtool(['test', 'rules', 'flusso-alerts.test.yml'], dir);
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toContain(`alertname: ${alert}`);
  });
});
