// The acknowledge buttons of an alerts table (customer and operator pages).

import { call } from "./api.js";

export function wireAlerts(path) {
  const notice = document.getElementById("alertas-aviso");
  if (!path) return;
  document.querySelectorAll("button[data-reconhecer]").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const alert = await call(path, { id: button.dataset.cliente, alerta_id: button.dataset.reconhecer }, "POST");
        const row = button.closest("tr");
        row.querySelector("[data-estado]").textContent = alert.estado === "reconhecido" ? "Reconhecido" : alert.estado;
        button.remove();
        notice.textContent = "Alerta reconhecido.";
      } catch (error) {
        button.disabled = false;
        notice.textContent = `Não foi possível reconhecer o alerta: ${error.message}`;
      }
      notice.hidden = false;
    });
    button.disabled = false;
  });
}
