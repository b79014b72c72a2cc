// Brazilian formats, the same as the server's (api/formats.py): R$ 1.234,56; 1.234,567 kWh;
// 20/03/2024 14:10. Times come from the API as ISO-8601 with the configured zone's offset, so
// their wall-clock part is already local: it is read as text, never converted by the browser.

const KWH = new Intl.NumberFormat("pt-BR", { minimumFractionDigits: 3, maximumFractionDigits: 3 });
const KW = new Intl.NumberFormat("pt-BR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const MONEY = new Intl.NumberFormat("pt-BR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const MONTHS = ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
  "setembro", "outubro", "novembro", "dezembro"];

export const kwhNumber = (value) => (value == null ? "—" : KWH.format(value));
export const kwhText = (value) => (value == null ? "—" : `${KWH.format(value)} kWh`);
export const brl = (value) => (value == null ? "—" : `R$ ${MONEY.format(Number(value))}`);

export function power(watts) {
  if (watts == null) return "—";
  if (Math.abs(watts) < 1000) return `${watts} W`;
  // Round half-up on an exact value (watts / 10 is exact for whole watts), as the server does:
  // formatting 1.805, a binary double just under 1.805, would leave the tie to the formatter.
  return `${KW.format(Math.round(watts / 10) / 100)} kW`;
}

export function when(iso) {
  if (!iso) return "—";
  return `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)} ${iso.slice(11, 16)}`;
}

export const day = (iso) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
export const clock = (iso) => iso.slice(11, 19);

export function intervalLabel(scale, iso) {
  if (scale === "hora") return iso.slice(11, 16);
  if (scale === "dia") return day(iso);
  return `${MONTHS[Number(iso.slice(5, 7)) - 1]} de ${iso.slice(0, 4)}`;
}

export function shortLabel(scale, iso) {
  if (scale === "hora") return `${iso.slice(11, 13)}h`;
  if (scale === "dia") return `${iso.slice(8, 10)}/${iso.slice(5, 7)}`;
  return `${MONTHS[Number(iso.slice(5, 7)) - 1].slice(0, 3)}/${iso.slice(2, 4)}`;
}
