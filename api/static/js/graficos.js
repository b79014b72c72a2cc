// Bar charts drawn from the tables beside them, so a chart and its table always show the same
// figures; the tables are the accessible form of every chart (the canvas is only a picture).

import { intervalLabel, kwhNumber, kwhText, shortLabel, day } from "./formato.js";

const charts = new WeakMap();
const BAR = "#0b5cad";
const ESTIMATED = "#9dbfe3"; // an hour inside a gap between readings: its share is an estimate

function rows(figure) {
  return [...figure.querySelectorAll("tbody tr")].map((row) => ({
    label: row.dataset.rotulo,
    kwh: row.dataset.medido === "1" ? Number(row.dataset.kwh) : null,
    estimated: row.dataset.estimado === "1",
  }));
}

const colours = (data) => data.map((item) => (item.estimated ? ESTIMATED : BAR));

// Draws (or redraws) the figure's chart from its table; does nothing without Chart.js.
export function drawFromTable(figure) {
  if (!window.Chart) return;
  const data = rows(figure);
  const canvas = figure.querySelector("canvas");
  const previous = charts.get(figure);
  if (previous) {
    previous.data.labels = data.map((item) => item.label);
    previous.data.datasets[0].data = data.map((item) => item.kwh);
    previous.data.datasets[0].backgroundColor = colours(data);
    previous.update("none");
    return;
  }
  charts.set(figure, new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.map((item) => item.label),
      datasets: [{ label: "Consumo (kWh)", data: data.map((item) => item.kwh), backgroundColor: colours(data) }],
    },
    options: {
      locale: "pt-BR",
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (context) => kwhText(context.parsed.y) } },
      },
      scales: {
        x: { ticks: { autoSkip: true, maxRotation: 0 } },
        y: { beginAtZero: true, title: { display: true, text: "kWh" } },
      },
    },
  }));
}

// Puts a series document of the API into a figure (table, total, period, CSV link) and draws it.
export function showSeries(figure, series, csvHref) {
  const body = figure.querySelector("tbody");
  body.replaceChildren(...series.intervalos.map((interval) => {
    const row = document.createElement("tr");
    row.dataset.rotulo = shortLabel(series.escala, interval.inicio);
    row.dataset.kwh = String(interval.consumo_kwh);
    row.dataset.medido = interval.medido ? "1" : "0";
    row.dataset.estimado = interval.estimado ? "1" : "0";
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = intervalLabel(series.escala, interval.inicio);
    const value = document.createElement("td");
    value.textContent = (interval.medido ? kwhNumber(interval.consumo_kwh) : "—") + (interval.estimado ? " (estimado)" : "");
    row.append(name, value);
    return row;
  }));
  const span = series.de === series.ate ? day(series.de) : `${day(series.de)} a ${day(series.ate)}`;
  figure.querySelector("[data-total]").textContent = kwhText(series.consumo_kwh);
  figure.querySelector("[data-periodo]").textContent = `(${span})`;
  const caption = figure.querySelector("caption");
  caption.textContent = `${figure.querySelector("h3").textContent} (${span})`;
  figure.querySelector("thead th").textContent = series.escala === "hora" ? "Hora" : "Dia";
  figure.dataset.escala = series.escala;
  if (csvHref) figure.querySelector("[data-csv]").href = csvHref;
  drawFromTable(figure);
}
