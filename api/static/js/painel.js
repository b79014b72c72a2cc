// The customer page: charts from their tables, the live panel (polled), the period chart with its
// CSV, the date and time query, and the acknowledge buttons.

import { call, url } from "./api.js";
import { wireAlerts } from "./alertas.js";
import { clock, day, kwhText, power, when } from "./formato.js";
import { drawFromTable, showSeries } from "./graficos.js";

const root = document.getElementById("painel");
const id = root.dataset.id;
const pollEvery = Number(root.dataset.atualizar || 5) * 1000;
const REFRESH_CHARTS_MS = 60_000;
// A copy of a chart's markup, taken before any chart is drawn, for the period's chart.
const pristineFigure = document.querySelector('figure[data-grafico="dia"]').cloneNode(true);

document.querySelectorAll("figure[data-grafico]").forEach(drawFromTable);
wireAlerts(root.dataset.reconhecer);

// --- live panel ------------------------------------------------------------------------------

let lastReading = root.dataset.ultima || null;
let chartsRefreshedAt = Date.now();

function setText(elementId, text) {
  const element = document.getElementById(elementId);
  if (element.textContent !== text) element.textContent = text; // unchanged: nothing announced
}

function stateSentence(state, latest) {
  if (state === "transmitindo") return "Medidor transmitindo; os números se atualizam sozinhos.";
  if (state === "silencioso") return `O medidor não envia leituras desde ${when(latest)}.`;
  return "O medidor ainda não enviou leituras.";
}

async function refreshCharts() {
  chartsRefreshedAt = Date.now();
  for (const scale of ["hora", "dia"]) {
    const figure = document.querySelector(`figure[data-grafico="${scale}"]`);
    const series = await call("/usuario/consumo/serie/", { id, escala: scale });
    showSeries(figure, series, url("/usuario/consumo/serie.csv", { id, escala: scale, inicio: series.de, fim: series.ate }));
  }
}

async function poll() {
  if (!document.hidden) {
    try {
      const now = await call("/usuario/agora/", { id });
      setText("agora-potencia", power(now.potencia_w));
      setText("agora-leitura", kwhText(now.leitura_atual_kwh));
      setText("agora-total", kwhText(now.consumo_total_kwh));
      setText("agora-ultima", when(now.ultima_leitura));
      setText("agora-estado", stateSentence(now.estado, now.ultima_leitura));
      document.getElementById("agora-estado").dataset.estado = now.estado;
      if (now.ultima_leitura !== lastReading) {
        lastReading = now.ultima_leitura;
        if (Date.now() - chartsRefreshedAt >= REFRESH_CHARTS_MS) await refreshCharts();
      }
    } catch (error) {
      setText("agora-estado", error.status === 401
        ? "A sessão terminou: entre de novo para continuar acompanhando."
        : `Não foi possível atualizar agora (${error.message}); nova tentativa em instantes.`);
      if (error.status === 401) return;
    }
  }
  window.setTimeout(poll, pollEvery);
}

window.setTimeout(poll, pollEvery);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && Date.now() - chartsRefreshedAt >= REFRESH_CHARTS_MS) refreshCharts().catch(() => {});
});

// --- consumption of a chosen period ----------------------------------------------------------

const periodForm = document.getElementById("periodo");
const periodError = document.getElementById("periodo-erro");
let periodFigure = null;

function periodFigureElement() {
  if (periodFigure) return periodFigure;
  periodFigure = pristineFigure;
  periodFigure.dataset.grafico = "periodo";
  periodFigure.setAttribute("aria-labelledby", "titulo-periodo-grafico");
  const heading = periodFigure.querySelector("h3");
  heading.id = "titulo-periodo-grafico";
  heading.textContent = "Consumo do período";
  periodFigure.querySelector("canvas").setAttribute("aria-label",
    "Gráfico de barras: consumo do período. Os valores estão na tabela logo abaixo.");
  document.getElementById("periodo-resultado").replaceChildren(periodFigure);
  return periodFigure;
}

periodForm.querySelector('button[type="submit"]').disabled = false;
periodForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const params = { id, escala: periodForm.elements.escala.value, inicio: periodForm.elements.inicio.value, fim: periodForm.elements.fim.value };
  try {
    const series = await call("/usuario/consumo/serie/", params);
    periodError.hidden = true;
    showSeries(periodFigureElement(), series, url("/usuario/consumo/serie.csv", params));
  } catch (error) {
    periodError.textContent = error.message;
    periodError.hidden = false;
  }
});

// --- a date and a time -----------------------------------------------------------------------

const queryForm = document.getElementById("consulta");
const queryResult = document.getElementById("consulta-resultado");

function element(tag, attributes = {}, ...children) {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  made.append(...children);
  return made;
}

function figures(field, answer) {
  return element("dl", { class: "numeros" },
    element("div", {}, element("dt", {}, "Consumo"),
      element("dd", { "data-campo": `${field}-consumo`, "data-valor": String(answer.consumo_kwh) }, kwhText(answer.consumo_kwh))),
    element("div", {}, element("dt", {}, "Leituras"),
      element("dd", { "data-campo": `${field}-leituras`, "data-valor": String(answer.total_leituras) }, String(answer.total_leituras))));
}

function readingsTable(field, answer, caption) {
  const rows = answer.leituras.map((reading) => element("tr", { "data-ts": reading.ts },
    element("td", {}, `${day(reading.ts)} ${clock(reading.ts)}`), element("td", { "data-valor": String(reading.kwh) }, kwhText(reading.kwh))));
  const shown = answer.leituras.length < answer.total_leituras
    ? ` (as ${answer.leituras.length} primeiras de ${answer.total_leituras})` : "";
  return element("div", { class: "rolagem" }, element("table", { "data-campo": `${field}-tabela` },
    element("caption", {}, caption + shown),
    element("thead", {}, element("tr", {}, element("th", { scope: "col" }, "Leitura"), element("th", { scope: "col" }, "Registrador"))),
    element("tbody", {}, ...rows)));
}

function years(answer) {
  return answer.periodos.map((period) => (period.inicio ?? "").slice(0, 4)).filter(Boolean).join(", ");
}

queryForm.querySelector('button[type="submit"]').disabled = false;
queryForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const [year, month, dayOfMonth] = queryForm.elements.data.value.split("-");
  const everyYear = queryForm.elements.anos.checked;
  const data = everyYear ? `${dayOfMonth}/${month}/` : `${year}-${month}-${dayOfMonth}`;
  const time = queryForm.elements.horario.value;
  const bySecond = queryForm.elements.precisao.value === "segundo";
  const horario = bySecond ? (time.length === 5 ? `${time}:00` : time) : `${time.slice(0, 5)}:`;
  queryResult.replaceChildren(element("p", {}, "Consultando…"));
  try {
    const dayAnswer = await call("/usuario/consumo/data/", { id, data, limite: 50 });
    const dayTitle = everyYear ? `Dia ${dayOfMonth}/${month} em todos os anos (${years(dayAnswer) || "nenhum com dados"})`
      : `Dia ${dayOfMonth}/${month}/${year}`;
    const parts = [element("h3", {}, dayTitle), figures("dia", dayAnswer)];
    if (dayAnswer.leituras.length) {
      parts.push(element("details", {}, element("summary", {}, "Leituras do dia"), readingsTable("dia", dayAnswer, "Leituras do dia")));
    }
    if (time) {
      const timeAnswer = await call("/usuario/consumo/horario/", { id, data, horario, limite: 50 });
      const what = bySecond ? `Às ${horario}` : `Às ${horario.slice(0, 5)} (o minuto inteiro)`;
      parts.push(element("h3", {}, what), figures("horario", timeAnswer),
        readingsTable("horario", timeAnswer, `Leituras ${bySecond ? "nesse segundo" : "nesse minuto"}`));
    }
    queryResult.replaceChildren(...parts);
  } catch (error) {
    queryResult.replaceChildren(element("p", { class: "aviso", role: "alert" }, error.message));
  }
});

root.dataset.pronto = "1"; // everything is wired (the browser tests wait for this)
