// The assessment page: three ECharts charts from /board/api/assessment (shipped with the
// board's static files, no CDN), for the scheme chosen in the tabs: grid workers (B post),
// A-post officers or communities. window.__assessment tells the browser test what was drawn.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("assessment-config").textContent);
  const state = { ready: false, drawn: [], scheme: null };
  window.__assessment = state;
  const BINS = ["0-20", "20-40", "40-60", "60-80", "80-100"];

  const instances = [];

  function chart(id, option) {
    const node = document.getElementById(id);
    const instance = echarts.init(node, null, { renderer: "canvas" });
    instances.push(instance);
    instance.on("finished", function () {
      if (state.drawn.indexOf(id) < 0) state.drawn.push(id);
    });
    instance.setOption(Object.assign({ animation: false }, option));
    return instance;
  }

  window.addEventListener("resize", function () {
    instances.forEach(function (instance) { instance.resize(); });
  });

  function clear() {
    while (instances.length) instances.pop().dispose();
  }

  function ranking(rows) {
    const sorted = rows.slice().reverse();
    chart("chart-ranking", {
      grid: { left: 110, right: 30, top: 10, bottom: 30 },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: sorted.map(function (r) { return r.community; }) },
      tooltip: {},
      series: [{ type: "bar", data: sorted.map(function (r) { return r.mean; }),
                 label: { show: true, position: "right" } }],
    });
  }

  function trend(rows) {
    const periods = Array.from(new Set(rows.map(function (r) { return r.period; })));
    const names = Array.from(new Set(rows.map(function (r) { return r.community; })));
    chart("chart-trend", {
      grid: { left: 40, right: 20, top: 30, bottom: 30 },
      legend: { type: "scroll", top: 0 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: periods },
      yAxis: { type: "value", min: 0, max: 100 },
      series: names.map(function (name) {
        return {
          name: name, type: "line",
          data: periods.map(function (p) {
            const hit = rows.find(function (r) { return r.period === p && r.community === name; });
            return hit ? hit.mean : null;
          }),
        };
      }),
    });
  }

  function distribution(rows) {
    chart("chart-distribution", {
      grid: { left: 40, right: 20, top: 30, bottom: 60 },
      legend: { top: 0 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: rows.map(function (r) { return r.label; }),
               axisLabel: { interval: 0, rotate: 20 } },
      yAxis: { type: "value" },
      series: BINS.map(function (bin, i) {
        return { name: bin, type: "bar", stack: "points",
                 data: rows.map(function (r) { return r.bins[i]; }) };
      }),
    });
  }

  const tabs = Array.prototype.slice.call(document.querySelectorAll("[data-scheme]"));

  function load(scheme) {
    state.ready = false;
    state.drawn = [];
    state.scheme = scheme;
    tabs.forEach(function (tab) {
      tab.setAttribute("aria-selected", tab.dataset.scheme === scheme ? "true" : "false");
    });
    document.getElementById("ranking-title").textContent =
      scheme === "community" ? config.text.chart_ranking_community : config.text.chart_ranking;
    clear();
    const url = config.urls.charts + "?scheme=" + encodeURIComponent(scheme);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (state.scheme !== scheme) return; // another tab was chosen meanwhile
        const none = !body.period;
        document.getElementById("none").hidden = !none;
        document.querySelector(".charts").hidden = none;
        document.getElementById("period").textContent = none ? "" : body.period.label;
        if (!none) {
          ranking(body.ranking);
          trend(body.trend);
          distribution(body.distribution);
        }
        state.ready = true;
      });
  }

  tabs.forEach(function (tab) {
    tab.addEventListener("click", function () { load(tab.dataset.scheme); });
  });
  load("worker");
})();
