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

  pages.engines = async () => {
    const engines = await api('GET', '/api/engines');
    if (!document.getElementById('engine-list')) {
      root.replaceChildren(el('div', { id: 'engine-list' }), may('engines', true) ? addEngineForm() : '');
    }
    const heads = ['Engine', 'Address', 'Health', 'CPUs', 'Memory', 'Labels', 'Docker', 'Actions'];
    const rows = engines.map((v) => {
      const force = el('input', { type: 'checkbox', id: `force-${v.id}` });
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
