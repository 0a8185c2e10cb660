/* gridline dispatch board: the map of the community's grids, live alerts from the event
 * stream, workers and duty. No build step, no CDN: Leaflet comes from django-leaflet's static
 * files. The stream is the truth for alerts; when it is down the page says so, and when the
 * server says "resync_required" everything is reloaded from the API. */
(function () {
  'use strict';
  performance.mark('board:script');
  var cfg = JSON.parse(document.getElementById('board-config').textContent);
  var T = cfg.text;
  var ACTIVE = { open: true, accepted: true, arrived: true };

  // What tests and the performance report read.
  var probe = (window.__board = {
    ready: false, beeps: 0, frames: [], lastEventId: null, connected: false,
    reconnects: 0, resyncs: 0, metrics: {},
  });

  var state = {
    alerts: new Map(), workers: new Map(), grids: new Map(), duty: { grids: {}, wide: [] },
    lastEventId: null, offsetMs: 0, selected: null, reloading: false, queue: [],
    downSince: null, sound: true,
  };

  // -- helpers ------------------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  // Leaflet puts a string tooltip in as HTML: hand it a text node's element instead.
  function tip(text) { return el('span', null, text); }
  function fmt(key, vars) {
    var s = T[key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split('{' + k + '}').join(vars[k]); });
    return s;
  }
  function clock(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString(cfg.lang.indexOf('en') === 0 ? 'en-GB' : 'zh-CN', { hour12: false });
  }
  function serverNow() { return Date.now() + state.offsetMs; }

  function api(method, url, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-CSRFToken'] = cfg.csrf;
      opts.body = JSON.stringify(body || {});
    }
    var sent = Date.now();
    return fetch(url, opts).then(function (r) {
      var received = Date.now();
      return r.json().catch(function () { return {}; }).then(function (data) {
        // The server stamped server_time somewhere between sent and received: take the middle.
        if (data && typeof data === 'object' && data.server_time) data.clientMid = (sent + received) / 2;
        if (r.status === 401) { toLogin(); }
        if (!r.ok) { var err = new Error((data.error && data.error.message) || r.status); err.status = r.status; err.body = data; throw err; }
        return data;
      });
    });
  }
  function toLogin() { window.location.assign(cfg.urls.login); }

  // -- the map ------------------------------------------------------------------------------
  var map = L.map('map', { preferCanvas: true, attributionControl: !!cfg.tileUrl, minZoom: 10, maxZoom: 19 });
  map.setView(cfg.center, 13);
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution, maxZoom: 19 }).addTo(map);
  }
  probe.map = map;
  var renderer = L.canvas({ padding: 0.2 });
  // Emergencies are drawn above everything else, even where pins share a household.
  map.createPane('emergencies').style.zIndex = 450;
  var emergencyRenderer = L.canvas({ padding: 0.2, pane: 'emergencies' });
  var gridLayer = L.featureGroup().addTo(map);
  var householdLayer = L.layerGroup();
  var workerLayer = L.layerGroup().addTo(map);
  var pinLayer = L.layerGroup().addTo(map);
  var pins = new Map();

  var GRID_STYLES = {
    emergency: { color: '#b71c1c', weight: 2, fillColor: '#e53935', fillOpacity: 0.45 },
    help: { color: '#e65100', weight: 2, fillColor: '#fb8c00', fillOpacity: 0.4 },
    handled: { color: '#827717', weight: 1.5, fillColor: '#fdd835', fillOpacity: 0.35 },
    quiet: { color: '#455a64', weight: 1, fillColor: '#cfd8dc', fillOpacity: 0.35 },
  };

  function gridCondition(gridId) {
    var worst = 'quiet';
    state.alerts.forEach(function (a) {
      if (a.grid_id !== gridId || !ACTIVE[a.state]) return;
      if (a.state === 'open' && a.kind === 'emergency') worst = 'emergency';
      else if (a.state === 'open' && worst !== 'emergency') worst = 'help';
      else if (worst === 'quiet') worst = 'handled';
    });
    return worst;
  }
  function restyleGrid(gridId) {
    var g = state.grids.get(gridId);
    if (!g) return;
    var cond = gridCondition(gridId);
    if (g.cond !== cond) { g.cond = cond; g.layer.setStyle(GRID_STYLES[cond]); }
  }

  function drawGrids(collection) {
    gridLayer.clearLayers();
    state.grids.clear();
    // A community's twenty grids carry their names; a district's hundreds show them on hover.
    var labelled = collection.features.length <= 60;
    collection.features.forEach(function (f) {
      var layer = L.geoJSON(f, { style: GRID_STYLES.quiet, renderer: renderer });
      if (labelled) {
        layer.bindTooltip(tip(f.properties.name.replace(f.properties.community_name, '')), { permanent: true, direction: 'center', className: 'grid-label' });
      } else {
        layer.bindTooltip(tip(f.properties.name + ' ' + f.properties.code), { sticky: true });
      }
      gridLayer.addLayer(layer);
      state.grids.set(f.properties.id, { feature: f, layer: layer, cond: 'quiet' });
    });
    if (collection.features.length) map.fitBounds(gridLayer.getBounds(), { padding: [10, 10] });
  }

  // Households: only when zoomed in, for the viewport.
  var hhTimer = null, hhSeq = 0;
  function refreshHouseholds() {
    clearTimeout(hhTimer);
    hhTimer = setTimeout(function () {
      var note = document.getElementById('hh-note');
      if (map.getZoom() < cfg.householdsZoom) {
        map.removeLayer(householdLayer);
        householdLayer.clearLayers();
        note.textContent = T.households_zoom;
        return;
      }
      var b = map.getBounds();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(',');
      var mine = ++hhSeq;
      api('GET', cfg.urls.households + '?bbox=' + bbox).then(function (data) {
        if (mine !== hhSeq) return;
        householdLayer.clearLayers();
        data.items.forEach(function (h) {
          L.circleMarker([h.lat, h.lon], { radius: 3, color: '#37474f', weight: 1, fillOpacity: 0.6, renderer: renderer })
            .bindTooltip(tip(h.address)).addTo(householdLayer);
        });
        householdLayer.addTo(map);
        note.textContent = data.truncated ? T.households_many : '';
      }).catch(function () { /* the connection banner says what is wrong */ });
    }, 200);
  }
  map.on('moveend', refreshHouseholds);

  // Workers at their last positions.
  function drawWorkers() {
    workerLayer.clearLayers();
    state.workers.forEach(function (w) {
      if (!w.position) return;
      var m = L.circleMarker([w.position.lat, w.position.lon], {
        radius: 6, weight: 2, color: '#1b1b1b', fillColor: w.on_duty ? '#2e7d32' : '#9e9e9e', fillOpacity: 0.9, renderer: renderer,
      });
      m.bindTooltip(tip(w.name + ' · ' + (w.on_duty ? T.on_duty : T.off_duty) + ' · ' + T.position_at + ' ' + clock(w.position.at)));
      m.addTo(workerLayer);
    });
  }

  // -- alerts -------------------------------------------------------------------------------
  var list = document.getElementById('alerts');
  var rows = new Map();

  function holderText(a) {
    if (a.accepted_by) return a.accepted_by.name;
    if (a.state === 'open') return T.waiting;
    return '';
  }
  function tierText(a) { return a.tier ? fmt('tier', { n: a.tier }) : T.tier_0; }

  function fillRow(li, a) {
    li.className = 'alert kind-' + a.kind + ' state-' + a.state + (ACTIVE[a.state] ? '' : ' ended') +
      (state.selected === a.alert_id ? ' selected' : '');
    li.dataset.state = a.state;
    li.textContent = '';
    li.appendChild(el('span', 'kind', T['kind_' + a.kind] || a.kind));
    var who = el('span', 'who', a.resident.name + ' · ' + (T['state_' + a.state] || a.state));
    who.dataset.testid = 'alert-state';
    li.appendChild(who);
    var cd = el('span', 'countdown');
    cd.dataset.testid = 'countdown';
    li.appendChild(cd);
    li.appendChild(el('span', 'addr', a.household.address));
    li.appendChild(el('span', 'meta', tierText(a) + ' · ' + T.holder + ': ' + (holderText(a) || '—') +
      ' · ' + T.raised_at + ' ' + clock(a.created_at)));
    var extra = [];
    if (a.presses > 1) extra.push(fmt('presses', { n: a.presses }));
    if (a.call) extra.push(T.call_119);
    if (extra.length) {
      var p = el('span', 'presses', extra.join(' · '));
      p.dataset.testid = 'presses';
      li.appendChild(p);
    }
    tickRow(li, a);
  }

  function tickRow(li, a) {
    var cd = li.children[2];
    if (a.state !== 'open') { cd.textContent = ''; return; }
    if (!a.escalates_at) { cd.textContent = T.exhausted; cd.className = 'countdown'; return; }
    var left = Math.ceil((Date.parse(a.escalates_at) - serverNow()) / 1000);
    var text = left > 0 ? left + ' ' + T.seconds : T.escalating;
    if (cd.textContent !== text) cd.textContent = text;
    cd.title = T.escalates_in;
    cd.className = 'countdown' + (left <= 15 ? ' urgent' : '');
  }

  // The urgency order of GET /api/v1/alerts (backend/alerts/selectors.by_urgency): open
  // emergencies and fires newest first (a new tier-1 emergency is always at the top), then
  // open help, being handled, open technical alarms (each by tier reached, then oldest
  // first), then ended (newest first). Repeated presses are one row with their count.
  var URGENT = { emergency: true, fire: true };
  var PERSON = { emergency: true, help: true, fire: true };
  function rank(a) {
    if (a.state === 'open' && URGENT[a.kind]) return 0;
    if (a.state === 'open' && PERSON[a.kind]) return 1;
    if (ACTIVE[a.state] && a.state !== 'open') return 2;
    if (a.state === 'open') return 3;
    return 4;
  }
  function compare(x, y) {
    var rx = rank(x), ry = rank(y);
    if (rx !== ry) return rx - ry;
    var tx = Date.parse(x.created_at), ty = Date.parse(y.created_at);
    if (rx === 0 || rx === 4) return ty - tx || y.alert_id - x.alert_id;
    return (y.tier - x.tier) || (tx - ty) || (x.alert_id - y.alert_id);
  }
  function sortRows() {
    var sorted = Array.from(state.alerts.values()).sort(compare);
    sorted.forEach(function (a, i) {
      var li = rows.get(a.alert_id);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    var active = sorted.filter(function (a) { return ACTIVE[a.state]; });
    document.getElementById('alert-count').textContent = active.length;
    document.getElementById('no-alerts').hidden = sorted.length > 0;
    drawGridCounts(active);
  }
  // More open alerts than a supervisor can scan: a count per grid above the list.
  var GRID_COUNTS_SHOWN = 12;
  function drawGridCounts(active) {
    var box = document.getElementById('grid-counts');
    if (active.length <= cfg.gridCountsOver) { box.hidden = true; return; }
    var counts = new Map();
    active.forEach(function (a) { counts.set(a.grid_id, (counts.get(a.grid_id) || 0) + 1); });
    var ul = box.querySelector('ul');
    ul.textContent = '';
    // The busiest grids only: the list of alerts must stay in view below.
    var ranked = Array.from(counts.entries()).sort(function (x, y) { return y[1] - x[1] || x[0] - y[0]; });
    ranked.slice(0, GRID_COUNTS_SHOWN).forEach(function (entry) {
      var g = state.grids.get(entry[0]);
      var item = el('li', null, (g ? g.feature.properties.name : T.grid + ' ' + entry[0]) + ' ');
      item.dataset.gridId = entry[0];
      item.appendChild(el('b', null, String(entry[1])));
      ul.appendChild(item);
    });
    if (ranked.length > GRID_COUNTS_SHOWN) {
      var rest = ranked.slice(GRID_COUNTS_SHOWN).reduce(function (n, e) { return n + e[1]; }, 0);
      ul.appendChild(el('li', 'muted', fmt('grid_counts_rest', { grids: ranked.length - GRID_COUNTS_SHOWN, n: rest })));
    }
    box.hidden = false;
  }

  function pinStyle(a) {
    var colour = a.kind === 'emergency' || a.kind === 'fire' ? '#d32f2f' : a.kind === 'help' ? '#ef6c00' : '#6d4c41';
    return { radius: a.state === 'open' ? 10 : 7, weight: 3, color: ACTIVE[a.state] ? '#000' : '#999', fillColor: colour, fillOpacity: ACTIVE[a.state] ? 0.95 : 0.3 };
  }

  function applyAlert(a, opts) {
    var known = state.alerts.get(a.alert_id);
    var fresh = !known;
    var data = Object.assign({}, a);
    delete data.step;
    state.alerts.set(a.alert_id, data);
    var li = rows.get(a.alert_id);
    if (!li) {
      li = el('li');
      li.dataset.alertId = a.alert_id;
      li.addEventListener('click', function () { select(a.alert_id); });
      rows.set(a.alert_id, li);
      list.appendChild(li);
    }
    fillRow(li, data);
    var pin = pins.get(a.alert_id);
    var at = [data.household.lat, data.household.lon];
    if (!pin) {
      pin = L.circleMarker(at, Object.assign(
        { renderer: data.kind === 'emergency' ? emergencyRenderer : renderer }, pinStyle(data)));
      pin.on('click', function () { select(a.alert_id); });
      pin.addTo(pinLayer);
      pins.set(a.alert_id, pin);
    } else {
      pin.setStyle(pinStyle(data));
    }
    pin.bindTooltip(tip((T['kind_' + data.kind] || data.kind) + ' · ' + data.resident.name + ' · ' + data.household.address));
    restyleGrid(data.grid_id);
    if (known && known.grid_id !== data.grid_id) restyleGrid(known.grid_id);
    if (!(opts && opts.bulk)) sortRows();
    // A new emergency, or any alert whose tier now calls this supervisor (alert.raised).
    if (!(opts && opts.quiet) && data.state === 'open' &&
        (((data.kind === 'emergency' || data.kind === 'fire') && (fresh || known.state !== 'open')) || (opts && opts.calledMe))) {
      alarm();
    }
    if (state.selected === a.alert_id) {
      if (a.step) appendStep(a.step);
      renderDetailHead(data);
    }
  }

  // The countdowns tick on the client, from escalates_at and the server's clock.
  setInterval(function () {
    state.alerts.forEach(function (a) {
      if (a.state === 'open') { var li = rows.get(a.alert_id); if (li) tickRow(li, a); }
    });
  }, 250);

  // -- sound and title ----------------------------------------------------------------------
  var audio = null;
  var soundButton = document.getElementById('sound');
  function beep() {
    probe.beeps += 1;
    if (!state.sound) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') {
        audio.resume();
        soundButton.textContent = T.sound_blocked;
      }
      [0, 0.35, 0.7].forEach(function (t) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.type = 'square'; o.frequency.value = 880;
        g.gain.value = 0.08;
        o.connect(g); g.connect(audio.destination);
        o.start(audio.currentTime + t); o.stop(audio.currentTime + t + 0.2);
      });
    } catch (e) { /* no audio device: the title still flashes */ }
  }
  soundButton.addEventListener('click', function () {
    state.sound = !state.sound;
    soundButton.textContent = state.sound ? T.sound_on : T.sound_off;
    if (state.sound && audio) audio.resume();
  });
  var baseTitle = document.title, flashTimer = null;
  function alarm() {
    beep();
    if (flashTimer) return;
    var on = false;
    flashTimer = setInterval(function () {
      on = !on;
      document.title = on ? T.new_emergency + ' ' + baseTitle : baseTitle;
    }, 700);
    document.title = T.new_emergency + ' ' + baseTitle;
  }
  function stopFlashing() {
    if (audio && audio.state === 'suspended') audio.resume().then(function () { soundButton.textContent = state.sound ? T.sound_on : T.sound_off; });
    if (!flashTimer) return;
    clearInterval(flashTimer); flashTimer = null; document.title = baseTitle;
  }
  document.addEventListener('click', stopFlashing);
  document.addEventListener('keydown', stopFlashing);

  // -- detail, assignment, notes ------------------------------------------------------------
  var detail = document.getElementById('detail');
  var timelineEl = null, headEl = null;

  function stepText(s) {
    var key = 'step_' + s.kind;
    var d = s.data || {};
    var name = d.assignee ? d.assignee.name : (d.recipient ? d.recipient.name : '');
    var text = fmt(key, { tier: d.tier || d.from_tier || '', name: name, count: d.count || '' });
    if (text === key) text = s.kind;
    var who = s.actor ? s.actor.name + ' ' : '';
    return clock(s.at) + ' ' + who + text + (s.note ? '：' + s.note : '');
  }
  function appendStep(s) {
    if (!timelineEl) return;
    timelineEl.appendChild(el('li', 'step step-' + s.kind, stepText(s)));
  }
  function renderDetailHead(a) {
    if (!headEl) return;
    headEl.textContent = (T['kind_' + a.kind] || a.kind) + ' #' + a.alert_id + ' · ' + a.resident.name +
      ' · ' + (T['state_' + a.state] || a.state) + ' · ' + tierText(a) + ' · ' + T.holder + ': ' + (holderText(a) || '—');
  }

  function workerOptions(a) {
    var people = Array.from(state.workers.values()).filter(function (w) { return w.community_id === a.community_id; });
    people.sort(function (x, y) {
      var gx = x.grid_ids.indexOf(a.grid_id) >= 0 ? 0 : 1, gy = y.grid_ids.indexOf(a.grid_id) >= 0 ? 0 : 1;
      return (y.on_duty - x.on_duty) || (gx - gy) || x.name.localeCompare(y.name);
    });
    return people;
  }

  function select(alertId) {
    state.selected = alertId;
    rows.forEach(function (li, id) { li.classList.toggle('selected', id === alertId); });
    var a = state.alerts.get(alertId);
    if (!a) return;
    var at = L.latLng(a.household.lat, a.household.lon);
    if (!map.getBounds().pad(-0.1).contains(at)) map.panTo(at);
    detail.hidden = false;
    detail.textContent = '';
    var h = el('h2', null, T.detail);
    var close = el('button', null, T.close);
    close.type = 'button';
    close.style.float = 'right';
    close.addEventListener('click', function () { state.selected = null; detail.hidden = true; rows.forEach(function (li) { li.classList.remove('selected'); }); });
    h.appendChild(close);
    detail.appendChild(h);
    headEl = el('h3');
    detail.appendChild(headEl);
    renderDetailHead(a);
    detail.appendChild(el('p', 'addr', a.household.address));
    detail.appendChild(el('h3', null, T.timeline));
    timelineEl = el('ol');
    timelineEl.dataset.testid = 'timeline';
    detail.appendChild(timelineEl);
    detail.appendChild(el('h3', null, T.reach));
    var reachEl = el('ul');
    reachEl.dataset.testid = 'reach';
    detail.appendChild(reachEl);
    var msg = el('p', 'error');
    msg.setAttribute('role', 'alert');

    var assignForm = el('form');
    assignForm.dataset.testid = 'assign-form';
    var sel = el('select');
    sel.name = 'assignee';
    workerOptions(a).forEach(function (w) {
      var o = el('option', null, w.name + ' · ' + (T['role_' + w.role] || w.role) + ' · ' + (w.on_duty ? T.on_duty : T.off_duty));
      o.value = w.id;
      sel.appendChild(o);
    });
    var assignNote = el('textarea');
    assignNote.name = 'note';
    assignNote.placeholder = T.assign_note;
    var assignButton = el('button', null, a.accepted_by ? T.reassign : T.assign);
    assignButton.type = 'submit';
    var label = el('label', null, T.assign_to + ' ');
    label.appendChild(sel);
    assignForm.appendChild(label);
    assignForm.appendChild(assignNote);
    assignForm.appendChild(assignButton);
    assignForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      msg.textContent = '';
      api('POST', cfg.urls.alerts + alertId + '/assign', { assignee_id: Number(sel.value), note: assignNote.value })
        .then(function () { assignNote.value = ''; })
        .catch(function (e) { msg.textContent = T.error + ': ' + e.message; });
    });
    if (ACTIVE[a.state]) detail.appendChild(assignForm);

    var noteForm = el('form');
    noteForm.dataset.testid = 'note-form';
    var note = el('textarea');
    note.name = 'note';
    note.placeholder = T.note;
    var noteButton = el('button', null, T.add_note);
    noteButton.type = 'submit';
    noteForm.appendChild(note);
    noteForm.appendChild(noteButton);
    noteForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      msg.textContent = '';
      api('POST', cfg.urls.alerts + alertId + '/notes', { note: note.value })
        .then(function () { note.value = ''; })
        .catch(function (e) { msg.textContent = T.error + ': ' + e.message; });
    });
    detail.appendChild(noteForm);
    detail.appendChild(msg);

    var mine = timelineEl;
    api('GET', cfg.urls.alerts + alertId).then(function (d) {
      if (timelineEl !== mine) return;
      timelineEl.textContent = '';
      d.timeline.forEach(appendStep);
      reachEl.textContent = '';
      (d.reach || []).forEach(function (r) {
        var rungs = r.rungs.map(function (g) {
          return (T['rung_' + g.channel] || g.channel) + ' ' + (g.outcome || g.status);
        }).join(' · ');
        var li = el('li', r.unreachable ? 'reach unreachable' : 'reach',
          r.user.name + ' (' + r.tier + ') ' + rungs + (r.unreachable ? ' — ' + T.unreachable : ''));
        reachEl.appendChild(li);
      });
    }).catch(function (e) { msg.textContent = T.error + ': ' + e.message; });
  }

  // -- duty panel ---------------------------------------------------------------------------
  function drawDuty() {
    var box = document.getElementById('duty');
    box.textContent = '';
    var people = function (ps) { return ps.map(function (p) { return p.name + '（' + (T['role_' + p.role] || p.role) + '）'; }).join('、'); };
    var wide = el('div', 'duty-grid');
    wide.appendChild(el('span', 'g', T.duty_wide));
    wide.appendChild(el('span', 'who', state.duty.wide.length ? people(state.duty.wide) : T.nobody));
    box.appendChild(wide);
    var grids = Array.from(state.grids.values()).sort(function (x, y) { return x.feature.properties.code < y.feature.properties.code ? -1 : 1; });
    grids.forEach(function (g) {
      var ps = state.duty.grids[g.feature.properties.id] || [];
      var row = el('div', 'duty-grid' + (ps.length ? '' : ' nobody'));
      row.dataset.gridId = g.feature.properties.id;
      row.appendChild(el('span', 'g', g.feature.properties.name));
      row.appendChild(el('span', 'who', ps.length ? people(ps) : T.nobody));
      box.appendChild(row);
    });
  }

  // -- state from the API -------------------------------------------------------------------
  function applyState(s, opts) {
    state.offsetMs = Date.parse(s.server_time) - (s.clientMid || Date.now());
    state.workers = new Map(s.workers.map(function (w) { return [w.id, w]; }));
    state.duty = s.duty;
    if (!opts || !opts.peopleOnly) {
      var seen = new Set();
      s.alerts.forEach(function (a) { seen.add(a.alert_id); applyAlert(a, { bulk: true, quiet: true }); });
      // Alerts the server no longer lists (ended long ago) leave the board.
      Array.from(state.alerts.keys()).forEach(function (id) {
        if (seen.has(id)) return;
        var a = state.alerts.get(id);
        state.alerts.delete(id);
        var li = rows.get(id); if (li) li.remove(); rows.delete(id);
        var pin = pins.get(id); if (pin) pinLayer.removeLayer(pin); pins.delete(id);
        restyleGrid(a.grid_id);
      });
      sortRows();
    }
    drawWorkers();
    drawDuty();
  }

  function reloadState() {
    state.reloading = true;
    probe.resyncs += 1;
    setConn('resync');
    return api('GET', cfg.urls.state).then(function (s) {
      applyState(s);
      state.reloading = false;
      var queued = state.queue; state.queue = [];
      queued.forEach(function (f) { handle(f, performance.now()); });
      if (ws && ws.readyState === 1) setConn('live');
    }).catch(function () { state.reloading = false; setTimeout(reloadState, 2000); });
  }

  // Coverage and SLA panels come from the visits and the service desk: refreshed every 30 s.
  function pct(x) { return x == null ? '—' : Math.round(x * 100) + '%'; }
  function drawPanels(p) {
    var cases = document.getElementById('cases');
    cases.textContent = '';
    if (!p.cases.length) cases.appendChild(el('li', 'muted', T.none_now));
    p.cases.forEach(function (c) {
      var li = el('li', c.overdue ? 'case overdue' : 'case near');
      li.appendChild(el('span', 'num', c.number));
      li.appendChild(el('span', 'who', (c.resident_name || '') + ' ' + (c.address || '')));
      li.appendChild(el('span', 'state', (c.overdue ? T.case_overdue : T.case_near) +
        (c.due_at ? ' · ' + clock(c.due_at) : '')));
      cases.appendChild(li);
    });
    var cov = document.getElementById('coverage');
    cov.textContent = '';
    p.coverage.forEach(function (g) {
      var row = el('div', 'duty-row');
      row.appendChild(el('span', 'grid', g.name));
      row.appendChild(el('span', 'who', pct(g.share_visited) + ' · ' + T.vulnerable_on_schedule + ' ' +
        pct(g.share_vulnerable_on_schedule) + ' · ' + g.overdue + ' ' + T.visits_overdue));
      cov.appendChild(row);
    });
    probe.panels = { cases: p.cases.length, grids: p.coverage.length };
  }
  function refreshPanels() { api('GET', cfg.urls.panels).then(drawPanels).catch(function () {}); }
  refreshPanels();
  setInterval(refreshPanels, 30000);

  // Positions and rosters are not streamed: refresh them every 30 s. The alerts are
  // reconciled too (ended ones leave the list after 30 min), but only from an answer at least
  // as new as the last frame applied: frames still in flight then end at the same picture.
  setInterval(function () {
    if (!ws || ws.readyState !== 1 || state.reloading) return;
    api('GET', cfg.urls.state).then(function (s) {
      var current = state.lastEventId == null || s.last_event_id >= state.lastEventId;
      applyState(s, { peopleOnly: !current });
    }).catch(function () {});
  }, 30000);

  // -- the stream ---------------------------------------------------------------------------
  var ws = null, attempts = 0, pingTimer = null, pongDeadline = null, reconnectTimer = null;
  var connEl = document.getElementById('conn');

  function setConn(kind) {
    var live = kind === 'live';
    probe.connected = live;
    document.body.classList.toggle('stale', !live);
    connEl.className = 'conn conn-' + (kind === 'resync' ? 'connecting' : kind);
    if (live) { state.downSince = null; connEl.textContent = T.conn_live; }
    else if (kind === 'down') {
      state.downSince = state.downSince || new Date();
      connEl.textContent = T.conn_down + '（' + T.conn_since + ' ' + clock(state.downSince.toISOString()) + '）';
    } else if (kind === 'resync') connEl.textContent = T.conn_resync;
    else connEl.textContent = T.conn_connecting;
  }

  function handle(frame, arrived) {
    if (frame.type === 'pong') { pongDeadline = null; return; }
    if (frame.type === 'hello') {
      if (state.lastEventId == null) state.lastEventId = frame.last_event_id;
      return;
    }
    if (frame.type === 'resync_required') {
      state.lastEventId = frame.last_event_id;
      probe.lastEventId = state.lastEventId;
      reloadState();
      return;
    }
    if (frame.id == null) return;
    if (state.reloading) { state.queue.push(frame); return; }
    if (state.lastEventId != null && frame.id <= state.lastEventId) return;
    state.lastEventId = frame.id;
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'ack', last_event_id: frame.id }));
    probe.lastEventId = frame.id;
    if ((frame.type === 'alert.raised' || frame.type === 'alert.updated') && frame.data && frame.data.alert_id) {
      applyAlert(frame.data, { calledMe: frame.type === 'alert.raised' });
      var applied = performance.now();
      var record = { id: frame.id, type: frame.type, alert_id: frame.data.alert_id, applyMs: applied - arrived };
      probe.frames.push(record);
      requestAnimationFrame(function () { record.paintMs = performance.now() - arrived; });
    }
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    var delay = Math.min(5000, 300 * Math.pow(2, attempts));
    attempts += 1;
    reconnectTimer = setTimeout(function () { reconnectTimer = null; connect(); }, delay);
  }

  function connect() {
    if (ws) return;
    if (state.downSince) setConn('down'); else setConn('connecting');
    api('POST', cfg.urls.ticket).then(function (t) {
      var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + t.url;
      if (state.lastEventId != null) url += '&last_event_id=' + state.lastEventId;
      var sock = new WebSocket(url);
      ws = sock;
      sock.onopen = function () {
        attempts = 0;
        if (probe.connectedOnce) probe.reconnects += 1;
        probe.connectedOnce = true;
        if (!state.reloading) setConn('live');
        clearInterval(pingTimer);
        pingTimer = setInterval(function () {
          if (pongDeadline && Date.now() > pongDeadline) { sock.close(); return; }
          if (sock.readyState === 1) { sock.send(JSON.stringify({ type: 'ping' })); pongDeadline = pongDeadline || Date.now() + 5000; }
        }, 10000);
      };
      sock.onmessage = function (ev) {
        var arrived = performance.now();
        var frame;
        try { frame = JSON.parse(ev.data); } catch (e) { return; }
        handle(frame, arrived);
      };
      sock.onclose = function () {
        if (ws === sock) ws = null;
        clearInterval(pingTimer); pongDeadline = null;
        setConn('down');
        scheduleReconnect();
      };
    }).catch(function (e) {
      if (e.status === 401) return; // api() went to the log-in page
      setConn('down');
      scheduleReconnect();
    });
  }
  window.addEventListener('online', function () { if (!ws) { clearTimeout(reconnectTimer); reconnectTimer = null; connect(); } });

  // -- start --------------------------------------------------------------------------------
  Promise.all([api('GET', cfg.urls.grids), api('GET', cfg.urls.state)]).then(function (both) {
    performance.mark('board:data');
    drawGrids(both[0]);
    applyState(both[1]);
    state.lastEventId = both[1].last_event_id;
    probe.lastEventId = state.lastEventId;
    // "drawn": after the browser has laid out and painted the first frame with everything
    requestAnimationFrame(function () {
      setTimeout(function () {
        performance.mark('board:rendered');
        var m = performance.measure('board:first-render', { start: 0, end: 'board:rendered' });
        probe.metrics = {
          firstRenderMs: m.duration,
          dataMs: performance.getEntriesByName('board:data')[0].startTime,
          grids: state.grids.size,
          alerts: state.alerts.size,
        };
        probe.ready = true;
      }, 0);
    });
    connect();
  }).catch(function (e) {
    setConn('down');
    connEl.textContent = T.error + ': ' + e.message;
    setTimeout(function () { window.location.reload(); }, 5000);
  });
})();
