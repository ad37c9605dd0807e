/* 数据看板: ECharts charts fed by GET /api/stats (one aggregate query each) and by the figures the
 * page carries (trend, timeline). Every segment links to the ledger with the page's filters plus
 * the segment's own key. The chart instances are on window.dashboardCharts (tests click them
 * through the instance, since ECharts draws on a canvas); window.dashboardReady resolves once
 * every chart has its data. Each chart also has a "查看数据" table of the same figures below it
 * (WCAG 1.1.1: a canvas says nothing to a screen reader or a keyboard), and ECharts' aria option
 * names the chart's content on its container. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("dashboard-config").textContent);
  var LIGHT_COLOURS = {red: "#dc3545", yellow: "#ffc107", green: "#198754"};
  var PALETTE = ["#c23531", "#2f4554", "#61a0a8", "#d48265", "#91c7ae", "#749f83", "#ca8622", "#bda29a", "#6e7074", "#546570"];
  var charts = {};
  window.dashboardCharts = charts;

  function ledgerUrl(extra) {
    var params = new URLSearchParams();
    var merged = Object.assign({}, config.filters, extra);
    Object.keys(merged).forEach(function (k) {
      if (merged[k] !== null && merged[k] !== undefined && merged[k] !== "") params.set(k, merged[k]);
    });
    var query = params.toString();
    return config.ledger + (query ? "?" + query : "");
  }
  window.dashboardLedgerUrl = ledgerUrl;

  // Amounts arrive as exact decimal strings ("1280000.00"); a bar's height needs no fen.
  function wan(yuan) { return Math.round(Number(yuan) / 100) / 100; }

  function make(name) {
    var element = document.getElementById("chart-" + name);
    var chart = echarts.init(element, null, {renderer: "canvas"});
    chart.setOption({aria: {enabled: true}});
    charts[name] = chart;
    chart.on("click", function (params) {
      var target = params.data && params.data.drill;
      if (target) window.location.assign(ledgerUrl(target));
    });
    return chart;
  }

  // The figures of one chart as a table after it: headers, then rows of [label, figures..., drill].
  function dataTable(name, headers, rows) {
    var element = document.getElementById("chart-" + name);
    var old = document.querySelector('[data-chart-data="' + name + '"]');
    if (old) old.remove();
    var details = document.createElement("details");
    details.className = "chart-data mt-1";
    details.dataset.chartData = name;
    var summary = document.createElement("summary");
    summary.textContent = config.text.data;
    details.appendChild(summary);
    var table = document.createElement("table");
    table.className = "table table-sm small mb-0";
    var caption = document.createElement("caption");
    caption.className = "visually-hidden";
    caption.textContent = config.titles[name] || "";
    table.appendChild(caption);
    var head = table.createTHead().insertRow();
    headers.forEach(function (h, i) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      if (i) th.className = "text-end";
      head.appendChild(th);
    });
    var body = table.createTBody();
    rows.forEach(function (row) {
      var tr = body.insertRow();
      var th = document.createElement("th");
      th.scope = "row";
      var target = row[row.length - 1];
      if (target) {
        var a = document.createElement("a");
        a.href = ledgerUrl(target);
        a.textContent = row[0];
        th.appendChild(a);
      } else {
        th.textContent = row[0];
      }
      tr.appendChild(th);
      row.slice(1, -1).forEach(function (value) {
        var td = tr.insertCell();
        td.className = "text-end";
        td.textContent = value;
      });
    });
    details.appendChild(table);
    element.insertAdjacentElement("afterend", details);
  }

  function countTable(name, items) {
    dataTable(name, [config.text.item, config.text.clues], items.map(function (item) {
      return [item.label, item.count, drill(name, item.key)];
    }));
  }

  function drill(by, key) {
    if (key === null || key === undefined) return null;  // "not filled in": the ledger has no such filter
    var target = {};
    target[by] = key;
    return target;
  }

  function pie(name, items, colours) {
    make(name).setOption({
      tooltip: {trigger: "item", formatter: "{b}: {c} ({d}%)"},
      legend: {type: "scroll", bottom: 0},
      series: [{type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"], avoidLabelOverlap: true,
                label: {formatter: "{b}\n{c}"},
                data: items.map(function (item, i) {
                  var colour = colours ? colours[item.key] : PALETTE[i % PALETTE.length];
                  return {name: item.label, value: item.count, drill: drill(name, item.key),
                          key: item.key, itemStyle: colour ? {color: colour} : undefined};
                })}]
    });
    countTable(name, items);
  }

  function bars(name, items, horizontal) {
    var labels = items.map(function (item) { return item.label; });
    var data = items.map(function (item) { return {value: item.count, drill: drill(name, item.key), key: item.key}; });
    var category = {type: "category", data: labels, axisLabel: {interval: 0, rotate: horizontal ? 0 : 30}};
    var value = {type: "value", minInterval: 1};
    make(name).setOption({
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
      grid: {left: horizontal ? 130 : 40, right: 20, top: 20, bottom: horizontal ? 30 : 70},
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? Object.assign({inverse: true}, category) : value,
      series: [{type: "bar", name: config.text.clues, data: data, itemStyle: {color: "#c23531"}, barMaxWidth: 48,
                label: {show: true, position: horizontal ? "right" : "top"}}]
    });
    countTable(name, items);
  }

  function money(items) {
    var rows = items.filter(function (item) { return Number(item.owed) || Number(item.paid); });
    var point = function (item, field) { return {value: wan(item[field]), drill: drill("category", item.key), key: item.key}; };
    make("money").setOption({
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
      legend: {bottom: 0},
      grid: {left: 60, right: 20, top: 30, bottom: 80},
      xAxis: {type: "category", data: rows.map(function (r) { return r.label; }), axisLabel: {interval: 0, rotate: 30}},
      yAxis: {type: "value", name: config.text.wan},
      series: [
        {type: "bar", name: config.text.owed, data: rows.map(function (r) { return point(r, "owed"); }), itemStyle: {color: "#c23531"}, barMaxWidth: 32},
        {type: "bar", name: config.text.paid, data: rows.map(function (r) { return point(r, "paid"); }), itemStyle: {color: "#198754"}, barMaxWidth: 32}
      ]
    });
    dataTable("money", [config.text.item, config.text.owed + "（" + config.text.wan + "）", config.text.paid + "（" + config.text.wan + "）"],
              rows.map(function (r) { return [r.label, wan(r.owed).toFixed(2), wan(r.paid).toFixed(2), drill("category", r.key)]; }));
  }

  function addDays(iso, n) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  function trend() {
    var weeks = config.trend;
    var point = function (week, field) {
      var end = addDays(week.week_start, 6);
      var target = field === "registered" ? {registered_from: week.week_start, registered_to: end}
                                          : {closed_from: week.week_start, closed_to: end, stage: "closed"};
      return {value: week[field], drill: target};
    };
    make("trend").setOption({
      tooltip: {trigger: "axis"},
      legend: {bottom: 0},
      grid: {left: 40, right: 20, top: 20, bottom: 60},
      xAxis: {type: "category", data: weeks.map(function (w) { return w.week_start.slice(5); })},
      yAxis: {type: "value", minInterval: 1},
      series: [
        {type: "line", name: config.text.registered, symbolSize: 9, data: weeks.map(function (w) { return point(w, "registered"); }),
         itemStyle: {color: "#c23531"}},
        {type: "line", name: config.text.closed, symbolSize: 9, data: weeks.map(function (w) { return point(w, "closed"); }),
         itemStyle: {color: "#198754"}}
      ]
    });
    dataTable("trend", [config.text.week, config.text.registered, config.text.closed], weeks.map(function (w) {
      return [w.week_start + " — " + addDays(w.week_start, 6), w.registered, w.closed, null];
    }));
  }

  function dayMs(iso) { return Date.parse(iso + "T00:00:00+08:00"); }

  function timeline() {
    var phases = config.timeline.phases;
    var today = dayMs(config.timeline.today);
    var data = phases.map(function (p, i) {
      return {name: config.phases[p.key] || p.label, value: [i, dayMs(p.start), dayMs(addDays(p.end, 1)), p.start, p.end],
              drill: {registered_from: p.start, registered_to: p.end},
              itemStyle: {color: p.current ? "#c23531" : "#91a7b4"}};
    });
    var first = phases.length ? dayMs(phases[0].start) : today;
    var last = phases.length ? dayMs(addDays(phases[phases.length - 1].end, 1)) : today;
    make("timeline").setOption({
      tooltip: {formatter: function (p) { return p.data && p.data.value ? p.name + "<br>" + p.data.value[3] + " — " + p.data.value[4] : ""; }},
      grid: {left: 90, right: 30, top: 30, bottom: 30},
      xAxis: {type: "time", min: Math.min(first, today) - 86400000, max: Math.max(last, today) + 86400000},
      yAxis: {type: "category", inverse: true, data: data.map(function (d) { return d.name; })},
      series: [
        {type: "custom", encode: {x: [1, 2], y: 0}, data: data,
         renderItem: function (params, api) {
           var start = api.coord([api.value(1), api.value(0)]);
           var end = api.coord([api.value(2), api.value(0)]);
           var height = api.size([0, 1])[1] * 0.55;
           var shape = echarts.graphic.clipRectByRect(
             {x: start[0], y: start[1] - height / 2, width: Math.max(2, end[0] - start[0]), height: height},
             {x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height});
           return shape && {type: "rect", shape: shape, style: api.style()};
         }},
        {type: "line", data: [], markLine: {symbol: "none", silent: true, lineStyle: {color: "#dc3545", width: 2},
          label: {formatter: config.text.today + " " + config.timeline.today},
          data: [{xAxis: today}]}}
      ]
    });
    dataTable("timeline", [config.text.phase, config.text.from, config.text.to], phases.map(function (p) {
      return [(config.phases[p.key] || p.label) + (p.current ? "（" + config.text.current + "）" : ""), p.start, p.end,
              {registered_from: p.start, registered_to: p.end}];
    }));
  }

  function failed(name) {
    var element = document.getElementById("chart-" + name);
    element.textContent = config.text.failed;
    element.classList.add("text-danger");
  }

  function load(by) {
    var params = new URLSearchParams(config.filters);
    params.set("by", by);
    return fetch(config.api + "?" + params.toString(), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (body) { return body.items; });
  }

  timeline();
  trend();
  var jobs = [
    load("category").then(function (items) { pie("category", items); money(items); },
                          function () { failed("category"); failed("money"); }),
    load("source").then(function (items) { pie("source", items); }, function () { failed("source"); }),
    load("light").then(function (items) {
      pie("light", items.filter(function (i) { return i.key !== null; }), LIGHT_COLOURS);
    }, function () { failed("light"); }),
    load("stage").then(function (items) { bars("stage", items, false); }, function () { failed("stage"); }),
    load("group").then(function (items) { bars("group", items, false); }, function () { failed("group"); }),
    load("unit").then(function (items) { bars("unit", items, true); }, function () { failed("unit"); })
  ];
  window.dashboardReady = Promise.all(jobs).then(function () { document.body.dataset.dashboard = "ready"; });
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });
})();
