// The operator's dashboard: draws the charts from the figures the page embeds (json_script "stats-charts").
// Chart.js is served from our own static files (static/vendor/chartjs); nothing comes from another origin.
(function () {
  "use strict";
  var source = document.getElementById("stats-charts");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var L = data.labels;
  var colours = ["#1f5fbf", "#2e8b57", "#b8860b", "#b22222"];

  function bar(id, labels, values, horizontal) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: L.cases, data: values, backgroundColor: colours[0] }] },
      options: {
        indexAxis: horizontal ? "y" : "x",
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        // Every label shown (Chart.js skips some when they crowd).
        scales: { x: { beginAtZero: true, ticks: { autoSkip: horizontal } }, y: { beginAtZero: true, ticks: { autoSkip: !horizontal } } },
      },
    });
  }

  var trend = document.getElementById("chart-trend");
  if (trend) {
    new Chart(trend, {
      type: "line",
      data: {
        labels: data.months,
        datasets: [
          { label: L.filed, data: data.filed, borderColor: colours[0], backgroundColor: colours[0] },
          { label: L.settled, data: data.settled, borderColor: colours[1], backgroundColor: colours[1] },
          { label: L.awarded, data: data.awarded, borderColor: colours[2], backgroundColor: colours[2] },
          { label: L.non_compliant, data: data.non_compliant, borderColor: colours[3], backgroundColor: colours[3] },
        ],
      },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
    });
  }
  bar("chart-pairs", data.pairs, data.pair_cases, true);
  bar("chart-categories", data.categories, data.category_cases, true);
  bar("chart-status", data.statuses, data.status_cases, false);
})();
