/**
 * The admin GUI on routes with ingress-nginx annotations (issue 15), in headless Chromium: the
 * Routes view shows the annotations in force per route, and the Explain view says when a request
 * is rewritten or CORS-preflighted, and why. Screenshots go under test-results/gui/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/echo.js';
import { REPO_ROOT, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';

const N = 'nginx.ingress.kubernetes.io/';
const TOKEN = 'gui-annotations-token-0123456789';
const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'gui');

describe('the GUI shows the ingress-nginx annotations in force', () => {
  let backend: RawUpstream;
  let flusso: FlussoProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    backend = await startRawUpstream((s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')));
    const dir = await manifestDir();
    const api = ingress('gui', 'api', { host: 'api.test', paths: [{ path: '/v1(/|$)(.*)', pathType: 'ImplementationSpecific', service: 'api', port: 'http' }] });
    const plain = ingress('gui', 'plain', { host: 'plain.test', paths: [{ path: '/', service: 'api', port: 'http' }] });
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      { ...api, metadata: { name: 'api', namespace: 'gui', annotations: { [`${N}rewrite-target`]: '/$2', [`${N}enable-cors`]: 'true', [`${N}cors-allow-origin`]: 'https://app.test' } } },
      plain,
      service('gui', 'api', [{ name: 'http', port: 80, targetPort: backend.port }]),
      endpointSlice('gui', 'api', ['127.0.0.1'], backend.port, { portName: 'http' }),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--admin-token', TOKEN] });
    await flusso.waitForGeneration(1);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
    await page.goto(`http://127.0.0.1:${flusso.adminPort}/#token=${TOKEN}`);
  });

  afterAll(async () => {
    await browser?.close();
    await flusso?.stop();
    await backend?.close();
  });

  const open = async (view: string): Promise<void> => {
    await page.goto(`http://127.0.0.1:${flusso.adminPort}/#/${view}`);
    await page.locator(`#view-${view}`).waitFor({ state: 'visible' });
  };

  it('lists the annotations of each route in the Routes view, and none for a plain route', async () => {
    await open('routes');
    await page.waitForFunction(() => document.querySelectorAll('#routes-body tr').length === 2);
    const rows = await page.locator('#routes-body tr').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('td')?.textContent ?? '', tr.querySelectorAll('td')[1]?.textContent ?? '', [...tr.querySelectorAll('td.annotations code')].map((c) => c.textContent)]));
    expect(rows.sort()).toEqual([
      ['api.test', 'Regex', ['use-regex', 'rewrite-target /$2', 'cors https://app.test']],
      ['plain.test', 'Prefix', []],
    ]);
    await page.screenshot({ path: join(SCREENSHOTS, 'routes-annotations.png') });
  });

  it('explains a rewrite and a CORS preflight', async () => {
    await open('explain');
    await page.fill('#ex-host', 'api.test');
    await page.fill('#ex-path', '/V1/users?x=1');
    await page.click('#explain-form button');
    await page.locator('#explain-out .explain-annotations li').first().waitFor();
    expect(await page.locator('#explain-out .explain-annotations').textContent()).toContain('rewritten: the backend gets /users?x=1 (rewrite-target "/$2" on path "/v1(/|$)(.*)")');
    await page.fill('#ex-method', 'OPTIONS');
    await page.fill('#ex-origin', 'https://app.test');
    await page.click('#explain-form button');
    await page.waitForFunction(() => (document.querySelector('#explain-out .explain-annotations')?.textContent ?? '').includes('CORS preflight answered 204'));
    await page.screenshot({ path: join(SCREENSHOTS, 'explain-annotations.png') });
  });
});
