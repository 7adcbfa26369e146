/**
 * The admin GUI in headless Chromium (Debian `chromium`, driven by playwright-core): every view
 * loads, the live numbers move under traffic, draining an endpoint through the UI stops traffic
 * to it, a cache purge goes out from the cache view, the certificates view lists a TLS host,
 * WebSockets proxied to a `ws` backend show per Service in the backends view and per worker in the
 * workers view, and a screenshot of each view is saved under test-results/gui/.
 */
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { testPki, tlsSecret } from '../helpers/certs.js';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { pollUntil, REPO_ROOT, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type ManifestDir } from '../helpers/manifests.js';

const NS = 'gui';
const TOKEN = 'gui-e2e-token-0123456789abcdef';
/** SCREENSHOTS is where each view's screenshot is written. */
const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'gui');

describe('the admin GUI in Chromium', () => {
  let flusso: FlussoProcess;
  let shop: EchoPods;
  let browser: Browser;
  let page: Page;
  let traffic = true;
  let trafficLoop: Promise<void> = Promise.resolve();
  /** A `ws` echo backend behind Ingress `chat` (Service `chat`), for the WebSocket figures. */
  let chatServer: Server;
  let chatWss: WebSocketServer;
  const chatClients: WebSocket[] = [];
  let dir: ManifestDir;
  /** What went wrong in the background traffic (each test that relies on it asserts this is empty). */
  const trafficFailures: string[] = [];
  /** rowsOf returns the text of each cell of each row under `selector`. */
  const rowsOf = (selector: string): Promise<string[][]> =>
    page.locator(selector).evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));

  const shopGet = () => httpRequest({ port: flusso.httpPort, host: 'shop.test', path: '/cart' });

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    shop = await startEchoPods('shop', ['127.0.0.1', '127.0.0.2'], 0, { namespace: NS, ingress: 'shop' });
    chatServer = createServer();
    chatWss = new WebSocketServer({ server: chatServer, perMessageDeflate: false });
    chatWss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    chatServer.listen(0, '127.0.0.1');
    await once(chatServer, 'listening');
    const chatPort = (chatServer.address() as AddressInfo).port;
    dir = await manifestDir();
    const secure = ingress(NS, 'secure', { host: 'secure.test', paths: [{ path: '/', service: 'shop', port: 'http' }] });
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      ingress(NS, 'shop', { host: 'shop.test', paths: [{ path: '/', service: 'shop', port: 'http' }] }),
      service(NS, 'shop', [{ name: 'http', port: 80, targetPort: shop.port }]),
      endpointSlice(NS, 'shop', shop.addresses, shop.port, { portName: 'http' }),
      ingress(NS, 'chat', { host: 'chat.test', paths: [{ path: '/', service: 'chat', port: 'http' }] }),
      service(NS, 'chat', [{ name: 'http', port: 80, targetPort: chatPort }]),
      endpointSlice(NS, 'chat', ['127.0.0.1'], chatPort, { portName: 'http' }),
      // The same Service behind a cached Ingress, for the cache view (no traffic goes to it).
      { ...ingress(NS, 'static', { host: 'static.test', paths: [{ path: '/', service: 'shop', port: 'http' }] }), metadata: { name: 'static', namespace: NS, annotations: { 'flusso.dev/cache': 'true', 'flusso.dev/cache-ttl': '1m' } } },
      // A TLS host for the certificates view (no traffic goes to it either).
      tlsSecret(NS, 'secure-tls', testPki().valid(['secure.test'])),
      { ...secure, spec: { ...(secure.spec as object), tls: [{ hosts: ['secure.test'], secretName: 'secure-tls' }] } },
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args: ['--admin-token', TOKEN] });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
    // Steady, bounded traffic so the overview has something to show (stops in afterAll, 5 min cap).
    const until = Date.now() + 300_000;
    trafficLoop = (async () => {
      while (traffic && Date.now() < until) {
        const r = await shopGet().catch((err: unknown) => ({ status: 0, body: String(err) }));
        if (r.status !== 200) trafficFailures.push(`${r.status}: ${r.body.slice(0, 200)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await page.goto(`http://127.0.0.1:${flusso.adminPort}/#token=${TOKEN}`);
  });

  afterAll(async () => {
    traffic = false;
    await trafficLoop;
    for (const c of chatClients) c.terminate();
    await browser?.close();
    await flusso?.stop();
    for (const c of chatWss?.clients ?? []) c.terminate();
    chatWss?.close();
    chatServer?.close();
    await shop?.close();
  });

  const open = async (view: string): Promise<void> => {
    await page.goto(`http://127.0.0.1:${flusso.adminPort}/#/${view}`);
    await page.locator(`#view-${view}`).waitFor({ state: 'visible' });
  };

  it('shows live numbers that move under traffic on the overview', async () => {
    await open('overview');
    await page.waitForFunction(() => Number.parseFloat(document.getElementById('t-rps')?.textContent ?? '') > 0, undefined, { timeout: 20_000 });
    await page.waitForFunction(() => (document.querySelector('#c-rps polyline')?.getAttribute('points') ?? '').split(' ').length >= 3, undefined, { timeout: 20_000 });
    expect(await page.locator('#t-workers').textContent()).toBe('2 / 2');
    expect(trafficFailures).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, 'overview.png') });
  });

  it('lists and searches routes', async () => {
    await open('routes');
    await page.locator('#routes-body tr').first().waitFor();
    const hostsOf = async (): Promise<string[]> => (await rowsOf('#routes-body tr')).map((r) => r[0] ?? '').sort();
    expect(await hostsOf()).toEqual(['chat.test', 'secure.test', 'shop.test', 'static.test']);
    expect(await page.locator('#route-count').textContent()).toBe('4 routes');
    await page.fill('#route-search', 'no-such-route');
    await page.waitForFunction(() => document.querySelectorAll('#routes-body tr').length === 0);
    expect(await page.locator('#route-count').textContent()).toBe('0 routes');
    await page.fill('#route-search', 'chat');
    await page.waitForFunction(() => document.getElementById('route-count')?.textContent === '1 route');
    expect(await hostsOf()).toEqual(['chat.test']);
    await page.fill('#route-search', 'shop');
    await page.waitForFunction(() => document.getElementById('route-count')?.textContent === '3 routes');
    // shop.test, and static.test and secure.test that lead to the same Service.
    expect(await hostsOf()).toEqual(['secure.test', 'shop.test', 'static.test']);
    await page.screenshot({ path: join(SCREENSHOTS, 'routes.png') });
  });

  it('drains an endpoint from the backends view, and traffic stops reaching it', async () => {
    await open('backends');
    const row = page.locator(`tr[data-endpoint="127.0.0.2:${shop.port}"]`);
    await row.waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'backends.png') });
    await row.getByRole('button', { name: 'Drain' }).click();
    await row.getByText('drained').waitFor({ timeout: 10_000 });
    const { body } = await flusso.readyz();
    await flusso.waitForGeneration(body.generation);
    const pods = new Set<string>();
    for (let i = 0; i < 40; i++) pods.add(String((await shopGet()).json?.pod));
    expect([...pods]).toEqual(['shop-1']);
    await page.screenshot({ path: join(SCREENSHOTS, 'backends-drained.png') });
    await row.getByRole('button', { name: 'Undrain' }).click();
    await row.getByRole('button', { name: 'Drain' }).waitFor({ timeout: 10_000 });
  });

  it('shows the cache view and purges from it', async () => {
    await open('cache');
    const row = page.locator(`tr[data-ingress="${NS}/static"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('on, ttl 1m · 1 route');
    await page.screenshot({ path: join(SCREENSHOTS, 'cache.png') });
    const submit = '#purge-form button[type=submit]';
    const purged = () => page.waitForResponse((r) => r.url().endsWith('/api/v1/cache/purge'));
    const result = page.locator('#purge-result');

    // The API's own check refuses a relative path prefix, and the GUI says why.
    await page.fill('#pg-path', 'img/');
    const [refused] = await Promise.all([purged(), page.click(submit)]);
    expect(refused.status()).toBe(400);
    await page.waitForFunction(() => document.getElementById('purge-result')?.textContent?.includes('"pathPrefix" must start with "/"'));

    await page.fill('#pg-path', '/img/');
    await page.fill('#pg-host', 'Static.test');
    const [ok] = await Promise.all([purged(), page.click(submit)]);
    expect(await ok.json()).toMatchObject({ purged: 0, workers: 2, selector: { host: 'static.test', pathPrefix: '/img/' } });
    await page.waitForFunction(() => document.getElementById('purge-result')?.textContent?.startsWith('Purged '));
    expect(await result.textContent()).toMatch(/^Purged 0 entries in 2\/2 workers/);
    await page.screenshot({ path: join(SCREENSHOTS, 'cache-purged.png') });

    // Everything: only after the confirm, and the selector fields are off meanwhile.
    await page.check('#pg-all');
    expect(await page.locator('#pg-host').isDisabled()).toBe(true);
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.evaluate(() => (document.getElementById('purge-result')!.textContent = ''));
    const [all] = await Promise.all([purged(), page.click(submit)]);
    expect(asked).toContain('every cached response');
    expect(await all.json()).toMatchObject({ purged: 0, workers: 2, selector: {} });
    await page.waitForFunction(() => document.getElementById('purge-result')?.textContent?.startsWith('Purged '));
  });

  it('lists the TLS certificates', async () => {
    await open('certificates');
    const row = page.locator('tr[data-host="secure.test"]');
    await row.waitFor();
    const text = await row.textContent();
    for (const want of [`${NS}/secure-tls`, `${NS}/secure`, 'Flusso Test CA', 'ok', 'own']) expect(text).toContain(want);
    expect(await page.locator('tr[data-host="*"]').textContent()).toContain('generated');
    await page.screenshot({ path: join(SCREENSHOTS, 'certificates.png') });
  });

  it('shows WebSockets per Service in the backends view and per worker in the workers view', async () => {
    // Three WebSockets through Flusso, two messages echoed on each, then one closed: 2 open of 3.
    const connect = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${flusso.httpPort}/chat`, { headers: { host: 'chat.test' }, perMessageDeflate: false });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    for (let i = 0; i < 3; i++) chatClients.push(await connect());
    for (const c of chatClients) {
      for (const text of ['hello', 'again']) {
        const echo = new Promise<string>((resolve) => c.once('message', (d: Buffer) => resolve(d.toString())));
        c.send(text);
        expect(await echo).toBe(text);
      }
    }
    const last = chatClients.pop() as WebSocket;
    const gone = once(last, 'close');
    last.close(1000, 'done');
    await gone;

    await open('backends');
    await page.locator('.websockets', { hasText: 'WebSockets: 2 open of 3 opened · messages 6 in · 6 out' }).waitFor({ timeout: 15_000 });
    // The figures belong to the chat Service's card, not the shop's.
    expect(await page.locator('section.backend', { hasText: 'WebSockets:' }).count()).toBe(1);
    expect(await page.locator('section.backend', { hasText: 'WebSockets:' }).locator('h3').textContent()).toContain('chat');
    await page.screenshot({ path: join(SCREENSHOTS, 'backends-websockets.png') });

    await open('workers');
    await page.waitForFunction(
      () => [...document.querySelectorAll('#workers-body td.websockets')].reduce((a, td) => a + Number(td.textContent), 0) === 2,
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.locator('thead th', { hasText: 'WebSockets' }).count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'workers-websockets.png') });
  });

  it('shows the workers', async () => {
    const { body } = await flusso.readyz();
    await open('workers');
    await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2);
    // Columns: id, pid, generation, listening, restarts, …
    const rows = await rowsOf('#workers-body tr');
    expect(rows.map((r) => Number(r[1])).sort()).toEqual(body.workers.map((w) => w.pid).sort());
    expect(rows.map((r) => [r[3], r[4]])).toEqual([['yes', '0'], ['yes', '0']]);
    await page.screenshot({ path: join(SCREENSHOTS, 'workers.png') });
  });

  it('shows diagnostics: a broken manifest is listed, and the empty state returns once it is gone', async () => {
    await open('diagnostics');
    await page.locator('#diag-empty').waitFor({ state: 'visible' });
    expect(await page.locator('#diag-body tr').count()).toBe(0);

    onTestFinished(async () => {
      await dir.remove('broken.yaml');
    });
    await dir.writeRaw('broken.yaml', 'kind: Ingress\nmetadata: {name: broken\n');
    await pollUntil('the parse diagnostic', async () => ((await flusso.diagnostics()).diagnostics.length === 1 ? true : undefined));
    await page.reload(); // the view reads the list when it opens
    await page.locator('#diag-body tr').first().waitFor();
    const rows = await rowsOf('#diag-body tr');
    expect(rows).toHaveLength(1);
    expect(rows[0]![0]).toBe('error');
    expect(rows[0]![1]).toBe('ING_ERR_MANIFEST_PARSE');
    expect(rows[0]![4]).toBe('broken.yaml');
    expect(await page.locator('#diag-empty').isHidden()).toBe(true);
    expect(await page.locator('#diag-count').textContent()).toBe('1');
    await page.screenshot({ path: join(SCREENSHOTS, 'diagnostics.png') });

    await dir.remove('broken.yaml');
    await pollUntil('no diagnostics', async () => ((await flusso.diagnostics()).diagnostics.length === 0 ? true : undefined));
    await page.reload();
    await page.locator('#diag-empty').waitFor({ state: 'visible' });
    expect(await page.locator('#diag-body tr').count()).toBe(0);
  });

  it('explains a route', async () => {
    await open('explain');
    await page.fill('#ex-host', 'shop.test');
    await page.fill('#ex-path', '/cart/42');
    await page.click('#explain-form button');
    await page.locator('#explain-out h3').waitFor();
    expect(await page.locator('#explain-out h3').textContent()).toBe('Routed');
    expect(await page.locator('#explain-out').textContent()).toContain(`${NS}/shop:http`);
    await page.screenshot({ path: join(SCREENSHOTS, 'explain.png') });
  });

  it('asks for the token when none is given', async () => {
    const fresh = await browser.newPage();
    onTestFinished(() => fresh.close());
    // Without a token the API answers 401, the GUI shows the login form and no data.
    const [refused] = await Promise.all([
      fresh.waitForResponse((r) => r.url().includes('/api/v1/routes')),
      fresh.goto(`http://127.0.0.1:${flusso.adminPort}/#/routes`),
    ]);
    expect(refused.status()).toBe(401);
    await fresh.locator('#login').waitFor({ state: 'visible' });
    expect(await fresh.locator('#login-error').isHidden()).toBe(true);
    expect(await fresh.locator('#view-routes').isHidden()).toBe(true);
    expect(await fresh.locator('#routes-body tr').count()).toBe(0);
    // A wrong token is refused and said so.
    await fresh.fill('#token', 'not-the-token');
    await fresh.click('#login-form button');
    await fresh.locator('#login-error', { hasText: 'That token was not accepted.' }).waitFor({ state: 'visible' });
    expect(await fresh.locator('#routes-body tr').count()).toBe(0);
    // The right one opens the routes.
    await fresh.fill('#token', TOKEN);
    const [accepted] = await Promise.all([fresh.waitForResponse((r) => r.url().includes('/api/v1/routes')), fresh.click('#login-form button')]);
    expect(accepted.status()).toBe(200);
    await fresh.locator('#routes-body tr').first().waitFor();
    expect(await fresh.locator('#login').isHidden()).toBe(true);
    expect(await fresh.locator('#routes-body').textContent()).toContain('shop.test');
  });
});
