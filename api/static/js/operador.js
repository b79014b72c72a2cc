// The operator page: only the acknowledge buttons need JavaScript.

import { wireAlerts } from "./alertas.js";

const root = document.getElementById("operador");
wireAlerts(root.dataset.reconhecer);
root.dataset.pronto = "1"; // everything is wired (the browser tests wait for this)
