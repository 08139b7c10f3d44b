// shipcore's dashboard script. The page the server rendered is a shell; this
// script fills its main part from the same JSON API every other client uses,
// with the signed-in account's session (and its CSRF token on every call),
// so the page can do nothing the account may not. Every value goes into the
// page as text (textContent), never as HTML. Live parts follow the cluster's
// event stream (server-sent events); nothing reloads the page.
'use strict';

(() => {
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || '';
  const csrf = meta('csrf-token');
  const allowed = new Set(meta('shipcore-allows').split(' ').filter(Boolean));
  const may = (area, write) => allowed.has(`${area}:rw`) || (!write && allowed.has(`${area}:ro`));
  const root = document.getElementById('page');
  const statusLine = document.getElementById('status');
  const page = document.body.dataset.page;

  // ---- building blocks -------------------------------------------------

  /** An element with attributes (`on*` are listeners) and children (text or nodes). */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === undefined || kid === null || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  let uid = 0;
  /** A labelled field: a label and its control, tied by id. */
  function field(label, control, hint) {
    const id = control.id || `f${++uid}`;
    control.id = id;
    const parts = [el('label', { for: id }, label), control];
    if (hint) {
      const hid = `${id}-hint`;
      control.setAttribute('aria-describedby', hid);
      parts.push(el('small', { id: hid, class: 'hint' }, hint));
    }
    return el('div', { class: 'field' }, parts);
  }

  function say(message, bad) {
    statusLine.textContent = message;
    statusLine.className = bad ? 'status error' : 'status';
  }

  /** A call to the API: the parsed answer, or an Error with the API's message. */
  async function api(method, path, body, raw) {
    const headers = { 'X-CSRF-Token': csrf, Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (res.status === 401) {
      location.assign(`/ui/login?next=${encodeURIComponent(page === 'overview' ? '' : page)}`);
      throw new Error('the session ended: sign in again');
    }
    if (raw && res.ok) return res;
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!res.ok) {
      const message = (data && (data.error || data.message || data.errMsg)) || `${res.status} ${res.statusText}`;
      const err = new Error(message);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  /** Runs an action of a button: busy while it runs, its outcome said. */
  async function act(button, what, run) {
    button.disabled = true;
    try {
      const out = await run();
      say(`${what}: done.`);
      return out;
    } catch (e) {
      say(`${what}: ${e.message}`, true);
      return undefined;
    } finally {
      button.disabled = false;
    }
  }

  /**
   * Replaces what `box` holds with `nodes`, keeping what the user was doing
   * there: typed values of named fields (in forms of the same id), open
   * disclosures (by id) and the focus.
   */
  function redraw(box, ...nodes) {
    const typed = new Map();
    for (const f of box.querySelectorAll('form[id] [name]')) typed.set(`${f.form.id}/${f.name}`, f.value);
    const open = new Set([...box.querySelectorAll('details[id][open]')].map((d) => d.id));
    const focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = focused && focused.form && focused.form.id ? `${focused.form.id}/${focused.name}` : focused && focused.id;
    box.replaceChildren(...nodes);
    for (const f of box.querySelectorAll('form[id] [name]')) {
      const key = `${f.form.id}/${f.name}`;
      if (typed.has(key)) f.value = typed.get(key);
    }
    for (const id of open) {
      const d = document.getElementById(id);
      if (d && box.contains(d)) d.open = true;
    }
    if (focusKey) {
      const again = [...box.querySelectorAll('[name], [id]')]
        .find((e) => (e.form && e.form.id ? `${e.form.id}/${e.name}` : e.id) === focusKey);
      if (again) again.focus();
    }
  }

  function debounce(fn, ms) {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  }

  /** Splits a command line into words as a shell would: quotes and backslashes. */
  function words(line) {
    const out = [];
    let word = null;
    let quote = null;
    for (let i = 0; i < line.length; i += 1) {
      const ch = line[i];
      if (quote) {
        if (ch === quote) quote = null;
        else if (ch === '\\' && quote === '"' && i + 1 < line.length) { i += 1; word += line[i]; } else word += ch;
      } else if (ch === '"' || ch === "'") { quote = ch; word = word || ''; } else if (ch === '\\' && i + 1 < line.length) {
        i += 1; word = (word || '') + line[i];
      } else if (/\s/.test(ch)) { if (word !== null) out.push(word); word = null; } else word = (word || '') + ch;
    }
    if (quote) throw new Error('the command has an unclosed quote');
    if (word !== null) out.push(word);
    return out;
  }

  const mib = (n) => (n >= 1024 ? `${(n / 1024).toFixed(1)} GiB` : `${Math.round(n)} MiB`);
  const pct = (used, total) => (total > 0 ? Math.min(100, Math.round((100 * used) / total)) : 0);

  function bar(label, used, total, show) {
    const p = pct(used, total);
    return el('div', {},
      el('span', {}, `${label}: ${show(used)} of ${show(total)} reserved (${p}%)`),
      el('div', { class: 'bar', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': p },
        el('span', { style: null, 'data-w': p })));
  }

  // Widths without inline style attributes (the CSP allows no inline
  // style): set through the CSSOM, which the policy permits.
  function sizeBars(scope) {
    for (const s of scope.querySelectorAll('.bar > span[data-w]')) s.style.width = `${s.dataset.w}%`;
  }

  function healthPill(h) {
    const s = (h && (h.status || h)) || 'unknown';
    const cls = s === 'healthy' ? 'ok' : s === 'unknown' ? 'warn' : 'bad';
    return el('span', { class: `pill ${cls}` }, s);
  }

  function table(caption, heads, rows, cls) {
    return el('div', { class: 'scroll' },
      el('table', { class: cls || 'stack' },
        el('caption', {}, caption),
        el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, rows)));
  }

  /** A row whose cells carry their column's name (shown at phone width). */
  function row(heads, cells, attrs) {
    return el('tr', attrs || {}, cells.map((c, i) => el('td', { 'data-label': heads[i] }, c)));
  }

  const containerName = (c) => c.name || (c.image && c.image.hostname) || c.id.slice(0, 12);
  const running = (c) => (typeof c.state === 'string' ? c.state === 'running' : !!(c.state && c.state.running));
  const stateOf = (c) => (typeof c.state === 'string' ? c.state : running(c) ? 'running' : 'stopped');

  /** Follows the cluster's events; `on` is called for each, `tick` after a burst. */
  function followEvents(on, tick) {
    if (!window.EventSource) return;
    const source = new EventSource('/api/events?follow=true');
    const later = debounce(tick, 400);
    source.addEventListener('event', (m) => {
      let e = null;
      try { e = JSON.parse(m.data); } catch (_) { return; }
      on(e);
      later();
    });
    window.addEventListener('pagehide', () => source.close());
  }

  function eventLine(e) {
    const who = [e.engine && e.engine.id, e.container && (e.container.name || (e.container.id || '').slice(0, 12))]
      .filter(Boolean).join(' · ');
    return el('li', {},
      el('time', { datetime: e.time }, (e.time || '').replace('T', ' ').replace(/\..*$/, '')), ' ',
      el('strong', {}, e.type), who ? ` ${who}` : '', e.message ? ` — ${e.message}` : '');
  }

  // ---- pages -----------------------------------------------------------

  const pages = {};

  pages.overview = async () => {
    const [info, engines, containers, events] = await Promise.all([
      may('cluster', false) ? api('GET', '/api/cluster/info') : Promise.resolve(null),
      may('engines', false) ? api('GET', '/api/engines') : Promise.resolve([]),
      may('containers', false) ? api('GET', '/api/containers') : Promise.resolve([]),
      may('events', false) ? api('GET', '/api/events?limit=15') : Promise.resolve([]),
    ]);
    const byEngine = new Map();
    const states = new Map();
    for (const c of containers) {
      const id = c.engine && c.engine.id;
      const t = byEngine.get(id) || { cpus: 0, memory: 0, n: 0 };
      t.cpus += (c.image && c.image.cpus) || 0;
      t.memory += (c.image && c.image.memory) || 0;
      t.n += 1;
      byEngine.set(id, t);
      const s = stateOf(c);
      states.set(s, (states.get(s) || 0) + 1);
    }
    const cluster = info && el('section', { class: 'card', 'aria-labelledby': 'h-cluster' },
      el('h2', { id: 'h-cluster' }, `Cluster ${info.cluster || ''}`),
      el('p', {}, `${info.engine_count} engines, ${info.container_count} containers, ${info.image_count} images.`),
      bar('CPUs', info.reserved_cpus, info.cpus, (n) => n.toFixed(2)),
      bar('Memory', info.reserved_memory, info.memory, mib));
    const engineCards = engines.map((v) => {
      const t = byEngine.get(v.engine.id) || { cpus: 0, memory: 0, n: 0 };
      return el('article', { class: 'card', 'aria-label': `Engine ${v.engine.id}` },
        el('h3', {}, v.engine.id, ' ', healthPill(v.health)),
        el('p', {}, v.engine.addr, ` · ${t.n} containers`),
        bar(`CPUs of ${v.engine.id}`, t.cpus, v.engine.cpus, (n) => n.toFixed(2)),
        bar(`Memory of ${v.engine.id}`, t.memory, v.engine.memory, mib),
        v.engine.labels && v.engine.labels.length ? el('p', {}, 'Labels: ', v.engine.labels.join(', ')) : null);
    });
    const byState = el('ul', {}, [...states.entries()].sort().map(([s, n]) => el('li', {}, `${s}: ${n}`)));
    const eventList = el('ol', { id: 'events', 'aria-live': 'polite', 'aria-relevant': 'additions' }, events.map(eventLine));
    root.replaceChildren(
      cluster || '',
      el('section', { 'aria-labelledby': 'h-engines' }, el('h2', { id: 'h-engines' }, 'Engines'),
        engineCards.length ? el('div', { class: 'grid' }, engineCards) : el('p', {}, 'No engines yet: add one on the Engines page.')),
      el('section', { class: 'card', 'aria-labelledby': 'h-states' }, el('h2', { id: 'h-states' }, 'Containers by state'),
        containers.length ? byState : el('p', {}, 'No containers.')),
      el('section', { class: 'card', 'aria-labelledby': 'h-events' }, el('h2', { id: 'h-events' }, 'Recent events'), eventList));
    sizeBars(root);
  };
  pages.overview.live = (e) => {
    const list = document.getElementById('events');
    if (list) {
      list.prepend(eventLine(e));
      while (list.children.length > 30) list.lastElementChild.remove();
    }
  };

  // Engines whose force box is ticked: kept across the redraws events cause.
  const forced = new Set();
  pages.engines = async () => {
    const engines = await api('GET', '/api/engines');
    if (!document.getElementById('engine-list')) {
      root.replaceChildren(el('div', { id: 'engine-list' }), may('engines', true) ? addEngineForm() : '');
    }
    const heads = ['Engine', 'Address', 'Health', 'CPUs', 'Memory', 'Labels', 'Docker', 'Actions'];
    const rows = engines.map((v) => {
      const force = el('input', { type: 'checkbox', id: `force-${v.id}` });
      force.checked = forced.has(v.id);
      force.addEventListener('change', () => (force.checked ? forced.add(v.id) : forced.delete(v.id)));
      const remove = el('button', { class: 'danger', type: 'button', 'aria-label': `Remove engine ${v.engine.id}` }, 'Remove');
      remove.addEventListener('click', () => act(remove, `Remove ${v.engine.id}`, async () => {
        await api('DELETE', `/api/engines/${encodeURIComponent(v.id)}${force.checked ? '?force=true' : ''}`);
        await pages.engines();
      }));
      const details = el('details', {}, el('summary', {}, 'Inspect'),
        el('dl', { class: 'facts' }, el('dt', {}, 'Registration'), el('dd', {}, v.id),
          el('dt', {}, 'Response time'), el('dd', {}, `${((v.health && v.health.response_time) || 0) / 1e6} ms`),
          el('dt', {}, 'TLS'), el('dd', {}, /^https:/.test(v.engine.addr) ? 'yes, with its certificates' : 'no')));
      return row(heads, [v.engine.id, v.engine.addr, healthPill(v.health), String(v.engine.cpus), mib(v.engine.memory),
        (v.engine.labels || []).join(', '), v.docker_version || '', may('engines', true)
          ? el('div', {}, details, el('span', { class: 'inline' }, force, el('label', { for: force.id }, 'force: move its containers')), remove)
          : details]);
    });
    document.getElementById('engine-list').replaceChildren(table('Engines of the cluster', heads, rows));
  };
  pages.engines.live = () => {};

  function addEngineForm() {
    const f = {
      id: el('input', { name: 'id', required: true, autocomplete: 'off' }),
      addr: el('input', { name: 'addr', required: true, placeholder: 'unix:///run/docker.sock or https://host:2376' }),
      cpus: el('input', { name: 'cpus', type: 'number', step: '0.1', min: '0.1', value: '2', required: true }),
      memory: el('input', { name: 'memory', type: 'number', min: '1', value: '2048', required: true }),
      labels: el('input', { name: 'labels', placeholder: 'zone=a, disk=ssd' }),
      ca: el('textarea', { name: 'ca_cert' }),
      cert: el('textarea', { name: 'ssl_cert' }),
      key: el('textarea', { name: 'ssl_key' }),
    };
    const form = el('form', { class: 'card', 'aria-labelledby': 'h-add' },
      el('h2', { id: 'h-add' }, 'Add an engine'),
      field('Engine id', f.id), field('Address', f.addr), field('CPUs the scheduler may reserve', f.cpus),
      field('Memory the scheduler may reserve (MiB)', f.memory),
      field('Labels', f.labels, 'Comma-separated, as key=value.'),
      el('details', {}, el('summary', {}, 'TLS material (PEM)'),
        field('CA certificate', f.ca), field('Client certificate', f.cert), field('Client key', f.key)),
      el('button', { type: 'submit' }, 'Add engine'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const button = form.querySelector('button[type=submit]');
      act(button, `Add ${f.id.value}`, async () => {
        const labels = f.labels.value.split(',').map((s) => s.trim()).filter(Boolean);
        await api('POST', '/api/engines', {
          id: f.id.value,
          engine: { id: f.id.value, addr: f.addr.value, cpus: Number(f.cpus.value), memory: Number(f.memory.value), labels },
          ca_cert: f.ca.value, ssl_cert: f.cert.value, ssl_key: f.key.value,
        });
        form.reset();
        await pages.engines();
      });
    });
    return form;
  }

  const PAGE_SIZE = 50;
  const listState = { all: [], offset: 0 };

  pages.containers = async () => {
    listState.all = await api('GET', '/api/containers');
    if (!document.getElementById('filters')) {
      const input = (name, label) => field(label, el('input', { id: `q-${name}`, name, type: 'search', autocomplete: 'off' }));
      const state = el('select', { id: 'q-state', name: 'state' }, el('option', { value: '' }, 'any'),
        el('option', { value: 'running' }, 'running'), el('option', { value: 'stopped' }, 'stopped'));
      const filters = el('form', { id: 'filters', class: 'filters card', role: 'search', 'aria-label': 'Filter containers' },
        input('name', 'Name'), input('image', 'Image'), input('engine', 'Engine'), input('label', 'Label'), field('State', state));
      filters.addEventListener('input', () => { listState.offset = 0; drawContainers(); });
      filters.addEventListener('submit', (ev) => ev.preventDefault());
      root.replaceChildren(filters, el('div', { id: 'list' }), el('section', { id: 'detail', 'aria-live': 'polite' }));
    }
    drawContainers();
  };

  function matching() {
    const q = (n) => (document.getElementById(`q-${n}`) || {}).value || '';
    const [name, image, engine, label, state] = ['name', 'image', 'engine', 'label', 'state'].map((n) => q(n).toLowerCase());
    return listState.all.filter((c) => (!name || containerName(c).toLowerCase().includes(name) || c.id.startsWith(name))
      && (!image || ((c.image && c.image.name) || '').toLowerCase().includes(image))
      && (!engine || ((c.engine && c.engine.id) || '').toLowerCase().includes(engine))
      && (!label || ((c.image && c.image.labels) || []).some((l) => l.toLowerCase().includes(label)))
      && (!state || stateOf(c) === state));
  }

  function drawContainers() {
    const list = document.getElementById('list');
    if (!list) return;
    const found = matching();
    if (listState.offset >= found.length) listState.offset = Math.max(0, found.length - PAGE_SIZE);
    const shown = found.slice(listState.offset, listState.offset + PAGE_SIZE);
    const heads = ['Name', 'Image', 'Engine', 'State', 'Ports', 'Actions'];
    const write = may('containers', true);
    const rows = shown.map((c) => {
      const name = containerName(c);
      const button = (label, cls, run) => {
        const b = el('button', { type: 'button', class: cls, 'aria-label': `${label} ${name}` }, label);
        b.addEventListener('click', () => act(b, `${label} ${name}`, run));
        return b;
      };
      const id = encodeURIComponent(c.id);
      const count = el('input', { type: 'number', min: '1', max: '1000', value: '2', 'aria-label': `Containers of ${name}'s image config`, class: 'count' });
      const actions = [button('Inspect', 'secondary', () => inspect(c.id)), button('Logs', 'secondary', () => followLogs(c.id, name))];
      if (write) {
        actions.push(button('Stop', 'secondary', () => api('GET', `/api/containers/${id}/stop`)),
          button('Restart', 'secondary', () => api('GET', `/api/containers/${id}/restart`)),
          button('Destroy', 'danger', () => api('DELETE', `/api/containers/${id}`)),
          el('span', { class: 'inline' }, count, button('Scale', 'secondary', () => api('GET', `/api/containers/${id}/scale?count=${Number(count.value)}`))));
      }
      const ports = (c.ports || []).map((p) => `${p.host_ip ? `${p.host_ip}:` : ''}${p.port}→${p.container_port}/${p.proto}`).join(', ');
      return row(heads, [name, (c.image && c.image.name) || '', (c.engine && c.engine.id) || '', stateOf(c), ports, el('div', {}, actions)],
        { 'data-id': c.id });
    });
    const pager = el('nav', { class: 'pager', 'aria-label': 'Pages of containers' },
      el('span', {}, found.length ? `${listState.offset + 1}–${listState.offset + shown.length} of ${found.length} (of ${listState.all.length} in all)` : `none of ${listState.all.length}`));
    const step = (label, to, off) => {
      const b = el('button', { type: 'button', class: 'secondary', disabled: off }, label);
      b.addEventListener('click', () => { listState.offset = to; drawContainers(); });
      return b;
    };
    pager.append(step('Previous', Math.max(0, listState.offset - PAGE_SIZE), listState.offset === 0),
      step('Next', listState.offset + PAGE_SIZE, listState.offset + PAGE_SIZE >= found.length));
    list.replaceChildren(pager, table('Containers', heads, rows));
  }

  async function inspect(id) {
    const c = await api('GET', `/api/containers/${encodeURIComponent(id)}`);
    const detail = document.getElementById('detail');
    detail.replaceChildren(el('h2', { tabindex: '-1', id: 'h-detail' }, `Container ${containerName(c)}`),
      el('pre', {}, JSON.stringify(c, null, 2)));
    document.getElementById('h-detail').focus();
  }

  let logReader = null;
  async function followLogs(id, name) {
    if (logReader) { logReader.cancel().catch(() => {}); logReader = null; }
    const out = el('pre', { id: 'logs', tabindex: '0', 'aria-label': `Output of ${name}` });
    const stop = el('button', { type: 'button', class: 'secondary' }, 'Stop following');
    const detail = document.getElementById('detail');
    detail.replaceChildren(el('h2', { tabindex: '-1', id: 'h-detail' }, `Logs of ${name} (followed live)`), stop, out);
    document.getElementById('h-detail').focus();
    const res = await api('GET', `/api/containers/${encodeURIComponent(id)}/logs?tail=200&follow=true`, undefined, true);
    const reader = res.body.getReader();
    logReader = reader;
    stop.addEventListener('click', () => { reader.cancel().catch(() => {}); say(`Stopped following ${name}.`); });
    const text = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out.append(text.decode(value, { stream: true }));
      if (out.textContent.length > 200000) out.textContent = out.textContent.slice(-100000);
      out.scrollTop = out.scrollHeight;
    }
  }

  pages.containers.live = () => {};
  pages.containers.refresh = async () => {
    listState.all = await api('GET', '/api/containers');
    drawContainers();
  };

  pages.deploy = async () => {
    const f = {
      name: el('input', { name: 'name', required: true, placeholder: 'busybox:latest', autocomplete: 'off' }),
      count: el('input', { name: 'count', type: 'number', min: '1', max: '1000', value: '1' }),
      cpus: el('input', { name: 'cpus', type: 'number', step: '0.05', min: '0', value: '0.1' }),
      memory: el('input', { name: 'memory', type: 'number', min: '0', value: '64' }),
      type: el('select', { name: 'type' }, ['service', 'unique', 'host', 'global'].map((t) => el('option', { value: t }, t))),
      labels: el('input', { name: 'labels', placeholder: 'zone==a, disk!=hdd', autocomplete: 'off' }),
      args: el('input', { name: 'args', placeholder: 'sleep 600', autocomplete: 'off' }),
      env: el('textarea', { name: 'environment', rows: '3', placeholder: 'KEY=value' }),
      ports: el('input', { name: 'bind_ports', placeholder: '8080:80/tcp', autocomplete: 'off' }),
      restart: el('select', { name: 'restart_policy' }, ['', 'no', 'always', 'on-failure', 'unless-stopped']
        .map((p) => el('option', { value: p }, p || 'engine default'))),
    };
    const verdict = el('section', { id: 'verdict', class: 'card sticky', 'aria-live': 'polite', 'aria-labelledby': 'h-verdict' },
      el('h2', { id: 'h-verdict' }, 'Where it would go'), el('p', {}, 'Name an image to see the scheduler’s choice.'));
    const form = el('form', { class: 'card', 'aria-labelledby': 'h-request', id: 'deploy-form' },
      el('h2', { id: 'h-request' }, 'Deploy request'),
      field('Image', f.name), field('Containers', f.count), field('CPUs', f.cpus), field('Memory (MiB)', f.memory),
      field('Type', f.type, 'service: engines with every label; unique: and not running the image; host: the engine named by host:<id>; global: one on every matching engine.'),
      field('Labels and constraints', f.labels, 'Comma-separated: zone==a, disk!=hdd, host:engine-b.'),
      field('Command', f.args, 'As a shell would split it: quote words that hold spaces.'),
      field('Environment', f.env, 'One KEY=value a line.'),
      field('Published ports', f.ports, 'Comma-separated host:container/proto; 0 or no host port lets the engine choose.'),
      field('Restart policy', f.restart),
      el('button', { type: 'submit' }, 'Deploy'));
    const request = () => {
      const list = (s, sep) => s.split(sep).map((x) => x.trim()).filter(Boolean);
      const environment = {};
      for (const line of list(f.env.value, '\n')) {
        const i = line.indexOf('=');
        if (i > 0) environment[line.slice(0, i)] = line.slice(i + 1);
      }
      const bind_ports = list(f.ports.value, ',').map((p) => {
        const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(p);
        if (!m) throw new Error(`published port ${JSON.stringify(p)}: write host:container/proto`);
        return { proto: m[3] || 'tcp', port: Number(m[1] || 0), container_port: Number(m[2]) };
      });
      return {
        name: f.name.value.trim(), cpus: Number(f.cpus.value || 0), memory: Number(f.memory.value || 0), type: f.type.value,
        labels: list(f.labels.value, ','), args: words(f.args.value), environment, bind_ports,
        restart_policy: { name: f.restart.value },
      };
    };
    const count = () => Math.max(1, Number(f.count.value || 1));
    let asked = 0;
    const dryRun = debounce(async () => {
      const mine = ++asked;
      let body;
      try { body = request(); } catch (e) { verdict.replaceChildren(el('h2', { id: 'h-verdict' }, 'Where it would go'), el('p', { class: 'error' }, e.message)); return; }
      if (!body.name) return;
      let answer = null;
      let error = null;
      try { answer = await api('POST', `/api/containers?dry_run=true&count=${count()}`, body); } catch (e) { error = e; }
      if (mine !== asked) return;
      const parts = [el('h2', { id: 'h-verdict' }, 'Where it would go')];
      const refusals = (answer && answer.refusals) || (error && error.data && error.data.refusals) || [];
      if (answer) {
        parts.push(el('p', { class: 'chosen', id: 'chosen' }, `Chosen: ${answer.engines.map((a) => a.engine + (a.holds_image ? ' (holds the image)' : '')).join(', ')}`));
      } else {
        parts.push(el('p', { class: 'error', id: 'refused' }, error.message));
      }
      if (refusals.length) {
        parts.push(el('h3', {}, 'Engines that would not take it'),
          el('ul', { class: 'refusals', id: 'refusals' }, refusals.map((r) => el('li', {}, r))));
      }
      verdict.replaceChildren(...parts);
    }, 250);
    form.addEventListener('input', dryRun);
    form.addEventListener('change', dryRun);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const button = form.querySelector('button[type=submit]');
      act(button, 'Deploy', async () => {
        const placed = await api('POST', `/api/containers?count=${count()}`, request());
        verdict.replaceChildren(el('h2', { id: 'h-verdict' }, 'Deployed'),
          el('ul', { id: 'placed' }, placed.map((c) => el('li', {}, `${containerName(c)} on ${c.engine && c.engine.id}`))),
          el('p', {}, el('a', { href: '/ui/containers' }, 'See them among the containers')));
      });
    });
    root.replaceChildren(el('div', { class: 'split' }, form, verdict));
  };

  // Compose projects: the list, a new project from YAML (errors shown at
  // their line), and one project (`#name`): its normalised config, services
  // and containers, lifecycle, blue-green update, volumes.

  /** Where an error message points in a file: `line N[, column M]`. */
  function lineOf(message) {
    const m = /line (\d+)(?:, column (\d+))?/.exec(message || '');
    return m ? { line: Number(m[1]), column: Number(m[2] || 1) } : null;
  }

  /** An error about a YAML text, with the lines around the one it names. */
  function yamlError(message, text, area) {
    const at = lineOf(message);
    const parts = [el('p', { class: 'error', role: 'alert' }, message)];
    if (at) {
      const lines = text.split('\n');
      const from = Math.max(1, at.line - 2);
      const to = Math.min(lines.length, at.line + 2);
      const shown = [];
      for (let n = from; n <= to; n += 1) {
        const t = `${String(n).padStart(4)} | ${lines[n - 1] || ''}\n`;
        shown.push(n === at.line ? el('mark', { id: 'error-line' }, t) : t);
      }
      parts.push(el('pre', { 'aria-label': `The file around line ${at.line}` }, shown));
      if (area) {
        // The caret goes to the line, so the user fixes it where it is.
        let offset = 0;
        for (let n = 1; n < at.line && n <= lines.length; n += 1) offset += lines[n - 1].length + 1;
        area.focus();
        area.setSelectionRange(offset, offset + (lines[at.line - 1] || '').length);
      }
    }
    return parts;
  }

  const envOf = (text) => {
    const out = {};
    for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const i = line.indexOf('=');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  };

  pages.projects = async () => {
    if (!document.getElementById('project-list')) {
      root.replaceChildren(el('div', { id: 'project-detail' }), el('div', { id: 'project-list' }),
        may('projects', true) ? newProjectForm() : '');
      window.addEventListener('hashchange', () => pages.projects().catch((e) => say(e.message, true)));
    }
    const list = await api('GET', '/projects/?services=true');
    const heads = ['Project', 'Owner', 'Version', 'Desired', 'Current', 'Update', 'Services'];
    const rows = list.map((p) => row(heads, [el('a', { href: `#${encodeURIComponent(p.name)}` }, p.name), p.created_by || '',
      p.version, p.desired_state, p.current_state, p.update ? `${p.update.method} ${p.update.from}→${p.update.to}: ${p.update.phase}` : '',
      (p.services || []).map((s) => s.name).join(', ')]));
    document.getElementById('project-list').replaceChildren(list.length
      ? table('Compose projects', heads, rows) : el('p', {}, 'No projects yet.'));
    const name = decodeURIComponent(location.hash.slice(1));
    await drawProject(name);
  };
  pages.projects.live = () => {};

  function newProjectForm() {
    const f = {
      name: el('input', { name: 'name', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9][A-Za-z0-9-]{0,63}' }),
      template: el('textarea', { name: 'template', rows: '12', required: true, spellcheck: 'false' }),
      env: el('textarea', { name: 'environment', rows: '3', spellcheck: 'false' }),
    };
    const problems = el('div', { id: 'create-error', 'aria-live': 'assertive' });
    const form = el('form', { class: 'card', id: 'new-project', 'aria-labelledby': 'h-new' },
      el('h2', { id: 'h-new' }, 'New project from a compose file'),
      field('Project name', f.name, 'Letters, digits and -, up to 64.'),
      field('Compose file (YAML)', f.template),
      problems,
      field('Environment', f.env, 'One KEY=value a line: fills ${KEY} in the file.'),
      el('button', { type: 'submit' }, 'Create project'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      problems.replaceChildren();
      const button = form.querySelector('button[type=submit]');
      act(button, `Create ${f.name.value}`, async () => {
        try {
          await api('POST', '/projects/', { name: f.name.value, template: f.template.value, environment: envOf(f.env.value) });
        } catch (e) {
          problems.replaceChildren(...yamlError(e.message, f.template.value, f.template));
          throw e;
        }
        const name = f.name.value;
        form.reset();
        location.hash = encodeURIComponent(name);
      });
    });
    return form;
  }

  let projectPoll = null;
  async function drawProject(name) {
    const box = document.getElementById('project-detail');
    clearTimeout(projectPoll);
    if (!name) { box.replaceChildren(); return; }
    let p;
    try {
      p = await api('GET', `/projects/${encodeURIComponent(name)}?containers=true`);
    } catch (e) {
      box.replaceChildren(el('p', { class: 'error' }, `Project ${name}: ${e.message}`));
      return;
    }
    const path = `/projects/${encodeURIComponent(p.name)}`;
    const write = may('projects', true);
    const button = (label, cls, run) => {
      const b = el('button', { type: 'button', class: cls, id: `do-${label.toLowerCase().replace(/\W+/g, '-')}` }, label);
      b.addEventListener('click', () => act(b, `${label} ${p.name}`, async () => { await run(); await drawProject(p.name); }));
      return b;
    };
    const actions = write ? [
      button('Start', '', () => api('POST', `${path}/start`)),
      button('Stop', 'secondary', () => api('POST', `${path}/stop`)),
      button('Kill', 'secondary', () => api('POST', `${path}/kill`)),
      button('Redeploy', 'secondary', () => api('POST', `${path}/redeploy`)),
      button('Delete', 'danger', async () => { await api('DELETE', `${path}?force=true`); location.hash = ''; }),
    ] : [];
    const services = (p.services || []).map((s) => {
      const heads = ['Container', 'Engine', 'Address', 'Status', 'Health', 'Version'];
      const rows = Object.values(s.containers || {}).map((c) => row(heads, [c.name, c.node, c.ip, c.status || (c.running ? 'running' : 'stopped'), c.health || '', c.version || '']));
      return el('section', { class: 'card', 'aria-label': `Service ${s.name}` },
        el('h3', {}, `${s.name} `, el('span', { class: 'pill' }, s.current_state)),
        s.reason ? el('p', { class: 'error' }, s.reason) : null,
        rows.length ? table(`Containers of ${s.name}`, heads, rows) : el('p', {}, 'No containers.'));
    });
    const update = p.update;
    const updateBox = el('section', { class: 'card', id: 'update', 'aria-labelledby': 'h-update', 'aria-live': 'polite' },
      el('h3', { id: 'h-update' }, 'Update'),
      update
        ? [el('p', { id: 'update-phase' }, `${update.method} update from version ${update.from} to ${update.to}: `, el('strong', {}, update.phase),
          update.reason ? ` (${update.reason})` : ''),
        write ? [button('Confirm update', '', () => api('POST', `${path}/confirm-update`)),
          button('Roll back update', 'secondary', () => api('POST', `${path}/rollback-update`))] : null]
        : write ? updateForm(p) : el('p', {}, 'No update under way.'));
    const config = el('details', { id: 'config' }, el('summary', {}, 'Normalised configuration'), el('pre', { id: 'config-text' }, '…'));
    config.addEventListener('toggle', async () => {
      if (!config.open) return;
      try {
        const res = await api('GET', `${path}/config`, undefined, true);
        config.querySelector('pre').textContent = await res.text();
      } catch (e) {
        config.querySelector('pre').textContent = e.message;
      }
    });
    redraw(box, el('section', { class: 'card', 'aria-labelledby': 'h-project' },
      el('h2', { id: 'h-project', tabindex: '-1' }, `Project ${p.name}`),
      el('p', { id: 'project-state' }, `Version ${p.version}; desired ${p.desired_state}, now `, el('strong', {}, p.current_state),
        p.engine ? ` on ${p.engine}` : '', p.reason ? ` — ${p.reason}` : ''),
      el('div', {}, actions), config, el('h3', {}, 'Services'), services, updateBox, await volumesOf(p.name)));
    // While it moves (a start, a stop, an update's phases), it is looked at
    // again each second: not every step is an event of the cluster.
    const settled = ['running', 'stopped', 'failed', 'deleted', 'completed'].includes(p.current_state)
      && (!update || ['ready', 'failed'].includes(update.phase));
    if (!settled) projectPoll = setTimeout(() => drawProject(name).catch((e) => say(e.message, true)), 1000);
  }

  function updateForm(p) {
    const template = el('textarea', { name: 'template', rows: '10', spellcheck: 'false' });
    template.value = p.template;
    const version = el('input', { name: 'version', required: true, autocomplete: 'off' });
    const problems = el('div', { 'aria-live': 'assertive' });
    const form = el('form', { id: 'update-form' },
      field('New version', version), field('Compose file of the new version', template), problems,
      el('button', { type: 'submit' }, 'Start blue-green update'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      problems.replaceChildren();
      const button = form.querySelector('button[type=submit]');
      act(button, `Update ${p.name}`, async () => {
        try {
          await api('POST', `/projects/${encodeURIComponent(p.name)}/update`,
            { version: version.value, template: template.value, update_method: 'blue-green' });
        } catch (e) {
          problems.replaceChildren(...yamlError(e.message, template.value, template));
          throw e;
        }
        await drawProject(p.name);
      });
    });
    return form;
  }

  async function volumesOf(project) {
    let volumes = [];
    try { volumes = ((await api('GET', '/volumes')).Volumes || []).filter((v) => v.Name.startsWith(`${project}_`)); } catch (_) { return ''; }
    if (!volumes.length) return '';
    const heads = ['Volume', 'Driver', 'Engine', 'Used by'];
    return el('section', { 'aria-label': 'Volumes' }, table(`Volumes of ${project}`, heads,
      volumes.map((v) => row(heads, [v.Name, v.Driver, v.Node || '', (v.Refs || []).map((r) => r.Name).join(', ')]))));
  }

  // Registry: repositories by project, their tags, a tag's manifest (layers
  // and sizes) with the pull command, and deleting a tag.

  const bytesText = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

  pages.registry = async () => {
    const [host, projects] = await Promise.all([
      api('GET', '/docker/ext/addr').then((a) => a.data || a.content || a).catch(() => location.host),
      api('GET', '/harbor/projects?page_size=100'),
    ]);
    const repos = [];
    for (const pr of projects) {
      const list = await api('GET', `/harbor/repositories?project_id=${pr.project_id}&page_size=100`);
      for (const r of list) repos.push(r.name);
    }
    const heads = ['Repository', 'Tags'];
    const rows = repos.map((name) => {
      const open = el('button', { type: 'button', class: 'secondary', 'aria-label': `Tags of ${name}` }, 'Tags');
      open.addEventListener('click', () => act(open, `Tags of ${name}`, () => showTags(String(host), name)));
      return row(heads, [name, open]);
    });
    root.replaceChildren(repos.length ? table('Repositories', heads, rows) : el('p', {}, `No images yet: push one to ${host}.`),
      el('section', { id: 'repo', 'aria-live': 'polite' }), el('section', { id: 'manifest', 'aria-live': 'polite' }));
  };

  async function showTags(host, repo) {
    const tags = await api('GET', `/harbor/repositories/tags?repo_name=${encodeURIComponent(repo)}&page_size=100`);
    const heads = ['Tag', 'Pull', 'Actions'];
    const rows = tags.map((t) => {
      const show = el('button', { type: 'button', class: 'secondary', 'aria-label': `Manifest of ${repo}:${t.name}` }, 'Layers');
      show.addEventListener('click', () => act(show, `${repo}:${t.name}`, () => showManifest(host, repo, t.name)));
      const actions = [show];
      if (may('registry', true)) {
        const del = el('button', { type: 'button', class: 'danger', 'aria-label': `Delete tag ${repo}:${t.name}` }, 'Delete tag');
        del.addEventListener('click', () => act(del, `Delete ${repo}:${t.name}`, async () => {
          // The seed's names: the repository is `projectName`, the tag `repoName`.
          await api('DELETE', '/harbor/repositories', { projectName: repo, repoName: t.name });
          await showTags(host, repo);
        }));
        actions.push(del);
      }
      return row(heads, [t.name, el('code', {}, `docker pull ${host}/${repo}:${t.name}`), el('div', {}, actions)]);
    });
    document.getElementById('repo').replaceChildren(el('h2', { id: 'h-repo', tabindex: '-1' }, repo),
      tags.length ? table(`Tags of ${repo}`, heads, rows) : el('p', {}, 'No tags.'));
    document.getElementById('h-repo').focus();
  }

  async function showManifest(host, repo, tag) {
    const m = await api('GET', `/harbor/repositories/manifests?repo_name=${encodeURIComponent(repo)}&tag=${encodeURIComponent(tag)}`);
    const manifest = typeof m.manifest === 'string' ? JSON.parse(m.manifest) : m.manifest;
    const layers = (manifest && (manifest.layers || manifest.fsLayers)) || [];
    const heads = ['#', 'Digest', 'Media type', 'Size'];
    const total = layers.reduce((n, l) => n + (l.size || 0), 0);
    document.getElementById('manifest').replaceChildren(
      el('h2', { id: 'h-manifest', tabindex: '-1' }, `${repo}:${tag}`),
      el('p', {}, 'Pull: ', el('code', { id: 'pull-command' }, `docker pull ${host}/${repo}:${tag}`)),
      table(`Layers of ${repo}:${tag} (${bytesText(total)} in all)`, heads,
        layers.map((l, i) => row(heads, [String(i + 1), el('code', {}, l.digest || l.blobSum || ''), l.mediaType || '', bytesText(l.size || 0)])),
        'stack layers'),
      el('details', {}, el('summary', {}, 'Manifest and config'), el('pre', {}, JSON.stringify(m, null, 2))));
    document.getElementById('h-manifest').focus();
  }

  // Builds: projects, their Dockerfile edited and saved, a build with its
  // log followed live, and the history.

  const buildApi = async (method, path, body) => {
    const out = await api(method, path, body);
    if (out && out.code !== undefined && out.code !== 10000) throw new Error(out.errMsg || `code ${out.code}`);
    return out ? out.content : out;
  };

  pages.builds = async () => {
    if (!document.getElementById('build-list')) {
      const name = el('input', { name: 'projectName', required: true, autocomplete: 'off' });
      const form = el('form', { class: 'card inline', id: 'new-build' }, field('New build project', name),
        el('button', { type: 'submit' }, 'Create'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        act(form.querySelector('button'), `Create ${name.value}`, async () => {
          await buildApi('POST', '/api/project/new', { projectName: name.value });
          location.hash = encodeURIComponent(name.value);
          form.reset();
          await pages.builds();
        });
      });
      root.replaceChildren(el('div', { id: 'build-list' }), may('builds', true) ? form : '', el('div', { id: 'build-detail' }));
      window.addEventListener('hashchange', () => drawBuild(decodeURIComponent(location.hash.slice(1))).catch((e) => say(e.message, true)));
    }
    const list = await buildApi('GET', '/api/project/list?page_size=100');
    const items = Array.isArray(list) ? list : [];
    const heads = ['Project', 'Owner', 'Last change'];
    document.getElementById('build-list').replaceChildren(items.length
      ? table('Build projects', heads, items.map((p) => row(heads, [el('a', { href: `#${encodeURIComponent(p.name)}` }, p.name), p.owner || p.creator || '', p.lastModifyTime || ''])))
      : el('p', {}, 'No build projects yet.'));
    await drawBuild(decodeURIComponent(location.hash.slice(1)));
  };

  async function drawBuild(name) {
    const box = document.getElementById('build-detail');
    if (!box) return;
    if (!name) { box.replaceChildren(); return; }
    const q = `projectName=${encodeURIComponent(name)}`;
    const [p, history] = await Promise.all([
      buildApi('GET', `/api/project/info?${q}`),
      buildApi('GET', `/api/project/buildHistory?${q}`),
    ]);
    const dockerfile = el('textarea', { name: 'dockerfile', rows: '10', spellcheck: 'false' });
    dockerfile.value = p.dockerfile || '';
    const tag = el('input', { name: 'tag', required: true, value: 'latest', autocomplete: 'off' });
    const log = el('pre', { id: 'build-log', tabindex: '0', 'aria-label': 'Build log' });
    const save = el('button', { type: 'button', class: 'secondary' }, 'Save Dockerfile');
    const saved = () => buildApi('POST', '/api/project/save',
      { project: name, dockerfile: dockerfile.value, DefineDockerFileType: 'define', Cluster: p.Cluster || 'default_cluster' });
    save.addEventListener('click', () => act(save, `Save ${name}`, saved));
    const build = el('button', { type: 'button', id: 'do-build' }, 'Save and build');
    build.addEventListener('click', () => act(build, `Build ${name}`, async () => {
      await saved();
      const r = await buildApi('POST', '/api/project/build', { projectName: name, tag: tag.value });
      followBuild(r.idStr, log, () => drawHistory(name));
    }));
    const histBox = el('div', { id: 'build-history' });
    box.replaceChildren(el('section', { class: 'card', 'aria-labelledby': 'h-build' },
      el('h2', { id: 'h-build', tabindex: '-1' }, `Build project ${p.name}`),
      field('Dockerfile', dockerfile), field('Tag', tag),
      may('builds', true) ? el('div', {}, save, build) : '',
      el('h3', {}, 'Log'), log, el('h3', {}, 'History'), histBox));
    drawHistoryInto(histBox, history, log);
  }

  async function drawHistory(name) {
    const box = document.getElementById('build-history');
    if (!box) return;
    const history = await buildApi('GET', `/api/project/buildHistory?projectName=${encodeURIComponent(name)}`);
    drawHistoryInto(box, history, document.getElementById('build-log'));
  }

  function drawHistoryInto(box, history, log) {
    const heads = ['Build', 'Tag', 'Status', 'Image', 'Log'];
    const rows = (Array.isArray(history) ? history : []).map((r) => {
      const b = el('button', { type: 'button', class: 'secondary', 'aria-label': `Log of build ${r.idStr}` }, 'Log');
      b.addEventListener('click', () => followBuild(r.idStr, log, () => {}));
      return row(heads, [r.idStr, r.tag, r.status, r.image || '', b]);
    });
    box.replaceChildren(rows.length ? table('Builds', heads, rows) : el('p', {}, 'No builds yet.'));
  }

  let buildSource = null;
  function followBuild(id, log, ended) {
    if (buildSource) buildSource.close();
    log.textContent = '';
    const source = new EventSource(`/api/project/build/${encodeURIComponent(id)}/log`);
    buildSource = source;
    source.addEventListener('line', (m) => { log.append(`${m.data}\n`); log.scrollTop = log.scrollHeight; });
    source.addEventListener('end', (m) => {
      log.append(`— build ${m.data}\n`);
      say(`Build ${id}: ${m.data}.`, m.data !== 'succeeded');
      source.close();
      ended();
    });
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) say(`The log of build ${id} ended.`); };
  }

  // Access: the account's own password and client certificates; for an
  // admin, accounts, roles and their capabilities, service keys (shown
  // once) and webhook keys.

  pages.access = async () => {
    const parts = [passwordForm(), await certificates()];
    if (may('accounts', false)) parts.push(await accounts());
    if (may('roles', false)) parts.push(await roles());
    if (may('servicekeys', false)) parts.push(await serviceKeys());
    if (may('webhookkeys', false)) parts.push(await webhookKeys());
    root.replaceChildren(...parts);
  };

  function passwordForm() {
    const pw = el('input', { type: 'password', name: 'password', required: true, autocomplete: 'new-password' });
    const form = el('form', { class: 'card', 'aria-labelledby': 'h-pw' }, el('h2', { id: 'h-pw' }, 'Your password'),
      field('New password', pw, 'Changing it signs you out everywhere, this page included.'),
      el('button', { type: 'submit' }, 'Change password'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(form.querySelector('button'), 'Change password', async () => {
        await api('POST', '/account/changepassword', { password: pw.value });
        location.assign('/ui/login');
      });
    });
    return form;
  }

  async function certificates() {
    const cluster = (await api('GET', '/api/cluster/info').catch(() => ({}))).cluster;
    const box = el('section', { class: 'card', id: 'certs', 'aria-labelledby': 'h-certs' }, el('h2', { id: 'h-certs' }, 'Your client certificates'));
    if (!cluster) return box;
    const path = `/clusters/${encodeURIComponent(cluster)}/certs`;
    const issued = await api('GET', `${path}/issued`).catch(() => []);
    const heads = ['Serial', 'Subject', 'Expires', 'State', 'Actions'];
    const when = (secs) => (secs ? new Date(secs * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
    const rows = (issued || []).map((c) => {
      const revoke = el('button', { type: 'button', class: 'danger', 'aria-label': `Revoke certificate ${c.serial}` }, 'Revoke');
      revoke.addEventListener('click', () => act(revoke, `Revoke ${c.serial}`, async () => {
        await api('DELETE', `${path}/${encodeURIComponent(c.serial)}`);
        await pages.access();
      }));
      return row(heads, [c.serial, c.subject, when(c.expires), c.revoked ? `revoked ${when(c.revoked)}` : 'valid', c.revoked ? '' : revoke]);
    });
    const make = el('button', { type: 'button' }, 'Issue a certificate');
    const out = el('div', { id: 'new-cert', 'aria-live': 'polite' });
    make.addEventListener('click', () => act(make, 'Issue a certificate', async () => {
      const pems = await api('GET', path);
      const link = (name, text) => el('a', { download: name, href: `data:application/x-pem-file;charset=utf-8,${encodeURIComponent(text)}` }, name);
      out.replaceChildren(el('p', { class: 'once' }, 'Download the three files now: the key is not kept and is not shown again. ',
        link('ca.pem', pems.ca), ' ', link('cert.pem', pems.cert), ' ', link('key.pem', pems.key)));
    }));
    box.append(el('p', {}, 'For the cluster endpoint: the docker CLI and docker-compose over mutual TLS (DOCKER_CERT_PATH).'),
      make, out, rows.length ? table('Issued certificates', heads, rows) : el('p', {}, 'None issued.'));
    return box;
  }

  async function accounts() {
    const list = await api('GET', '/api/accounts');
    const heads = ['Account', 'Role', 'Actions'];
    const rows = list.map((a) => {
      const del = el('button', { type: 'button', class: 'danger', 'aria-label': `Delete account ${a.username}` }, 'Delete');
      del.addEventListener('click', () => act(del, `Delete ${a.username}`, async () => {
        await api('DELETE', '/api/accounts', { username: a.username });
        await pages.access();
      }));
      return row(heads, [a.username, (a.role && a.role.name) || '', may('accounts', true) ? del : '']);
    });
    const f = { user: el('input', { name: 'username', required: true, autocomplete: 'off' }),
      pw: el('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' }),
      role: el('input', { name: 'role', required: true, value: 'user', autocomplete: 'off' }) };
    const form = el('form', { class: 'inline' }, field('Username', f.user), field('Password', f.pw), field('Role', f.role),
      el('button', { type: 'submit' }, 'Add account'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(form.querySelector('button'), `Add ${f.user.value}`, async () => {
        await api('POST', '/api/accounts', { username: f.user.value, password: f.pw.value, role: { name: f.role.value } });
        await pages.access();
      });
    });
    return el('section', { class: 'card', id: 'accounts', 'aria-labelledby': 'h-accounts' }, el('h2', { id: 'h-accounts' }, 'Accounts'),
      table('Accounts', heads, rows), may('accounts', true) ? form : '');
  }

  const BUILT_IN = {
    admin: 'everything: every area, every capability (host binds, privileged, devices, host namespaces, …) and everyone’s projects',
    user: 'every area but accounts, roles and service keys; reads the registry; its own projects, builds and volumes; no capability',
  };

  async function roles() {
    const list = await api('GET', '/api/roles');
    const heads = ['Role', 'Permissions and capabilities'];
    return el('section', { class: 'card', id: 'roles', 'aria-labelledby': 'h-roles' }, el('h2', { id: 'h-roles' }, 'Roles'),
      table('Roles', heads, list.map((r) => row(heads, [r.name, (r.permissions || []).join(', ') || BUILT_IN[r.name] || 'none']))));
  }

  async function serviceKeys() {
    const list = await api('GET', '/api/servicekeys');
    const heads = ['Key', 'Description', 'Role', 'Actions'];
    const rows = list.map((k) => {
      const del = el('button', { type: 'button', class: 'danger', 'aria-label': `Delete service key ${k.description || k.key}` }, 'Delete');
      del.addEventListener('click', () => act(del, 'Delete the key', async () => {
        await api('DELETE', '/api/servicekeys', { key: k.key });
        await pages.access();
      }));
      return row(heads, [k.key, k.description || '', k.role || '', may('servicekeys', true) ? del : '']);
    });
    const desc = el('input', { name: 'description', required: true, autocomplete: 'off' });
    const role = el('input', { name: 'role', value: 'user', autocomplete: 'off' });
    const shown = el('div', { 'aria-live': 'polite', id: 'new-key' });
    const form = el('form', { class: 'inline' }, field('Description', desc), field('Role', role), el('button', { type: 'submit' }, 'Make a key'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(form.querySelector('button'), 'Make a key', async () => {
        const k = await api('POST', '/api/servicekeys', { description: desc.value, role: role.value });
        await pages.access();
        const box = document.getElementById('new-key');
        if (box) box.replaceChildren(el('p', { class: 'once' }, 'The new key, shown this once: ', el('code', {}, k.key)));
      });
    });
    return el('section', { class: 'card', id: 'servicekeys', 'aria-labelledby': 'h-keys' }, el('h2', { id: 'h-keys' }, 'Service keys'),
      table('Service keys', heads, rows), may('servicekeys', true) ? form : '', shown);
  }

  async function webhookKeys() {
    const list = await api('GET', '/api/webhookkeys');
    const heads = ['Image', 'Key', 'Actions'];
    const rows = list.map((k) => {
      const del = el('button', { type: 'button', class: 'danger', 'aria-label': `Delete webhook key of ${k.image}` }, 'Delete');
      del.addEventListener('click', () => act(del, 'Delete the webhook key', async () => {
        await api('DELETE', `/api/webhookkeys/${encodeURIComponent(k.id)}`);
        await pages.access();
      }));
      return row(heads, [k.image, k.key, may('webhookkeys', true) ? del : '']);
    });
    const image = el('input', { name: 'image', required: true, autocomplete: 'off' });
    const form = el('form', { class: 'inline' }, field('Image', image), el('button', { type: 'submit' }, 'Make a webhook key'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(form.querySelector('button'), 'Make a webhook key', async () => {
        await api('POST', '/api/webhookkeys', { image: image.value });
        await pages.access();
      });
    });
    return el('section', { class: 'card', id: 'webhookkeys', 'aria-labelledby': 'h-hooks' }, el('h2', { id: 'h-hooks' }, 'Webhook keys'),
      table('Webhook keys', heads, rows), may('webhookkeys', true) ? form : '');
  }

  // ---- start -----------------------------------------------------------

  const show = pages[page];
  async function start() {
    if (!show) return;
    try {
      await show();
    } catch (e) {
      root.replaceChildren(el('p', { class: 'error' }, `This page could not load: ${e.message}`));
    } finally {
      root.removeAttribute('aria-busy');
    }
    if (show.live !== undefined || page === 'overview') {
      const refresh = show.refresh || show;
      followEvents(show.live || (() => {}), () => refresh().catch((e) => say(e.message, true)));
    }
  }
  start();
})();
