// Draws the charts of /charts with the vendored Chart.js, from the figures the page carries as JSON.
"use strict";

(function drawCharts() {
  const data = document.getElementById("chart-data");
  if (!data || typeof Chart === "undefined") return;
  const charts = JSON.parse(data.textContent);
  const colours = { python: "#3572a5", go: "#00add8", rust: "#b7410e" };
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const chart = charts[Number(canvas.dataset.chart)];
    const buckets = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p.bucket)))].sort();
    const label = (iso) => iso.replace("T", " ").slice(0, chart.bucket === "day" ? 10 : 16);
    const datasets = chart.series.map((series) => {
      const byBucket = new Map(series.points.map((p) => [p.bucket, p.value]));
      const colour = colours[series.language] || "#666";
      return {
        label: series.language,
        data: buckets.map((b) => (byBucket.has(b) ? byBucket.get(b) : null)),
        borderColor: colour,
        backgroundColor: colour,
        spanGaps: true,
        pointRadius: 3,
      };
    });
    const bars = chart.unit === "failures";
    new Chart(canvas, {
      type: bars ? "bar" : "line",
      data: { labels: buckets.map(label), datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: chart.unit } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
    canvas.dataset.drawn = "true";
  });
})();
