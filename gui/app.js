// Flusso admin GUI: a small single-page app served by the primary on the admin port.
// No framework and no CDN; every value from the server is inserted as text, never as HTML.

const $ = (id) => document.getElementById(id);
const VIEWS = ['overview', 'routes', 'backends', 'cache', 'certificates', 'workers', 'diagnostics', 'explain'];
const POLL_MS = 2000;
const MAX_POINTS = 300;

const state = { token: sessionStorage.getItem('flusso.token') ?? '', view: 'overview', samples: [], poll: 0, ws: null, wsRetry: 0, authFailed: false };

// A token handed over in the URL (#token=…) is kept for this tab and removed from the address bar.
if (location.hash.startsWith('#token=')) {
  state.token = decodeURIComponent(location.hash.slice('#token='.length));
  sessionStorage.setItem('flusso.token', state.token);
  history.replaceState(null, '', '#/overview');
}

/** el builds an element with text content and attributes; children may be nodes or strings. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function toast(message, bad = false) {
  const t = $('toast');
  t.textContent = message;
  t.className = bad ? 'toast bad' : 'toast';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 3500);
}

async function api(path, options = {}) {
  const headers = { Accept: 'application/json' };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method: options.method ?? 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  if (res.status === 401) {
    showLogin(state.token ? 'That token was not accepted.' : '');
    throw new Error('unauthorized');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  if (typeof body.generation === 'number') $('gen').textContent = `gen ${body.generation}`;
  return body;
}

// ---- login ------------------------------------------------------------------------------

function showLogin(message) {
  state.authFailed = true;
  for (const v of VIEWS) $(`view-${v}`).hidden = true;
  $('login').hidden = false;
  $('login-error').hidden = !message;
  $('login-error').textContent = message;
  $('token').focus();
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.token = $('token').value.trim();
  sessionStorage.setItem('flusso.token', state.token);
  state.authFailed = false;
  $('login').hidden = true;
  connectLive(true);
  route();
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem('flusso.token');
  state.token = '';
  showLogin('');
});

// ---- navigation -------------------------------------------------------------------------

function route() {
  const wanted = location.hash.replace(/^#\/?/, '') || 'overview';
  state.view = VIEWS.includes(wanted) ? wanted : 'overview';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === state.view);
  if (state.authFailed) return;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== state.view;
  clearInterval(state.poll);
  const refresh = REFRESH[state.view];
  if (refresh) {
    refresh().catch(() => {});
    state.poll = setInterval(() => refresh().catch(() => {}), POLL_MS);
  }
}
window.addEventListener('hashchange', route);

// ---- overview: live charts --------------------------------------------------------------

function connectLive(force = false) {
  if (state.ws && !force) return;
  state.ws?.close();
  const protocols = ['flusso.live.v1'];
  if (state.token) protocols.push(`bearer.${state.token}`);
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/live`, protocols);
  state.ws = ws;
  ws.onopen = () => {
    state.wsRetry = 0;
    $('conn').className = 'dot dot-on';
  };
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.type === 'history') state.samples = msg.samples.slice(-MAX_POINTS);
    else if (msg.type === 'sample') {
      state.samples.push(msg.sample);
      if (state.samples.length > MAX_POINTS) state.samples.shift();
    }
    renderOverview();
  };
  ws.onclose = () => {
    $('conn').className = 'dot dot-off';
    if (state.ws !== ws) return;
    state.ws = null;
    state.wsRetry = Math.min(state.wsRetry + 1, 5);
    setTimeout(() => connectLive(), 500 * 2 ** state.wsRetry);
  };
}

const fmtRate = (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(v < 10 ? 1 : 0));
const fmtPct = (v) => `${(v * 100).toFixed(v < 0.01 ? 2 : 1)}%`;
const fmtMs = (s) => (s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`);

function renderOverview() {
  const last = state.samples.at(-1);
  if (last) {
    $('t-rps').textContent = fmtRate(last.rps);
    $('t-err').textContent = fmtPct(last.errorRate);
    $('t-p50').textContent = fmtMs(last.p50);
    $('t-p99').textContent = fmtMs(last.p99);
    $('gen').textContent = `gen ${last.generation}`;
  }
  if (state.view !== 'overview') return;
  drawChart($('c-rps'), [state.samples.map((s) => s.rps)], fmtRate);
  drawChart($('c-err'), [state.samples.map((s) => s.errorRate)], fmtPct);
  drawChart($('c-lat'), [state.samples.map((s) => s.p50), state.samples.map((s) => s.p99)], fmtMs);
}

/** drawChart draws one or two series as lines over the last MAX_POINTS samples. */
function drawChart(svg, series, fmt) {
  const [w, h] = svg.getAttribute('viewBox').split(' ').slice(2).map(Number);
  const top = 14;
  const max = Math.max(...series.flat(), 0) || 1;
  const x = (i, n) => w - (n - 1 - i) * (w / (MAX_POINTS - 1));
  const y = (v) => h - 2 - (v / max) * (h - top - 4);
  const ns = 'http://www.w3.org/2000/svg';
  const nodes = [];
  for (const frac of [0.5, 1]) {
    const line = document.createElementNS(ns, 'line');
    Object.entries({ x1: 0, x2: w, y1: y(max * frac), y2: y(max * frac), class: 'axis' }).forEach(([k, v]) => line.setAttribute(k, v));
    nodes.push(line);
  }
  series.forEach((values, k) => {
    if (values.length < 2) return;
    const pts = values.map((v, i) => `${x(i, values.length).toFixed(1)},${y(v).toFixed(1)}`);
    if (k === 0) {
      const area = document.createElementNS(ns, 'polygon');
      area.setAttribute('points', `${x(0, values.length)},${h} ${pts.join(' ')} ${w},${h}`);
      area.setAttribute('class', 'area');
      nodes.push(area);
    }
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('class', k === 0 ? 'line1' : 'line2');
    nodes.push(line);
  });
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', 4);
  label.setAttribute('y', 11);
  label.textContent = `max ${fmt(Math.max(...series.flat(), 0))}`;
  nodes.push(label);
  svg.replaceChildren(...nodes);
}

async function refreshOverview() {
  const w = await api('/api/v1/workers');
  const ready = w.workers.filter((x) => x.listening && x.generation === w.generation).length;
  $('t-workers').textContent = `${ready} / ${w.workers.length}`;
  $('gen').textContent = `gen ${w.generation}`;
  renderOverview();
}

// ---- routes -----------------------------------------------------------------------------

let searchTimer = 0;
$('route-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => refreshRoutes().catch(() => {}), 150);
});

async function refreshRoutes() {
  const q = encodeURIComponent($('route-search').value);
  const r = await api(`/api/v1/routes?search=${q}`);
  $('routes-body').replaceChildren(...r.routes.map((x) => el('tr', {}, el('td', {}, x.host), el('td', {}, x.annotations?.includes('use-regex') ? 'Regex' : x.match), el('td', {}, el('code', {}, x.path)), el('td', {}, x.backend), el('td', {}, x.source), el('td', {}, cachePolicy(x.cache)), el('td', { class: 'annotations' }, ...(x.annotations ?? []).map((a) => el('code', { class: 'tag' }, a))))));
  $('route-count').textContent = `${r.routes.length} route${r.routes.length === 1 ? '' : 's'}`;
  $('default-backend').textContent = r.defaultBackend ? `Default backend: ${r.defaultBackend.backend} (Ingress ${r.defaultBackend.source})` : 'No default backend: unmatched requests get 404.';
}

// ---- backends ---------------------------------------------------------------------------

async function mutate(path, body) {
  try {
    const r = await api(path, { method: 'POST', body });
    toast(r.changed ? `Applied; generation ${r.generation} is on its way to every worker.` : 'Nothing to change.');
    await refreshBackends();
  } catch (err) {
    if (err.message !== 'unauthorized') toast(err.message, true);
  }
}

function health(e) {
  if (e.drained) return el('span', { class: 'pill off' }, 'drained');
  if (e.ready) return el('span', { class: 'pill ok' }, 'ready');
  if (e.terminating) return el('span', { class: 'pill warn' }, 'terminating');
  return el('span', { class: 'pill bad' }, 'not ready');
}

async function refreshBackends() {
  // Keep a weight the operator is typing: do not redraw under a focused input.
  if (document.activeElement?.classList.contains('weight')) return;
  const r = await api('/api/v1/backends');
  $('backends-list').replaceChildren(
    ...r.backends.map((b) => {
      const endpoint = (e) => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
      const rows = b.endpoints.map((e) => {
        const weight = el('input', { class: 'weight', type: 'number', min: 0, max: 1000, step: 1, value: e.weightOverride ?? e.weight, 'aria-label': `weight of ${endpoint(e)}` });
        return el(
          'tr',
          { 'data-endpoint': endpoint(e) },
          el('td', {}, el('code', {}, endpoint(e))),
          el('td', {}, health(e)),
          el('td', {}, String(e.effectiveWeight), e.weightOverride === null ? '' : el('span', { class: 'muted' }, ' (override)')),
          el('td', {}, e.zone ?? '–'),
          el(
            'td',
            { class: 'actions' },
            e.drained
              ? el('button', { type: 'button', class: 'secondary', onclick: () => mutate('/api/v1/endpoints/undrain', { backend: b.id, endpoint: endpoint(e) }) }, 'Undrain')
              : el('button', { type: 'button', class: 'danger', onclick: () => mutate('/api/v1/endpoints/drain', { backend: b.id, endpoint: endpoint(e) }) }, 'Drain'),
            weight,
            el('button', { type: 'button', class: 'secondary', onclick: () => mutate('/api/v1/endpoints/weight', { backend: b.id, endpoint: endpoint(e), weight: Number(weight.value) }) }, 'Set weight'),
            e.weightOverride === null ? '' : el('button', { type: 'button', class: 'secondary', onclick: () => mutate('/api/v1/endpoints/weight', { backend: b.id, endpoint: endpoint(e), weight: null }) }, 'Reset'),
          ),
        );
      });
      const ready = b.endpoints.filter((e) => e.ready && !e.drained).length;
      return el(
        'section',
        { class: 'card backend', 'data-backend': b.id },
        el('h3', {}, b.id, ' ', el('span', { class: `pill ${ready > 0 ? 'ok' : 'bad'}` }, `${ready}/${b.endpoints.length} serving`)),
        el('div', { class: 'meta' }, `${b.loadBalancer} · ${b.requests} requests · ${b.errors} errors (5xx)`),
        // Proxied WebSockets, once the Service has had one: open now of opened, messages each way.
        b.websockets?.opened > 0
          ? el('div', { class: 'meta websockets' }, `WebSockets: ${b.websockets.open} open of ${b.websockets.opened} opened · messages ${b.websockets.messagesIn} in · ${b.websockets.messagesOut} out`)
          : '',
        b.endpoints.length === 0
          ? el('p', { class: 'muted' }, 'No endpoints: requests get 503.')
          : el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, ...['Endpoint', 'Health', 'Weight', 'Zone', ''].map((h) => el('th', {}, h)))), el('tbody', {}, ...rows)),
      );
    }),
  );
}

// ---- cache ------------------------------------------------------------------------------

const fmtBytes = (n) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const fmtSeconds = (s) => (s % 86400 === 0 ? `${s / 86400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);
const CACHE_STATUSES = ['HIT', 'MISS', 'EXPIRED', 'STALE', 'REVALIDATED', 'BYPASS'];

/** cachePolicy describes a route's cache policy: the TTL for responses without freshness of their own. */
function cachePolicy(cache) {
  if (!cache) return '–';
  return cache.ttlSeconds === null ? 'on' : `on, ttl ${fmtSeconds(cache.ttlSeconds)}`;
}

async function refreshCache() {
  const r = await api('/api/v1/cache');
  $('k-stored').textContent = r.maxBytes > 0 ? `${fmtBytes(r.storedBytes)} / ${fmtBytes(r.maxBytes)}` : fmtBytes(r.storedBytes);
  $('k-meter').value = r.maxBytes > 0 ? r.storedBytes / r.maxBytes : 0;
  $('k-entries').textContent = String(r.entries);
  let served = 0;
  let lookups = 0;
  for (const i of r.ingresses) {
    served += i.responses.HIT + i.responses.STALE + i.responses.REVALIDATED;
    lookups += i.responses.HIT + i.responses.MISS + i.responses.EXPIRED + i.responses.STALE + i.responses.REVALIDATED;
  }
  $('k-hit').textContent = lookups > 0 ? fmtPct(served / lookups) : '–';
  $('k-workers').textContent = String(r.workers);
  $('cache-body').replaceChildren(
    ...r.ingresses.map((i) =>
      el(
        'tr',
        { 'data-ingress': i.ingress },
        el('td', {}, i.ingress),
        el('td', {}, i.policy ? `${cachePolicy(i.policy)} · ${i.policy.routes} route${i.policy.routes === 1 ? '' : 's'}` : el('span', { class: 'muted' }, 'off now')),
        el('td', {}, i.hitRatio === null ? '–' : fmtPct(i.hitRatio)),
        ...CACHE_STATUSES.map((s) => el('td', { class: 'num' }, String(i.responses[s]))),
        el('td', { class: 'num' }, String(i.evictions)),
        el('td', { class: 'num' }, String(i.entries)),
        el('td', { class: 'num' }, fmtBytes(i.storedBytes)),
        el('td', { class: 'actions' }, el('button', { type: 'button', class: 'secondary', onclick: () => purge({ ingress: i.ingress }) }, 'Purge')),
      ),
    ),
  );
  $('cache-empty').hidden = r.ingresses.length > 0;
}

/** purge sends one purge and shows what it did; answers come from every worker (or time out). */
async function purge(selector) {
  const out = $('purge-result');
  out.className = 'muted';
  out.textContent = 'Purging…';
  try {
    const r = await api('/api/v1/cache/purge', { method: 'POST', body: selector });
    const late = r.workers - r.answered;
    out.textContent = `Purged ${r.purged} entr${r.purged === 1 ? 'y' : 'ies'} in ${r.answered}/${r.workers} workers${late > 0 ? ` (${late} did not answer in time)` : ''}.`;
    out.className = late > 0 ? 'error' : 'ok';
    await refreshCache();
  } catch (err) {
    out.className = 'error';
    out.textContent = err.message === 'unauthorized' ? '' : err.message;
  }
}

$('pg-all').addEventListener('change', () => {
  for (const id of ['pg-host', 'pg-path', 'pg-ingress']) $(id).disabled = $('pg-all').checked;
});

$('purge-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if ($('pg-all').checked) {
    if (confirm('Purge every cached response in every worker?')) purge({ all: true });
    return;
  }
  const selector = {};
  if ($('pg-host').value.trim()) selector.host = $('pg-host').value.trim();
  if ($('pg-path').value.trim()) selector.pathPrefix = $('pg-path').value.trim();
  if ($('pg-ingress').value.trim()) selector.ingress = $('pg-ingress').value.trim();
  if (Object.keys(selector).length === 0) {
    $('purge-result').className = 'error';
    $('purge-result').textContent = 'Give a host, a path prefix or an Ingress, or tick everything.';
    return;
  }
  purge(selector);
});

// ---- certificates -----------------------------------------------------------------------

const CERT_PILL = { ok: 'ok', expiring: 'warn', error: 'bad', pending: 'off' };
const SERVING = { own: 'own', 'last-good': 'last good', default: 'default' };
const SOON_DAYS = 14;

/** fmtNotAfter shows an ISO 8601 time as `YYYY-MM-DD HH:MM UTC`. */
const fmtNotAfter = (iso) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/** daysCell highlights a certificate that expires within SOON_DAYS days, or has expired. */
function daysCell(days) {
  if (days === null) return el('td', { class: 'num' }, '–');
  const cls = days < 0 ? 'num nowrap expired' : days < SOON_DAYS ? 'num nowrap soon' : 'num nowrap';
  return el('td', { class: cls, title: days < 0 ? 'expired' : null }, days < 0 ? `${days} (expired)` : String(days));
}

async function refreshCertificates() {
  const r = await api('/api/v1/certificates');
  $('certs-body').replaceChildren(
    ...r.certificates.map((c) => {
      const cert = c.certificate;
      // A host served with the default certificate shows the default's details, dimmed.
      const borrowed = c.host !== '*' && c.serving === 'default' ? 'muted' : null;
      const status = el('td', {}, el('span', { class: `pill ${CERT_PILL[c.status] ?? 'off'}` }, c.status));
      if (c.code) status.append(el('div', {}, el('code', {}, c.code)));
      if (c.message) status.append(el('div', { class: 'muted' }, c.message));
      return el(
        'tr',
        { 'data-host': c.host },
        el('td', {}, c.host === '*' ? el('span', {}, '* ', el('span', { class: 'muted' }, '(default)')) : c.host),
        el('td', { class: 'nowrap' }, c.secret ?? (c.host === '*' ? el('span', { class: 'muted' }, 'generated') : '–')),
        el('td', {}, c.ingress ?? '–'),
        el('td', { class: borrowed }, cert ? `${cert.issuer}${cert.selfSigned ? ' (self-signed)' : ''}` : '–'),
        el('td', { class: borrowed }, cert ? cert.dnsNames.join(', ') || '–' : '–'),
        el('td', { class: borrowed ? 'nowrap muted' : 'nowrap' }, cert ? fmtNotAfter(cert.notAfter) : '–'),
        daysCell(c.daysLeft),
        status,
        el('td', { class: 'nowrap' }, el('span', { class: `pill ${c.serving === 'own' ? 'ok' : c.serving === 'last-good' ? 'warn' : 'off'}` }, SERVING[c.serving] ?? c.serving)),
      );
    }),
  );
}

// ---- workers and diagnostics ------------------------------------------------------------

const fmtUptime = (ms) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`);

async function refreshWorkers() {
  const r = await api('/api/v1/workers');
  $('workers-body').replaceChildren(
    ...r.workers.map((w) =>
      el('tr', {}, el('td', {}, w.id), el('td', {}, w.pid), el('td', {}, w.generation, w.generation === r.generation ? '' : el('span', { class: 'pill warn' }, ' behind')), el('td', {}, el('span', { class: `pill ${w.listening ? 'ok' : 'bad'}` }, w.listening ? 'yes' : 'no')), el('td', {}, w.restarts), el('td', {}, fmtUptime(w.uptimeMs)), el('td', {}, w.node || '–'), el('td', { class: 'websockets' }, w.websockets ?? 0), el('td', {}, w.lastError ? `${w.lastError.code}: ${w.lastError.message}` : '–')),
    ),
  );
}

async function refreshDiagnostics() {
  const r = await api('/api/v1/diagnostics');
  $('diag-body').replaceChildren(...r.diagnostics.map((d) => el('tr', {}, el('td', {}, el('span', { class: `pill ${d.severity === 'error' ? 'bad' : 'warn'}` }, d.severity)), el('td', {}, el('code', {}, d.code)), el('td', {}, d.object), el('td', {}, d.message), el('td', {}, d.file ?? '–'))));
  $('diag-empty').hidden = r.diagnostics.length > 0;
  updateDiagBadge(r.diagnostics.length);
}

function updateDiagBadge(n) {
  $('diag-count').hidden = n === 0;
  $('diag-count').textContent = String(n);
}

// ---- explain ----------------------------------------------------------------------------

$('explain-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const r = await api(`/api/v1/explain?host=${encodeURIComponent($('ex-host').value)}&path=${encodeURIComponent($('ex-path').value || '/')}&method=${encodeURIComponent($('ex-method').value || 'GET')}&origin=${encodeURIComponent($('ex-origin').value)}`);
    const rows = r.candidates.map((c) => el('tr', { class: `verdict-${c.verdict}` }, el('td', {}, c.verdict.replace(/-/g, ' ')), el('td', {}, c.match), el('td', {}, el('code', {}, c.path)), el('td', {}, c.backend), el('td', {}, c.source), el('td', {}, c.why)));
    $('explain-out').replaceChildren(
      el(
        'div',
        { class: 'card explain' },
        el('h3', {}, r.result === 'route' ? 'Routed' : r.result === 'default-backend' ? 'Default backend' : 'Not found'),
        el('p', {}, r.summary),
        r.annotations?.length ? el('ul', { class: 'explain-annotations' }, ...r.annotations.map((a) => el('li', {}, a))) : '',
        el('p', { class: 'muted' }, `Host as matched: ${r.host} · path as matched and forwarded: ${r.path}`, r.shadowedHosts.length ? ` · also matching, but losing: ${r.shadowedHosts.join(', ')}` : ''),
        rows.length ? el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, ...['Verdict', 'Match', 'Path', 'Backend', 'Ingress', 'Why'].map((h) => el('th', {}, h)))), el('tbody', {}, ...rows)) : '',
      ),
    );
  } catch (err) {
    if (err.message !== 'unauthorized') toast(err.message, true);
  }
});

const REFRESH = { overview: refreshOverview, routes: refreshRoutes, backends: refreshBackends, cache: refreshCache, certificates: refreshCertificates, workers: refreshWorkers, diagnostics: refreshDiagnostics };

// Keep the diagnostics badge current whatever view is open.
setInterval(() => api('/api/v1/diagnostics').then((r) => updateDiagBadge(r.diagnostics.length)).catch(() => {}), 5000);
connectLive();
route();
