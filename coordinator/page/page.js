// The coordinator's status page: it draws /status (the copy the page was
// served with first, then a fresh one every two seconds) into the page's
// sections and charts, in place, without reloading. The charts are SVG
// drawn here; nothing is loaded from elsewhere.
(function () {
  'use strict';

  var POLL_MS = 2000;
  var SVGNS = 'http://www.w3.org/2000/svg';

  // ---- elements ----

  // add appends kids (a node, a string, or an array of them, nested) to node.
  function add(node, kids) {
    if (!Array.isArray(kids)) { kids = [kids]; }
    kids.forEach(function (k) {
      if (k === null || k === undefined || k === false) { return; }
      if (Array.isArray(k)) { add(node, k); return; }
      node.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
    });
    return node;
  }

  // h makes an HTML element: h('p', {class: 'x'}, 'text', child, ...).
  function h(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined) { e.setAttribute(k, attrs[k]); }
    });
    return add(e, Array.prototype.slice.call(arguments, 2));
  }

  // s makes an SVG element.
  function s(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined) { e.setAttribute(k, attrs[k]); }
    });
    return add(e, Array.prototype.slice.call(arguments, 2));
  }

  function fill(id, kids) {
    var part = document.querySelector('#' + id + ' [data-fill]') || document.getElementById(id);
    part.replaceChildren();
    add(part, [kids]);
  }

  // ---- numbers and times ----

  function has(v) { return v !== null && v !== undefined; }

  function int(n) { return has(n) ? Math.round(n).toLocaleString('en-US') : '—'; }

  // num shows v to about three significant digits.
  function num(v, digits) {
    if (!has(v)) { return '—'; }
    if (v === 0) { return '0'; }
    var a = Math.abs(v);
    if (a < 1e-3 || a >= 1e6) { return v.toExponential(1).replace('e', '×10^').replace('^+', '^'); }
    var d = Math.max(0, (digits || 3) - 1 - Math.floor(Math.log10(a)));
    return Number(v.toFixed(Math.min(d, 6))).toLocaleString('en-US', { maximumFractionDigits: 6 });
  }

  function sci(v) { // δ: 1e-5 reads as 10⁻⁵
    if (!has(v) || v === 0) { return num(v); }
    var e = Math.floor(Math.log10(v)), m = v / Math.pow(10, e);
    var sup = String(e).replace(/-/g, '⁻').replace(/\d/g, function (c) { return '⁰¹²³⁴⁵⁶⁷⁸⁹'[c]; });
    return (Math.abs(m - 1) < 1e-9 ? '' : num(m) + '×') + '10' + sup;
  }

  function bytes(n) {
    if (!has(n)) { return '—'; }
    var units = ['B', 'kB', 'MB', 'GB', 'TB'], i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? String(Math.round(n)) : num(n)) + ' ' + units[i];
  }

  function seconds(v) {
    if (!has(v)) { return '—'; }
    if (v < 1) { return Math.round(v * 1000) + ' ms'; }
    if (v < 60) { return num(v) + ' s'; }
    var m = Math.floor(v / 60), sec = Math.round(v - 60 * m);
    if (m < 60) { return m + ' min' + (sec ? ' ' + sec + ' s' : ''); }
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }

  // goDuration reads Go's durations ("1m30s", "500ms") as seconds.
  function goDuration(d) {
    var units = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, 'µs': 1e-6, ns: 1e-9 }, total = 0, ok = false;
    String(d).replace(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g, function (_, v, u) { total += parseFloat(v) * units[u]; ok = true; });
    return ok ? seconds(total) : String(d);
  }

  function pct(v) { return has(v) ? num(100 * v) + '%' : '—'; }

  // time parses the coordinator's RFC 3339 times (nanoseconds and all).
  function time(t) {
    if (!t || t.indexOf('0001-01-01') === 0) { return null; }
    return new Date(t.replace(/(\.\d{3})\d+/, '$1'));
  }

  function two(n) { return (n < 10 ? '0' : '') + n; }

  function clock(d) {
    return d ? two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds()) : '—';
  }

  function plural(n, one, many) { return int(n) + ' ' + (n === 1 ? one : many); }

  // ---- charts ----

  var W = 560, H = 196, L = 50, R = 12, T = 10, B = 24;

  // niceStep is a round step that cuts max into about n parts; a whole
  // number for counts.
  function niceStep(max, n, whole) {
    var raw = max / n, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    var step = p * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 && !(whole && p === 1) ? 2.5 : f <= 5 ? 5 : 10);
    return whole ? Math.max(1, Math.round(step)) : step;
  }

  // chart draws values over the rounds into fig's .plot, with a legend,
  // or says spec.empty when there is nothing to draw. spec: rounds (oldest
  // first), kind 'line', 'bar' or 'stack', series [{key, name, values}],
  // fmt for values, tip(i) for round i's hover text, barClass(i) for bars,
  // ref {value, name, key} for a level to show, legend (bars' entries).
  function chart(id, spec) {
    var fig = document.getElementById(id), plot = fig.querySelector('.plot');
    plot.replaceChildren();
    var n = spec.rounds.length;
    var any = spec.series.some(function (se) {
      return se.values.some(function (v) { return has(v) && (spec.kind !== 'stack' || v > 0); });
    });
    fig.classList.toggle('blank', !any);
    if (!n || !any) {
      add(plot, h('p', { class: 'empty' }, n ? spec.empty : 'No round has finished yet.'));
      return;
    }
    var fmt = spec.fmt || num;
    var max = 0;
    for (var i = 0; i < n; i++) {
      var sum = 0;
      spec.series.forEach(function (se) {
        var v = se.values[i];
        if (!has(v)) { return; }
        sum = spec.kind === 'stack' ? sum + v : Math.max(sum, v);
      });
      max = Math.max(max, sum);
    }
    if (spec.ref) { max = Math.max(max, spec.ref.value); }
    if (!(max > 0)) { max = spec.unit || 1; }
    var step = niceStep(max, 4, spec.unit === 1);
    var top = Math.ceil(max / step - 1e-9) * step;
    var pw = W - L - R, ph = H - T - B, bw = pw / n;
    var x = function (i) { return L + bw * (i + 0.5); };
    var y = function (v) { return T + ph * (1 - v / top); };
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': fig.querySelector('figcaption').textContent, 'data-rounds': n });

    var axis = s('g', { class: 'axis' });
    for (var v = 0; v <= top + step / 2; v += step) {
      add(axis, [
        s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: v === 0 ? 'base' : 'grid' }),
        s('text', { x: L - 6, y: y(v) + 3.5, 'text-anchor': 'end' }, fmt(v, true))
      ]);
    }
    // Round numbers on a round step, about eight of them.
    var every = niceStep(Math.max(n, 2), 8, true);
    spec.rounds.forEach(function (round, i) {
      if (round % every === 0 || (n <= 2)) {
        add(axis, s('text', { x: x(i), y: H - 7, 'text-anchor': 'middle' }, round));
      }
    });
    add(svg, axis);

    var marks = s('g', { class: 'marks' });
    if (spec.kind === 'line') {
      var r = n > 60 ? 1.6 : n > 30 ? 2 : 2.6;
      spec.series.forEach(function (se) {
        var d = '', open = false;
        se.values.forEach(function (v, i) {
          if (!has(v)) { open = false; return; }
          d += (open ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
          open = true;
        });
        add(marks, s('path', { d: d, class: 'line s-' + se.key + (se.dashed ? ' dashed' : '') }));
        se.values.forEach(function (v, i) {
          if (has(v)) {
            add(marks, s('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: r, class: 'mark s-' + se.key, 'data-round': spec.rounds[i] }));
          }
        });
      });
    } else {
      var wid = Math.max(1, bw * (n > 40 ? 0.8 : 0.66));
      for (var j = 0; j < n; j++) {
        var base = 0;
        spec.series.forEach(function (se) {
          var v = se.values[j];
          if (!has(v) || (spec.kind === 'stack' && v <= 0)) { return; }
          var cls = spec.kind === 'bar' && spec.barClass ? spec.barClass(j) : se.key;
          add(marks, s('rect', { x: (x(j) - wid / 2).toFixed(2), width: wid.toFixed(2), y: y(base + v).toFixed(1),
            height: Math.max(spec.kind === 'bar' ? 1 : 0, y(base) - y(base + v)).toFixed(1), class: 'mark bar s-' + cls, 'data-round': spec.rounds[j] }));
          if (spec.kind === 'stack') { base += v; }
        });
      }
    }
    add(svg, marks);
    if (spec.ref) {
      add(svg, s('line', { x1: L, x2: W - R, y1: y(spec.ref.value), y2: y(spec.ref.value), class: 'ref s-' + spec.ref.key }));
      add(svg, s('text', { x: W - R - 4, y: y(spec.ref.value) - 5, 'text-anchor': 'end', class: 'ref-label s-' + spec.ref.key }, spec.ref.name));
    }
    // A column per round, over everything, carries the round's hover text.
    var cols = s('g', { class: 'cols' });
    for (var c = 0; c < n; c++) {
      add(cols, s('rect', { x: (L + bw * c).toFixed(2), y: T, width: bw.toFixed(2), height: ph, class: 'col', 'data-round': spec.rounds[c] },
        s('title', {}, spec.tip(c))));
    }
    add(svg, cols);
    add(plot, svg);

    var legend = h('ul', { class: 'legend' });
    (spec.legend || spec.series).forEach(function (se) {
      if (se.values && !se.values.some(has)) { return; }
      var last = null;
      if (se.values) {
        for (var i = n - 1; i >= 0; i--) { if (has(se.values[i])) { last = se.values[i]; break; } }
      }
      add(legend, h('li', { class: 's-' + se.key }, h('span', { class: 'sw' + (se.dashed ? ' dashed' : '') }), se.name,
        has(last) && spec.kind !== 'stack' ? h('b', {}, fmt(last)) : null));
    });
    if (spec.ref) {
      add(legend, h('li', { class: 's-' + spec.ref.key }, h('span', { class: 'sw ref' }), spec.ref.name, h('b', {}, fmt(spec.ref.value))));
    }
    add(plot, legend);
  }

  // ---- the page's parts ----

  var STAGES = {
    'checked-in': 'never checked in',
    'advertise-keys': 'advertised no keys',
    'share-keys': 'shared no keys',
    'masked-input': 'sent no masked input',
    'consistency': 'signed no consistency check',
    'unmask': 'sent no unmask shares',
    'reported': 'sent no report'
  };
  var STAGE_ORDER = ['checked-in', 'advertise-keys', 'share-keys', 'masked-input', 'consistency', 'unmask', 'reported'];

  function meter(value, of, mark, cls) {
    var m = h('span', { class: 'meter ' + (cls || '') });
    var bar = h('span', { class: 'fill' });
    bar.style.width = (of > 0 ? Math.min(100, 100 * value / of) : 0) + '%';
    add(m, bar);
    if (has(mark) && of > 0) {
      var tick = h('span', { class: 'tick', title: 'needed: ' + int(mark) });
      tick.style.left = Math.min(100, 100 * mark / of) + '%';
      add(m, tick);
    }
    return m;
  }

  var offset = 0; // the coordinator's clock less this browser's
  var deadline = null;

  function countdown() {
    var e = document.getElementById('countdown');
    if (!e || !deadline) { return; }
    var left = (deadline.getTime() - (Date.now() + offset)) / 1000;
    e.textContent = left > 0 ? 'in ' + seconds(Math.ceil(left)) : 'passed';
  }

  function drawRound(st) {
    var stopped = st.phase === 'stopped';
    deadline = stopped ? null : time(st.deadline);
    var kids = [h('p', { class: 'big' }, stopped ? 'Stopped' : 'Round ' + int(st.round),
      stopped ? null : h('span', { class: 'phase ' + st.phase, id: 'phase' }, st.phase))];
    if (!stopped) {
      kids.push(h('p', { class: 'sub' }, 'Opened ' + clock(time(st.opened)) + ' · deadline ' + clock(deadline) + ' ',
        h('span', { id: 'countdown' })));
      var rows = [
        ['Selected', st.selected, null],
        ['Checked in', st.checked_in, null],
        [st.secagg ? 'Masked inputs' : 'Reported', st.reports, st.min_reports]
      ];
      kids.push(h('table', { class: 'counts' }, h('tbody', {}, rows.map(function (r) {
        return h('tr', {}, h('th', { scope: 'row' }, r[0]), h('td', { class: 'num' }, int(r[1])),
          h('td', { class: 'bar' }, meter(r[1], st.selected, r[2])));
      }))));
      kids.push(h('p', { class: 'hint' }, 'Commits with at least ' + plural(st.min_reports, 'report', 'reports') +
        (st.secagg ? ' (masked inputs)' : '') + '. Model version ' + int(st.model_version) + '.'));
    } else {
      kids.push(h('p', { class: 'hint' }, 'No more rounds open. Model version ' + int(st.model_version) + ' is served.'));
    }
    var sa = st.secagg;
    if (sa && !stopped) {
      kids.push(h('div', { class: 'secagg', id: 'secagg' },
        h('p', {}, h('b', {}, 'Secure aggregation'), ' · phase ', h('span', { class: 'tag' }, sa.phase)),
        h('table', { class: 'counts' }, h('tbody', {},
          h('tr', {}, h('th', { scope: 'row' }, 'Sent this phase'), h('td', { class: 'num' }, int(sa.sent) + ' of ' + int(sa.expected)),
            h('td', { class: 'bar' }, meter(sa.sent, sa.expected))),
          h('tr', {}, h('th', { scope: 'row' }, 'Still in'), h('td', { class: 'num', id: 'survivors' }, int(sa.expected) + ' of ' + int(sa.clients)),
            h('td', { class: 'bar' }, meter(sa.expected, sa.clients, st.min_reports, sa.expected < st.min_reports ? 'bad' : ''))))),
        h('p', { class: 'hint', id: 'threshold' }, 'Each device shares its secrets among ' + int(sa.degree) +
          ' neighbours; a dropout is unmasked only while ' + int(sa.threshold) + ' of them are still in (threshold ' +
          int(sa.threshold) + ' of ' + int(sa.degree) + ').')));
    }
    fill('round', kids);
    countdown();
  }

  function drawPrivacy(st) {
    var p = st.privacy, b = st.privacy_budget, dp = st.config && st.config.dp;
    if (!p) {
      fill('privacy', [h('p', { class: 'big muted' }, 'No DP'),
        h('p', { class: 'hint' }, 'Rounds add no noise and account no ε: differential privacy is off.')]);
      return;
    }
    var kids = [h('p', { class: 'big' }, 'ε ', h('span', { id: 'epsilon' }, num(p.epsilon_against_observers)),
      b ? h('span', { class: 'of' }, ' of ' + num(b.epsilon)) : null)];
    if (b) {
      kids.push(meter(p.epsilon_against_observers, b.epsilon, null, p.epsilon_against_observers / b.epsilon > 0.9 ? 'bad' : 'budget'));
    }
    kids.push(h('p', { class: 'sub' }, 'against observers of the released models (amplified by sampling)'));
    var rows = [
      ['Against the coordinator', has(p.epsilon_against_coordinator) ? 'ε ' + num(p.epsilon_against_coordinator) :
        h('span', { title: dp && dp.mode === 'central' ? 'Under central DP the coordinator adds the noise: it sees the un-noised sum.' : 'The coordinator sees the sum.' },
          'no bound' + (dp && dp.mode === 'central' ? ' (central DP)' : ''))],
      ['δ, accountant', sci(p.delta) + ', ' + (p.accountant || '').toUpperCase()]
    ];
    if (b) {
      rows.push(['Left', 'ε ' + num(b.epsilon_left)]);
      rows.push(['Per round lately', has(b.epsilon_per_round) ? 'ε ' + num(b.epsilon_per_round) : 'known after two commits']);
      rows.push(['Rounds left', has(b.rounds_left) ? h('b', { id: 'rounds-left', title: 'committed rounds, at the recent rate; ε grows more slowly than that, so likely a few more' },
        'about ' + int(b.rounds_left)) : '—']);
    } else {
      rows.push(['Budget', 'none: training never stops for privacy']);
    }
    kids.push(h('table', { class: 'facts' }, h('tbody', {}, rows.map(function (r) {
      return h('tr', {}, h('th', { scope: 'row' }, r[0]), h('td', {}, r[1]));
    }))));
    fill('privacy', kids);
  }

  function drawPopulation(st) {
    var p = st.population || {};
    var stat = function (id, label, v, cls, title) {
      return h('div', { class: 'stat ' + (cls || ''), id: id, title: title },
        h('span', { class: 'v' }, has(v) ? int(v) : '—'), h('span', { class: 'l' }, label));
    };
    var measured = has(p.connected) || has(p.seen_last_hour);
    fill('population', [
      h('div', { class: 'stats' },
        stat('pop-enrolled', 'enrolled', p.enrolled),
        stat('pop-connected', 'connected now', p.connected, '', 'devices holding a connection open'),
        stat('pop-quarantined', 'quarantined', p.quarantined, p.quarantined > 0 ? 'warn' : '',
          'excluded from every later round for revealing a bad SecAgg share'),
        stat('pop-hour', 'seen, last hour', p.seen_last_hour),
        stat('pop-day', 'seen, last day', p.seen_last_day)),
      h('p', { class: 'hint' }, measured ?
        'Seen: a request of the device reached the coordinator. Quarantined: excluded for revealing a bad SecAgg share.' :
        'Connections and requests are not measured by this transport (tacit simulate\'s in-memory one).')
    ]);
  }

  function drawCharts(st) {
    var recs = (st.recent_rounds || []).slice().reverse(); // oldest first
    var rounds = recs.map(function (r) { return r.round; });
    var n = recs.length;
    document.getElementById('history-n').textContent = n === 1 ? 'round' : int(n) + ' rounds';
    var pick = function (f) { return recs.map(f); };
    var result = function (r) { return r.committed ? 'committed' : 'abandoned'; };
    var head = function (i) {
      var r = recs[i];
      return 'Round ' + r.round + ' (' + result(r) + ', ' + seconds(r.seconds) + ')';
    };
    var minMeans = st.config ? st.config.min_reports_for_means : 10;

    chart('chart-participants', {
      rounds: rounds, kind: 'line', fmt: function (v) { return int(v); }, unit: 1,
      series: [
        { key: 'selected', name: 'selected', values: pick(function (r) { return r.selected; }) },
        { key: 'checked', name: 'checked in', values: pick(function (r) { return r.checked_in; }) },
        { key: 'reported', name: 'aggregated', values: pick(function (r) { return r.reports; }) }
      ],
      tip: function (i) {
        var r = recs[i];
        return head(i) + '\n' + int(r.selected) + ' selected, ' + int(r.checked_in) + ' checked in, ' + int(r.reports) + ' reports';
      }
    });

    var seen = {};
    recs.forEach(function (r) { (r.stages || []).slice(1).forEach(function (g) { seen[g.stage] = true; }); });
    var names = STAGE_ORDER.filter(function (k) { return seen[k]; }).concat(Object.keys(seen).filter(function (k) { return STAGE_ORDER.indexOf(k) < 0; }));
    var lost = function (r, stage) {
      var g = r.stages || [];
      for (var i = 1; i < g.length; i++) {
        if (g[i].stage === stage) { return Math.max(0, g[i - 1].devices - g[i].devices); }
      }
      return null;
    };
    chart('chart-dropouts', {
      rounds: rounds, kind: 'stack', fmt: function (v) { return int(v); }, unit: 1,
      empty: 'No device dropped out of these rounds.',
      series: names.map(function (k) {
        return { key: 'stage-' + k, name: STAGES[k] || k, values: pick(function (r) { return lost(r, k); }) };
      }),
      tip: function (i) {
        var r = recs[i], parts = [];
        (r.stages || []).forEach(function (g) { parts.push(g.stage + ' ' + int(g.devices)); });
        var drops = names.map(function (k) { var v = lost(r, k); return v ? int(v) + ' ' + (STAGES[k] || k) : null; }).filter(has);
        return head(i) + '\nDevices left after each stage: ' + parts.join(' → ') + '\n' + (drops.length ? 'Lost: ' + drops.join(', ') : 'No dropouts');
      }
    });

    chart('chart-duration', {
      rounds: rounds, kind: 'bar', fmt: function (v, axis) { return axis ? num(v) + ' s' : seconds(v); },
      series: [{ key: 'duration', name: 'duration', values: pick(function (r) { return r.seconds; }) }],
      barClass: function (i) { return recs[i].committed ? 'committed' : 'abandoned'; },
      legend: [{ key: 'committed', name: 'committed' }, { key: 'abandoned', name: 'abandoned' }],
      tip: function (i) { return head(i) + (recs[i].reason ? '\n' + recs[i].reason : ''); }
    });

    chart('chart-quality', {
      rounds: rounds, kind: 'line', fmt: function (v) { return num(v); },
      empty: 'No evaluations: the devices sent none, or the rounds had fewer than ' + int(minMeans) +
        ' reports (the means are not noised), or they were secure (masked inputs carry none).',
      series: [
        { key: 'hr', name: 'HR@10', values: pick(function (r) { return r.hr_at_10; }) },
        { key: 'ndcg', name: 'NDCG@10', values: pick(function (r) { return r.ndcg_at_10; }) }
      ],
      tip: function (i) { var r = recs[i]; return head(i) + '\nHR@10 ' + num(r.hr_at_10) + ', NDCG@10 ' + num(r.ndcg_at_10); }
    });

    chart('chart-loss', {
      rounds: rounds, kind: 'line', fmt: function (v) { return num(v); },
      empty: 'No training loss: the rounds had fewer than ' + int(minMeans) + ' reports, or were secure.',
      series: [{ key: 'loss', name: 'training loss', values: pick(function (r) { return r.train_loss; }) }],
      tip: function (i) { return head(i) + '\ntraining loss ' + num(recs[i].train_loss); }
    });

    chart('chart-bytes', {
      rounds: rounds, kind: 'line', fmt: function (v) { return bytes(v); },
      empty: 'Not measured: this transport does not count bytes (tacit simulate\'s in-memory one).',
      series: [
        { key: 'up', name: 'up (devices → coordinator)', values: pick(function (r) { return has(r.bytes_up) ? r.bytes_up : null; }) },
        { key: 'down', name: 'down', values: pick(function (r) { return has(r.bytes_down) ? r.bytes_down : null; }) }
      ],
      tip: function (i) { var r = recs[i]; return head(i) + '\n' + bytes(r.bytes_up) + ' up, ' + bytes(r.bytes_down) + ' down'; }
    });

    // ε after each round: a round that did not commit spent nothing, so the
    // figure carries over from the round before.
    var carry = function (f) {
      var last = null;
      return recs.map(function (r) { if (has(f(r))) { last = f(r); } return last; });
    };
    var obs = carry(function (r) { return r.epsilon_against_observers; });
    var coord = carry(function (r) { return r.epsilon_against_coordinator; });
    var b = st.privacy_budget;
    chart('chart-epsilon', {
      rounds: rounds, kind: 'line', fmt: function (v) { return num(v); },
      empty: st.privacy ? 'No round has committed yet: nothing is spent.' : 'No differential privacy: no ε is spent.',
      series: [
        { key: 'eps', name: 'ε against observers', values: obs },
        { key: 'eps-coord', name: 'ε against the coordinator', values: coord, dashed: true }
      ],
      ref: b ? { value: b.epsilon, name: 'budget', key: 'budget' } : null,
      tip: function (i) {
        return head(i) + '\nε ' + num(obs[i]) + ' against observers' + (has(coord[i]) ? ', ' + num(coord[i]) + ' against the coordinator' : '');
      }
    });

    drawAbandoned(recs);
  }

  // drawAbandoned groups the history's abandoned rounds by their reason,
  // numbers aside, newest first.
  function drawAbandoned(recs) {
    var groups = [], byKey = {};
    for (var i = recs.length - 1; i >= 0; i--) {
      var r = recs[i];
      if (r.committed) { continue; }
      var key = (r.reason || '').replace(/\d+(\.\d+)?/g, '#');
      var g = byKey[key];
      if (!g) { g = byKey[key] = { reason: r.reason || 'no reason given', count: 0, rounds: [] }; groups.push(g); }
      g.count++;
      g.rounds.push(r.round);
    }
    var list = document.querySelector('#chart-abandoned .list');
    list.replaceChildren();
    var committed = recs.filter(function (r) { return r.committed; }).length;
    add(list, h('p', { class: 'summary' },
      h('span', { class: 'big-n committed' }, int(committed)), ' committed ',
      h('span', { class: 'big-n abandoned' }, int(recs.length - committed)), ' abandoned',
      recs.length ? h('span', { class: 'muted' }, ' of the last ' + plural(recs.length, 'round', 'rounds')) : null));
    if (!groups.length) {
      add(list, h('p', { class: 'empty' }, recs.length ? 'No round here was abandoned.' : 'No round has finished yet.'));
      return;
    }
    add(list, h('ul', { class: 'reasons' }, groups.slice(0, 6).map(function (g) {
      return h('li', {}, h('span', { class: 'count' }, g.count + '×'), h('span', { class: 'why' }, g.reason),
        h('span', { class: 'which' }, 'latest: round ' + g.rounds[0] + (g.count > 1 ? ', ' + (g.count - 1) + ' more' : '')));
    })));
  }

  function drawTable(st) {
    var recs = (st.recent_rounds || []).slice(0, 12);
    if (!recs.length) {
      fill('rounds', h('p', { class: 'empty' }, 'No round has finished yet.'));
      return;
    }
    var th = function (t, cls) { return h('th', { scope: 'col', class: cls }, t); };
    fill('rounds', h('div', { class: 'scroll' }, h('table', { class: 'rounds' },
      h('thead', {}, h('tr', {}, th('Round', 'num'), th('Opened'), th('Result'),
        h('th', { scope: 'col', class: 'num', title: 'selected, checked in, reports' }, 'Devices'),
        th('Time', 'num'), th('Loss', 'num'), th('HR@10', 'num'), th('NDCG@10', 'num'), th('ε', 'num sym'),
        th('Up / down', 'num'), th('Reason'))),
      h('tbody', {}, recs.map(function (r) {
        return h('tr', { class: r.committed ? 'committed' : 'abandoned' },
          h('td', { class: 'num' }, r.round), h('td', {}, clock(time(r.opened))),
          h('td', {}, h('span', { class: 'tag ' + (r.committed ? 'ok' : 'bad') }, r.committed ? 'committed' : 'abandoned')),
          h('td', { class: 'num', title: 'selected, checked in, reports' }, int(r.selected) + ' → ' + int(r.checked_in) + ' → ' + int(r.reports)),
          h('td', { class: 'num' }, seconds(r.seconds)), h('td', { class: 'num' }, num(r.train_loss)),
          h('td', { class: 'num' }, num(r.hr_at_10)), h('td', { class: 'num' }, num(r.ndcg_at_10)),
          h('td', { class: 'num' }, num(r.epsilon_against_observers)),
          h('td', { class: 'num' }, has(r.bytes_up) ? bytes(r.bytes_up) + ' / ' + bytes(r.bytes_down) : '—'),
          h('td', { class: 'reason' }, r.reason || ''));
      })))));
  }

  function drawConfig(st) {
    var c = st.config;
    if (!c) { fill('config', h('p', { class: 'empty' }, 'Not reported.')); return; }
    var group = function (title, rows) {
      return h('div', { class: 'group' }, h('h3', {}, title), h('dl', {}, rows.filter(has).map(function (r) {
        return [h('dt', {}, r[0]), h('dd', {}, r[1])];
      })));
    };
    var groups = [group('Selection', [
      ['Goal', c.goal ? int(c.goal) + ' reports' : 'every selected device'],
      ['Over-selection', num(c.over_selection)],
      ['Sampling rate q', num(c.sampling_rate) + (st.population ? ' (about ' + int(c.sampling_rate * st.population.enrolled) + ' a round)' : '')],
      ['Minimum fraction', pct(c.min_fraction)],
      ['Selection timeout', goDuration(c.selection_timeout)],
      ['Report window', goDuration(c.report_window)],
      ['Shortest retry', goDuration(c.retry_min)]
    ]), group('Updates', [
      ['Codec', c.codec ? c.codec.bits + ' bits a value' + (c.codec.rotate ? ', rotated' : '') : 'none (float32)'],
      c.codec && c.codec.norm ? ['Codec norm', num(c.codec.norm)] : null,
      c.codec && c.codec.mod_bits ? ['Ring', c.codec.mod_bits + ' bits'] : null,
      c.max_update_norm ? ['Largest update norm', num(c.max_update_norm)] : null,
      ['Means shown from', plural(c.min_reports_for_means, 'report', 'reports')]
    ])];
    var a = c.secagg;
    groups.push(group('Secure aggregation', a ? [
      ['Mode', a.malicious ? 'malicious server' : 'semi-honest server'],
      ['Threat model', a.threat_model],
      ['Colluding devices', 'up to ' + pct(a.adversary_rate)],
      ['Dropouts', 'up to ' + pct(a.dropout_rate)],
      ['Phase window', goDuration(a.phase_window)]
    ] : [['Mode', 'off: the coordinator sees each update']]));
    var d = c.dp;
    groups.push(group('Differential privacy', d ? [
      ['Noise', d.mode + (d.mode === 'central' ? ' (added by the coordinator)' : ' (added by the devices)')],
      ['Noise multiplier z', num(d.noise_multiplier)],
      ['Clip norm', num(d.clip_norm) + (d.adaptive ? ', adaptive toward the ' + pct(d.target_quantile) + ' quantile; now ' + num(d.clip_norm_now) : '')],
      ['δ', sci(d.delta)],
      ['Accountant', (d.accountant || '').toUpperCase()],
      ['Budget', d.budget ? 'ε ' + num(d.budget) : 'none']
    ] : [['Mode', 'off']]));
    fill('config', h('div', { class: 'groups' }, groups));
  }

  function drawHeader(st) {
    var pill = document.getElementById('state');
    var stopped = st.phase === 'stopped';
    pill.className = 'pill ' + (stopped ? 'bad' : 'on');
    pill.textContent = stopped ? 'training stopped' : 'running · round ' + st.round;
    document.title = 'Tacit coordinator · ' + (stopped ? 'stopped' : 'round ' + st.round);
    var why = document.getElementById('stopped');
    why.hidden = !st.stopped;
    why.textContent = st.stopped ? 'Training has stopped: ' + st.stopped : '';
  }

  function draw(st) {
    drawHeader(st);
    drawRound(st);
    drawPrivacy(st);
    drawPopulation(st);
    drawCharts(st);
    drawTable(st);
    drawConfig(st);
    document.body.dataset.round = st.round;
    document.body.dataset.history = (st.recent_rounds || []).length;
  }

  // ---- polling ----

  var last = '', lastGood = null;

  function updated(ok) {
    var e = document.getElementById('updated'), stale = document.getElementById('stale');
    e.textContent = lastGood ? 'Updated ' + clock(lastGood) + ', every ' + POLL_MS / 1000 + ' s.' : '';
    stale.hidden = ok;
    if (!ok) {
      stale.textContent = 'The coordinator is not answering' + (lastGood ? ': this is its status as of ' + clock(lastGood) + '.' : '.');
    }
  }

  function take(text) {
    var st = JSON.parse(text);
    var now = time(st.now); // the page shows the coordinator's times, by its clock
    if (now) { offset = now.getTime() - Date.now(); }
    lastGood = now || new Date();
    var key = text.replace(/"now":\s*"[^"]*"/, ''); // redraw only when something else changed
    if (key !== last) {
      last = key;
      draw(st);
    }
    updated(true);
  }

  function poll() {
    if (document.hidden) { return; }
    fetch('/status', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) { throw new Error('status ' + r.status); }
      return r.text();
    }).then(take).catch(function () { updated(false); });
  }

  take(document.getElementById('initial-status').textContent.trim());
  setInterval(poll, POLL_MS);
  setInterval(countdown, 1000);
  document.addEventListener('visibilitychange', poll);
})();
