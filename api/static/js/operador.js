// The operator page: only the acknowledge buttons need JavaScript.

import { wireAlerts } from "./alertas.js";

wireAlerts(document.getElementById("operador")?.dataset.reconhecer);
