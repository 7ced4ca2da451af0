/* timelens-eval leaderboard: renders the data embedded in each page.
 * Every string from result files reaches the DOM through textContent or setAttribute,
 * never through innerHTML, so names and answers containing markup show as text.
 * Bidi and other invisible control characters were made visible ("[U+202E]") when the
 * page was built; ids inside a line are isolated (<bdi>) so that right-to-left text in
 * one cannot reorder the rest of the line. */
(function () {
  'use strict';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var COLOURS = {open: '#0072B2', proprietary: '#D55E00', baseline: '#000000'};
  var DATA = JSON.parse(document.getElementById('lb-data').textContent);
  var ROOT = document.body.getAttribute('data-root') || '';
  var app = document.getElementById('app');

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) { Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); }); }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function fmt(v, d) { return (v === null || v === undefined) ? '\u2013' : Number(v).toFixed(d === undefined ? 1 : d); }
  function badge(kind, source) {
    var b = el('span', {'class': 'badge ' + kind}, kind);
    if (source) { b.setAttribute('title', 'source: ' + source); }
    return b;
  }
  function modelLink(model) {
    return el('a', {href: ROOT + model.page, 'class': 'type-' + model.type}, model.name);
  }
  function metricCell(td, triple, selfReported) {
    if (!triple) { td.textContent = '\u2013'; td.className = 'muted'; return; }
    td.appendChild(document.createTextNode(fmt(triple[0])));
    if (selfReported) {
      td.appendChild(el('span', {'class': 'self', title: "self-reported: copied from the model's own paper"}, '*'));
    }
    if (triple[1] !== null && triple[2] !== null) {
      td.appendChild(el('span', {'class': 'ci', title: '95% CI'}, '[' + fmt(triple[1]) + ', ' + fmt(triple[2]) + ']'));
    }
  }

  /* A sortable table: columns [{key, label, num, cell(row, td)}]; click a header to sort. */
  function sortableTable(columns, rows, opts) {
    var table = el('table', {'class': 'lb'});
    if (opts.id) { table.setAttribute('id', opts.id); }
    if (opts.caption) { table.appendChild(el('caption', null, opts.caption)); }
    var thead = el('thead'), tr = el('tr'), tbody = el('tbody');
    var state = {key: opts.sortKey, dir: -1};
    columns.forEach(function (col) {
      var th = el('th', {'class': col.num ? 'num' : 'text', tabindex: '0', scope: 'col', 'data-key': col.key}, col.label);
      if (col.title) { th.setAttribute('title', col.title); }
      function activate() {
        if (state.key === col.key) { state.dir = -state.dir; } else { state.key = col.key; state.dir = (col.num && !col.asc) ? -1 : 1; }
        render();
      }
      th.addEventListener('click', activate);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); activate(); } });
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    table.appendChild(tbody);
    function value(row, key) { var v = row.sort[key]; return v === undefined ? null : v; }
    function render() {
      var sorted = rows.slice().sort(function (a, b) {
        var x = value(a, state.key), y = value(b, state.key);
        if (x === null && y === null) { return a.sort.name < b.sort.name ? -1 : 1; }
        if (x === null) { return 1; }
        if (y === null) { return -1; }
        if (x < y) { return -state.dir; }
        if (x > y) { return state.dir; }
        return a.sort.name < b.sort.name ? -1 : 1;
      });
      while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
      sorted.forEach(function (row) {
        var r = el('tr', {'data-model': row.sort.name});
        columns.forEach(function (col) {
          var td = el('td', {'class': col.num ? 'num' : 'text'});
          col.cell(row, td);
          r.appendChild(td);
        });
        tbody.appendChild(r);
      });
      Array.prototype.forEach.call(thead.querySelectorAll('th'), function (th) {
        th.setAttribute('aria-sort', th.getAttribute('data-key') === state.key ? (state.dir < 0 ? 'descending' : 'ascending') : 'none');
      });
    }
    render();
    return table;
  }

  function ranksBy(values) {  /* competition ranks, 1 = best, null stays null */
    return values.map(function (v) {
      if (v === null) { return null; }
      return 1 + values.filter(function (w) { return w !== null && w > v; }).length;
    });
  }

  function rankWithin(rows, key) {  /* ranks inside one table (a view may split models) */
    var ranks = ranksBy(rows.map(function (r) { return r.sort[key]; }));
    rows.forEach(function (r, k) { r.sort.rank = ranks[k]; });
  }

  function segmented(name, options, current, onChange) {
    var box = el('div', {'class': 'seg', role: 'group', 'aria-label': name});
    options.forEach(function (opt) {
      var b = el('button', {type: 'button', id: name + '-' + opt[0], 'aria-pressed': String(opt[0] === current)}, opt[1]);
      b.addEventListener('click', function () {
        Array.prototype.forEach.call(box.children, function (c) { c.setAttribute('aria-pressed', 'false'); });
        b.setAttribute('aria-pressed', 'true');
        onChange(opt[0]);
      });
      box.appendChild(b);
    });
    return box;
  }

  var TYPE_TITLES = {open: 'Open models', proprietary: 'Proprietary models', baseline: 'Baselines'};

  function renderIndex() {
    var state = {variant: 'refined', view: 'combined'};
    app.appendChild(el('h1', null, 'Video temporal grounding leaderboard'));
    app.appendChild(el('p', {'class': 'muted'}, 'Metrics in percent (R1@t: top-1 IoU \u2265 t; mIoU: mean IoU). ' +
      'Brackets: 95% confidence interval where computed. * = number copied by the source from the model\'s own paper. Click a column header to sort.'));
    var controls = el('div', {'class': 'controls'});
    controls.appendChild(segmented('variant', [['refined', 'Refined (TimeLens)'], ['original', 'Original']], state.variant,
      function (v) { state.variant = v; draw(); }));
    controls.appendChild(segmented('view', [['combined', 'All models'], ['separated', 'Open vs proprietary']], state.view,
      function (v) { state.view = v; draw(); }));
    app.appendChild(controls);
    var host = el('div', {id: 'tables'});
    app.appendChild(host);

    function benchOf(group, variant) { return group.benchmarks[variant] || group.benchmarks.single || null; }
    function entryMap(bench) {
      var out = {};
      DATA.entries.forEach(function (e) { if (e.b === bench) { out[e.m] = e; } });
      return out;
    }
    function split(rows) {
      if (state.view === 'combined') { return [[null, rows]]; }
      return ['open', 'proprietary', 'baseline'].map(function (t) {
        return [t, rows.filter(function (r) { return r.model.type === t; })];
      }).filter(function (p) { return p[1].length > 0; });
    }
    function draw() {
      while (host.firstChild) { host.removeChild(host.firstChild); }
      host.setAttribute('data-variant', state.variant);
      host.setAttribute('data-view', state.view);
      drawOverview();
      DATA.groups.forEach(drawGroup);
    }
    function drawOverview() {
      var groups = DATA.groups.filter(function (g) { return benchOf(g, state.variant); });
      var maps = groups.map(function (g) { return entryMap(benchOf(g, state.variant)); });
      var inAvg = groups.map(function (g) { return g.average; });
      var rows = [];
      DATA.models.forEach(function (model, i) {
        var vals = maps.map(function (m) { return m[i] && m[i].v.mIoU ? m[i].v.mIoU[0] : null; });
        if (vals.every(function (v) { return v === null; })) { return; }
        var used = vals.filter(function (v, k) { return inAvg[k]; });
        var complete = used.length > 0 && used.every(function (v) { return v !== null; });
        var avg = complete ? used.reduce(function (a, b) { return a + b; }, 0) / used.length : null;
        var sort = {name: model.name, type: model.type, avg: avg};
        groups.forEach(function (g, k) { sort['g' + k] = vals[k]; });
        rows.push({model: model, sort: sort, entries: maps.map(function (m) { return m[i]; })});
      });
      var section = el('section', {id: 'overview'});
      section.appendChild(el('h2', null, 'Overview: mIoU per benchmark (' + state.variant + ')'));
      var cols = [
        {key: 'rank', label: '#', num: true, asc: true, cell: function (r, td) { td.textContent = r.sort.rank === null ? '\u2013' : r.sort.rank; }},
        {key: 'name', label: 'Model', cell: function (r, td) { td.appendChild(modelLink(r.model)); }},
        {key: 'type', label: 'Type', cell: function (r, td) { td.textContent = r.model.type; td.className = 'text type-' + r.model.type; }}
      ];
      groups.forEach(function (g, k) {
        var bench = benchOf(g, state.variant);
        cols.push({key: 'g' + k, label: DATA.benchmarks[bench].short, num: true, title: DATA.benchmarks[bench].title,
          cell: function (r, td) { var e = r.entries[k]; metricCell(td, e && e.v.mIoU, e && e.self.indexOf('mIoU') >= 0); }});
      });
      var avgNames = groups.filter(function (g) { return g.average; }).map(function (g) { return DATA.benchmarks[benchOf(g, state.variant)].short; });
      cols.push({key: 'avg', label: 'Average', num: true, title: 'Mean mIoU over ' + avgNames.join(', ') + ' (only when the model has all of them)',
        cell: function (r, td) { td.textContent = fmt(r.sort.avg); }});
      split(rows).forEach(function (part) {
        rankWithin(part[1], 'avg');
        section.appendChild(sortableTable(cols, part[1], {sortKey: 'avg', id: 'overview-' + (part[0] || 'all'),
          caption: part[0] ? TYPE_TITLES[part[0]] : 'All models'}));
      });
      host.appendChild(section);
    }
    function drawGroup(group) {
      var bench = benchOf(group, state.variant);
      var section = el('section', {'class': 'group', id: 'group-' + group.name});
      section.appendChild(el('h2', null, bench ? DATA.benchmarks[bench].title : group.name));
      if (!bench) {
        section.appendChild(el('p', {'class': 'muted'}, 'No ' + state.variant + ' benchmark in this group.'));
        host.appendChild(section);
        return;
      }
      var map = entryMap(bench);
      var rows = [];
      Object.keys(map).forEach(function (i) {
        var e = map[i], model = DATA.models[Number(i)];
        var sort = {name: model.name, type: model.type, kind: e.k};
        DATA.metrics.forEach(function (m) { sort[m] = e.v[m] ? e.v[m][0] : null; });
        rows.push({model: model, entry: e, sort: sort});
      });
      if (!rows.length) {
        section.appendChild(el('p', {'class': 'muted'}, 'No results yet.'));
        host.appendChild(section);
        return;
      }
      var cols = [
        {key: 'rank', label: '#', num: true, asc: true, cell: function (r, td) { td.textContent = r.sort.rank === null ? '\u2013' : r.sort.rank; }},
        {key: 'name', label: 'Model', cell: function (r, td) { td.appendChild(modelLink(r.model)); }},
        {key: 'type', label: 'Type', cell: function (r, td) { td.textContent = r.model.type; td.className = 'text type-' + r.model.type; }}
      ];
      DATA.metrics.forEach(function (m) {
        cols.push({key: m, label: m, num: true, cell: function (r, td) { metricCell(td, r.entry.v[m], r.entry.self.indexOf(m) >= 0); }});
      });
      cols.push({key: 'kind', label: 'Result', cell: function (r, td) {
        var src = r.entry.s === null ? null : DATA.sources[r.entry.s];
        td.appendChild(badge(r.entry.k, src));
        if (src) { td.appendChild(el('div', {'class': 'source'}, src)); }
      }});
      split(rows).forEach(function (part) {
        rankWithin(part[1], 'mIoU');
        section.appendChild(sortableTable(cols, part[1], {sortKey: 'mIoU', id: 'table-' + group.name + '-' + (part[0] || 'all'),
          caption: (part[0] ? TYPE_TITLES[part[0]] + ' \u2014 ' : '') + bench}));
      });
      host.appendChild(section);
    }
    draw();
  }

  function slopegraph(pair) {
    var n = pair.models.length, rowH = 26, top = 40, width = 880, xl = 350, xr = 530;
    function slots(key) {  /* ties get their own row, in name order */
      var order = pair.models.map(function (pm, k) { return k; }).sort(function (a, b) {
        var d = pair.models[a][key] - pair.models[b][key];
        return d !== 0 ? d : (DATA.models[pair.models[a].m].name < DATA.models[pair.models[b].m].name ? -1 : 1);
      });
      var out = []; order.forEach(function (k, i) { out[k] = i + 1; }); return out;
    }
    var sl = slots('ro'), sr = slots('rr');
    function clip(s) { return s.length > 42 ? s.slice(0, 41) + '\u2026' : s; }
    var height = top + rowH * Math.max(n, 1) + 20;
    var root = svg('svg', {width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, role: 'img',
      'aria-label': 'Rank on ' + pair.original + ' (left) and ' + pair.refined + ' (right)', 'class': 'slope'});
    var left = DATA.benchmarks[pair.original].short, right = DATA.benchmarks[pair.refined].short;
    if (left === right) { left += ' (original)'; right += ' (refined)'; }
    root.appendChild(svg('text', {x: xl, y: 20, 'text-anchor': 'end', 'font-weight': '600'}, 'rank on ' + left));
    root.appendChild(svg('text', {x: xr, y: 20, 'font-weight': '600'}, 'rank on ' + right));
    function y(slot) { return top + (slot - 0.5) * rowH; }
    pair.models.forEach(function (pm, k) {
      var yl = y(sl[k]), yr = y(sr[k]);
      var model = DATA.models[pm.m], colour = COLOURS[model.type] || '#CC79A7';
      var g = svg('g', {'data-model': model.name});
      g.appendChild(svg('title', {}, model.name + ': rank ' + pm.ro + ' \u2192 ' + pm.rr));
      g.appendChild(svg('line', {x1: xl, y1: yl, x2: xr, y2: yr, stroke: colour, 'stroke-width': 2,
        'stroke-dasharray': pm.ro < pm.rr ? '5 3' : 'none'}));
      g.appendChild(svg('circle', {cx: xl, cy: yl, r: 4, fill: colour}));
      g.appendChild(svg('circle', {cx: xr, cy: yr, r: 4, fill: colour}));
      g.appendChild(svg('text', {x: xl - 10, y: yl + 4, 'text-anchor': 'end', fill: colour, 'font-size': 12}, clip(pm.ro + '. ' + model.name)));
      g.appendChild(svg('text', {x: xr + 10, y: yr + 4, fill: colour, 'font-size': 12}, clip(pm.rr + '. ' + model.name)));
      root.appendChild(g);
    });
    return root;
  }

  function estimate(e) {
    if (e.value === null) { return '\u2013'; }
    var s = fmt(e.value, 2);
    return (e.ci_low !== null && e.ci_high !== null) ? s + ' [' + fmt(e.ci_low, 2) + ', ' + fmt(e.ci_high, 2) + '] (' + e.method + ')' : s + ' (point value)';
  }

  function rankCell(td, rank, ci) {
    td.textContent = rank;
    if (ci) { td.appendChild(el('span', {'class': 'ci', title: '95% bootstrap interval of the rank'}, '[' + Math.round(ci[0]) + '\u2013' + Math.round(ci[1]) + ']')); }
  }

  function renderShift() {
    app.appendChild(el('h1', null, 'Original vs refined: how rankings shift'));
    app.appendChild(el('p', {'class': 'muted'}, 'Ranks by ' + DATA.metric + ' (1 = best) for the models with results on both variants. ' +
      'Dashed lines: the model moved down. Blue = open, vermillion = proprietary, black = baseline.'));
    if (!DATA.pairs.length) { app.appendChild(el('p', null, 'No pair has results for the same models yet.')); }
    DATA.pairs.forEach(function (pair) {
      var section = el('section', {'class': 'pair', id: 'pair-' + pair.original});
      section.appendChild(el('h2', null, DATA.benchmarks[pair.original].title + ' \u2192 ' + DATA.benchmarks[pair.refined].title));
      section.appendChild(el('p', null, "Kendall's \u03c4 = " + estimate(pair.tau) + "; Spearman's \u03c1 = " + estimate(pair.rho)));
      section.appendChild(slopegraph(pair));
      var rows = pair.models.map(function (pm) {
        var model = DATA.models[pm.m];
        return {model: model, pm: pm, sort: {name: model.name, type: model.type, ro: pm.ro, rr: pm.rr, shift: pm.ro - pm.rr, vo: pm.vo, vr: pm.vr}};
      });
      var cols = [
        {key: 'name', label: 'Model', cell: function (r, td) { td.appendChild(modelLink(r.model)); }},
        {key: 'type', label: 'Type', cell: function (r, td) { td.textContent = r.model.type; }},
        {key: 'vo', label: DATA.metric + ' original', num: true, cell: function (r, td) { td.textContent = fmt(r.pm.vo); }},
        {key: 'vr', label: DATA.metric + ' refined', num: true, cell: function (r, td) { td.textContent = fmt(r.pm.vr); }},
        {key: 'ro', label: 'Rank original', num: true, asc: true, cell: function (r, td) { rankCell(td, r.pm.ro, r.pm.cio); }},
        {key: 'rr', label: 'Rank refined', num: true, asc: true, cell: function (r, td) { rankCell(td, r.pm.rr, r.pm.cir); }},
        {key: 'shift', label: 'Shift', num: true, cell: function (r, td) { var s = r.pm.ro - r.pm.rr; td.textContent = (s > 0 ? '+' : '') + s; }}
      ];
      section.appendChild(sortableTable(cols, rows, {sortKey: 'shift', id: 'shift-' + pair.original}));
      app.appendChild(section);
    });
  }

  function timeline(rec) {
    var w = 560, h = 40, d = rec.d > 0 ? rec.d : 1;
    function x(t) { return 4 + (w - 8) * Math.min(Math.max(t / d, 0), 1); }
    var root = svg('svg', {width: w, height: h, 'class': 'timeline', role: 'img', 'aria-label': 'ground truth and predicted spans'});
    root.appendChild(svg('line', {x1: 4, y1: 34, x2: w - 4, y2: 34, stroke: '#999'}));
    rec.gt.forEach(function (s) {
      root.appendChild(svg('rect', {x: x(s[0]), y: 4, width: Math.max(x(s[1]) - x(s[0]), 1), height: 11, fill: '#009E73', 'class': 'gt'}));
    });
    rec.p.forEach(function (s, i) {
      root.appendChild(svg('rect', {x: x(s[0]), y: 18, width: Math.max(x(s[1]) - x(s[0]), 1), height: 11,
        fill: '#E69F00', opacity: i === 0 ? 1 : 0.45, 'class': 'pred'}));
    });
    root.appendChild(svg('text', {x: 4, y: h, 'font-size': 9}, '0 s'));
    root.appendChild(svg('text', {x: w - 4, y: h, 'font-size': 9, 'text-anchor': 'end'}, fmt(d) + ' s'));
    return root;
  }

  /* A model page: the numbers first (one row per benchmark, with where they come from),
   * then the per-query drill-down, then each run's full spec, folded. */
  function renderModel() {
    var model = DATA.model;
    app.appendChild(el('p', null)).appendChild(el('a', {href: ROOT + 'index.html'}, '\u2190 all models'));
    app.appendChild(el('h1', {id: 'model-name'}, model.name));
    var kinds = DATA.runs.map(function (r) { return r.kind; });
    var count = function (k) { return kinds.filter(function (x) { return x === k; }).length; };
    app.appendChild(el('p', {'class': 'type-' + model.type, id: 'model-summary'},
      model.type + ' model \u00b7 ' + DATA.runs.length + ' result' + (DATA.runs.length === 1 ? '' : 's') +
      ' (' + count('reproduced') + ' reproduced, ' + count('reported') + ' reported)'));
    var results = el('section', {id: 'results'});
    results.appendChild(el('h2', null, 'Results'));
    var table = el('table', {'class': 'lb', id: 'model-results'});
    var head = el('tr');
    var metrics = DATA.metrics;
    ['Benchmark'].concat(metrics, ['n', 'Result', 'Source']).forEach(function (label, k) {
      head.appendChild(el('th', {'class': k === 0 || k > metrics.length + 1 ? 'text' : ''}, label));
    });
    table.appendChild(el('thead')).appendChild(head);
    var body = el('tbody');
    DATA.runs.forEach(function (run, i) {
      var tr = el('tr', {'data-bench': run.bench, 'class': run.used ? '' : 'superseded'});
      var name = el('td', {'class': 'text'});
      var link = name.appendChild(el('a', {href: '#run-' + i}, run.title));
      link.addEventListener('click', function () { document.getElementById('run-' + i).open = true; });
      if (!run.used) { name.appendChild(el('span', {'class': 'muted', title: 'a newer or reproduced result of this benchmark is on the leaderboard'}, ' (superseded)')); }
      tr.appendChild(name);
      metrics.forEach(function (m) {
        var td = el('td');
        metricCell(td, run.metrics[m], run.self.indexOf(m) >= 0);
        tr.appendChild(td);
      });
      tr.appendChild(el('td', {title: run.n === null ? 'not stated by the source' : 'samples scored'}, run.n === null ? '\u2013' : String(run.n)));
      var kind = el('td', {'class': 'text'});
      kind.appendChild(badge(run.kind, run.source));
      tr.appendChild(kind);
      tr.appendChild(el('td', {'class': 'text source-cell'}, run.origin));
      body.appendChild(tr);
    });
    table.appendChild(body);
    results.appendChild(table);
    results.appendChild(el('p', {'class': 'muted'}, 'Percent; brackets: 95% confidence interval (bootstrap over videos) where the result has one; * copied by the source from the model\u2019s own paper.'));
    app.appendChild(results);
    if (DATA.samples.length) { drillDown(); }
    var details = el('section', {id: 'details'});
    details.appendChild(el('h2', null, 'Run details'));
    DATA.runs.forEach(function (run, i) {
      var box = el('details', {'class': 'run', id: 'run-' + i});
      var summary = el('summary', null, run.title + ' ');
      summary.appendChild(badge(run.kind, run.source));
      box.appendChild(summary);
      var dl = el('dl', {'class': 'spec'});
      Object.keys(run.spec).forEach(function (k) {
        var v = run.spec[k];
        if (v === null || v === undefined || (typeof v === 'object' && Object.keys(v).length === 0)) { return; }
        dl.appendChild(el('dt', null, k));
        dl.appendChild(el('dd', null, typeof v === 'object' ? JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ') : String(v)));
      });
      box.appendChild(dl);
      details.appendChild(box);
    });
    app.appendChild(details);
    if (location.hash && location.hash.indexOf('#run-') === 0) {
      var target = document.getElementById(location.hash.slice(1));
      if (target) { target.open = true; }
    }
  }

  function drillDown() {
    var box = el('section', {'class': 'drill', id: 'drill'});
    box.appendChild(el('h2', null, 'Per-query results'));
    var legend = el('p', {'class': 'legend'});
    [['#009E73', 'ground truth'], ['#E69F00', 'prediction (first span scored)']].forEach(function (p) {
      var s = el('span'); s.appendChild(el('span', {'class': 'sw', style: 'background:' + p[0]})); s.appendChild(document.createTextNode(p[1])); legend.appendChild(s);
    });
    box.appendChild(legend);
    var select = el('select', {id: 'drill-run', 'aria-label': 'run'});
    DATA.samples.forEach(function (s, i) { select.appendChild(el('option', {value: String(i)}, DATA.runs[s.run].title)); });
    var search = el('input', {type: 'search', id: 'drill-search', placeholder: 'search query, answer or sample id', 'aria-label': 'search'});
    var sortSel = el('select', {id: 'drill-sort', 'aria-label': 'order'});
    [['file', 'file order'], ['iou-asc', 'lowest IoU first'], ['iou-desc', 'highest IoU first']].forEach(function (o) {
      sortSel.appendChild(el('option', {value: o[0]}, o[1]));
    });
    var count = el('p', {id: 'drill-count', 'class': 'muted'});
    var list = el('div', {id: 'drill-rows'});
    var more = el('button', {type: 'button', id: 'drill-more'}, 'show more');
    var shown = 50;
    [select, document.createTextNode(' '), search, document.createTextNode(' '), sortSel, count, list, more].forEach(function (n) { box.appendChild(n); });
    app.appendChild(box);
    function draw() {
      var recs = DATA.samples[Number(select.value)].records;
      var q = search.value.trim().toLowerCase();
      var hits = recs.filter(function (r) {
        return !q || r.id.toLowerCase().indexOf(q) >= 0 || r.q.toLowerCase().indexOf(q) >= 0 || (r.a || '').toLowerCase().indexOf(q) >= 0;
      });
      if (sortSel.value !== 'file') {
        var dir = sortSel.value === 'iou-asc' ? 1 : -1;
        hits = hits.slice().sort(function (a, b) { return dir * (a.iou - b.iou); });
      }
      count.textContent = hits.length + ' of ' + recs.length + ' queries' + (hits.length > shown ? ' (showing ' + shown + ')' : '');
      while (list.firstChild) { list.removeChild(list.firstChild); }
      hits.slice(0, shown).forEach(function (r) {
        var row = el('div', {'class': 'sample', 'data-sample': r.id});
        var head = el('div');
        head.appendChild(el('strong', null, r.id));
        head.appendChild(document.createTextNode(' \u00b7 video '));
        head.appendChild(el('bdi', null, r.v));
        head.appendChild(document.createTextNode(' \u00b7 IoU ' + fmt(r.iou, 3) + ' \u00b7 ' + r.st + (r.cat ? ' \u00b7 ' + r.cat : '')));
        row.appendChild(head);
        row.appendChild(el('div', {'class': 'q'}, r.q));
        row.appendChild(el('div', {'class': 'a'}, r.a === null ? '(no answer)' : r.a));
        row.appendChild(el('div', {'class': 'muted'}, 'GT ' + r.gt.map(function (s) { return '[' + fmt(s[0]) + ', ' + fmt(s[1]) + ']'; }).join(' ') +
          ' \u00b7 predicted ' + (r.p.length ? r.p.map(function (s) { return '[' + fmt(s[0]) + ', ' + fmt(s[1]) + ']'; }).join(' ') : 'none') +
          (r.pn > r.p.length ? ' (first ' + r.p.length + ' of ' + r.pn + ')' : '')));
        row.appendChild(timeline(r));
        list.appendChild(row);
      });
      more.hidden = hits.length <= shown;
    }
    select.addEventListener('change', function () { shown = 50; draw(); });
    search.addEventListener('input', function () { shown = 50; draw(); });
    sortSel.addEventListener('change', draw);
    more.addEventListener('click', function () { shown += 200; draw(); });
    draw();
  }

  var page = document.body.getAttribute('data-page');
  if (page === 'index') { renderIndex(); } else if (page === 'shift') { renderShift(); } else if (page === 'model') { renderModel(); }
}());
