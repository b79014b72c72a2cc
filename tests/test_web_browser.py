"""The pages in headless Chromium, on real processes: broker, ingest worker, API (issue 7).

Customer 7's meter publishes a year of a household's readings (tests/support/household.py)
through the project's Mosquitto, up to a minute ago; `python -m ingest` stores them and
`python -m api` serves the pages. Debian's Chromium is driven by Playwright (no browser download).
Every test fails on any error in the browser's console (a CSP violation is one) and saves a
screenshot of each page it visits under test-output/screenshots/.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api import create_app, formats
from core.config import Settings
from core.periods import day_start, from_ms, local_date
from core.wire import Reading, encode, topic_for
from tests.support import household
from tests.support.broker import RunningBroker
from tests.support.net import free_port, wait_for_port
from tests.support.procs import ProcessTracker
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
ADMIN = "admin-token-for-the-browser-tests"
ZONE = ZoneInfo("America/Sao_Paulo")
HOUR_MS = 3_600_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Stack:
    """The running processes and what was published."""

    base: str
    token: str
    readings: list[tuple[int, int]]
    broker: RunningBroker

    @property
    def register(self) -> dict[int, int]:
        return dict(self.readings)

    def get(self, path: str, **query) -> dict:
        answer = requests.get(self.base + path, params=query, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, backend):
    """Broker, ingest worker and API; customer 7 registered, a year of its readings stored."""
    root = tmp_path_factory.mktemp("web")
    tracker = ProcessTracker(root / "logs", backend.complete)
    with RunningBroker(root / "broker", meters=[7], data_dir=root / "data") as broker:
        try:
            env = broker.env(ENERGY_ADMIN_TOKEN=ADMIN)
            tracker(["ingest"], env, name="ingest").wait_for_log("subscribed to meters/", timeout=15)
            port = free_port()
            tracker(["api", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--threads", "8"], env, name="api")
            wait_for_port("127.0.0.1", port, timeout=20)
            base = f"http://127.0.0.1:{port}"
            created = requests.post(f"{base}/usuario/cadastro/", json={"id": 7, "nome": "Ana Souza", "endereco": "Rua das Flores, 107"},
                                    headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
            assert created.status_code == 201, created.text
            readings = household.readings(now_ms() - 60_000, ZONE)
            meter = broker.client(7)
            meter.publish_many([(topic_for(7), encode(Reading(7, ts, wh))) for ts, wh in readings])
            meter.publish(topic_for(7), b"not a reading")
            stack = Stack(base, created.json()["token"], readings, broker)
            wait_until(lambda: stack.get("/usuario/", id=7)["total_leituras"] == len(readings), timeout=60,
                       message="every published reading stored")
            yield stack
        finally:
            tracker.cleanup()


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing at /usr/bin/chromium: `make setup` installs it")
    with sync_playwright() as playwright:
        # LANGUAGE: the browser's own widgets (date and time inputs) in Brazilian form, as customers
        # see them (chromium-l10n has the translations).
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                              env={**os.environ, "LANGUAGE": "pt_BR"})
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser):
    """A fresh Brazilian browser profile (no cookies); fails the test on any console error."""
    context = browser.new_context(locale="pt-BR", timezone_id="America/Sao_Paulo", viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    yield opened
    context.close()
    assert errors == [], f"errors in the browser console: {errors}"


def screenshot(page: Page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page: Page, stack: Stack, token: str) -> None:
    """Type the token into the sign-in form, as a person would."""
    page.goto(stack.base + "/")
    page.get_by_label("Token de acesso").fill(token)
    page.get_by_role("button", name="Entrar").click()
    expect(page.locator("[data-pronto]")).to_have_count(1)  # the page's script has wired everything


@functools.cache
def served(path: str, method: str = "GET") -> bool:
    """Whether this checkout's app has a route (billing's invoice and alerts' acknowledge come with their issues)."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings.from_env({"ENERGY_DATA_DIR": folder, "ENERGY_ADMIN_TOKEN": ADMIN}))
        try:
            return app.url_map.bind("localhost").test(path, method)
        finally:
            app.extensions["energia"].database.dispose()


def table_rows(page: Page, figure: str) -> dict[str, str]:
    """The rows of a chart's table of values, label to figure, after opening it like a person."""
    block = page.locator(f'figure[data-grafico="{figure}"]')
    block.get_by_text("Tabela de valores").click()
    expect(block.locator("table")).to_be_visible()
    labels = block.locator("tbody th").all_inner_texts()
    values = block.locator("tbody td").all_inner_texts()
    return dict(zip(labels, values))


def energy_text(register: dict[int, int], start: int, end: int) -> str:
    """The hand figure between two published readings, as the page writes it."""
    return formats.kwh_number(Decimal(register[end] - register[start]) / 1000)


def test_a_customer_signs_in_and_sees_charts_drawn_from_the_published_readings(page, stack):
    page.goto(stack.base + "/")
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
    screenshot(page, "entrar")
    sign_in(page, stack, stack.token)
    expect(page).to_have_url(stack.base + "/painel/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ana Souza")

    register, latest = stack.register, stack.readings[-1][0]
    today = date.fromisoformat(page.locator("#painel").get_attribute("data-hoje"))  # the page's "today"
    days = table_rows(page, "dia")
    assert len(days) == 30 and today.strftime("%d/%m/%Y") in days
    checked = 0
    for back in range(1, 30):  # whole days before today: two published readings at their midnights
        day = today - timedelta(days=back)
        end = day_start(day + timedelta(days=1), ZONE)
        if end > latest:  # midnight passed between publishing and this page: that day's end has no reading
            continue
        expected = energy_text(register, day_start(day, ZONE), end)
        assert days[day.strftime("%d/%m/%Y")] == expected, day
        checked += 1
    assert checked >= 28
    yesterday = today - timedelta(days=1)
    answer = stack.get("/usuario/consumo/data/", id=7, data=yesterday.isoformat())
    assert days[yesterday.strftime("%d/%m/%Y")] == formats.kwh_number(answer["consumo_kwh"])

    hours = table_rows(page, "hora")
    midnight = day_start(today, ZONE)
    for hour in range(24):
        start = midnight + hour * HOUR_MS
        if start + HOUR_MS <= latest:
            assert hours[from_ms(start, ZONE).strftime("%H:%M")] == energy_text(register, start, start + HOUR_MS)

    drawn = page.evaluate("""() => [...document.querySelectorAll('figure[data-grafico] canvas')].map(canvas => {
        const chart = Chart.getChart(canvas);
        return chart ? {width: canvas.width, data: chart.data.datasets[0].data} : null; })""")
    assert all(chart and chart["width"] > 0 for chart in drawn)
    day_figures = [value for value in drawn[1]["data"] if value is not None]
    assert [formats.kwh_number(Decimal(str(value))) for value in day_figures] == [
        value for value in days.values() if value != "—"]
    expect(page.locator("#agora-leitura")).to_have_text(formats.kwh_text(Decimal(stack.readings[-1][1]) / 1000))
    screenshot(page, "painel")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "painel-celular", full_page=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than a phone


def test_a_date_and_a_time_show_what_the_api_answers(page, stack):
    sign_in(page, stack, stack.token)
    day = local_date(now_ms(), ZONE) - timedelta(days=3)
    form = page.locator("#consulta")
    form.get_by_label("Data").fill(day.isoformat())
    form.get_by_label("Horário (opcional)").fill("14:00")
    form.get_by_label("Horário como").select_option("minuto")
    form.get_by_role("button", name="Consultar").click()
    result = page.locator("#consulta-resultado")
    expect(result.locator('[data-campo="horario-consumo"]')).to_be_visible()
    by_day = stack.get("/usuario/consumo/data/", id=7, data=day.isoformat())
    by_minute = stack.get("/usuario/consumo/horario/", id=7, data=day.isoformat(), horario="14:00:")
    for field, answer in (("dia", by_day), ("horario", by_minute)):
        consumption = result.locator(f'[data-campo="{field}-consumo"]')
        expect(consumption).to_have_text(formats.kwh_text(answer["consumo_kwh"]))
        assert float(consumption.get_attribute("data-valor")) == answer["consumo_kwh"]
        expect(result.locator(f'[data-campo="{field}-leituras"]')).to_have_text(str(answer["total_leituras"]))
    assert by_minute["total_leituras"] == 1 and by_day["total_leituras"] == 24  # hourly readings
    readings = result.locator('[data-campo="horario-tabela"] tbody tr')
    expect(readings).to_have_count(1)
    assert readings.first.get_attribute("data-ts") == by_minute["leituras"][0]["ts"]

    every_year = local_date(now_ms(), ZONE) - timedelta(days=370)  # a date with readings in two years
    form.get_by_label("Data").fill(every_year.isoformat())
    form.get_by_label("Horário (opcional)").fill("")
    form.get_by_label("Somar esse dia em todos os anos").check()
    form.get_by_role("button", name="Consultar").click()
    summed = stack.get("/usuario/consumo/data/", id=7, data=every_year.strftime("%d/%m/"))
    expect(result.locator("h3").first).to_contain_text("em todos os anos")
    expect(result.locator('[data-campo="dia-consumo"]')).to_have_text(formats.kwh_text(summed["consumo_kwh"]))
    assert len(summed["periodos"]) >= 2
    screenshot(page, "painel-consulta")


def test_a_chosen_period_is_drawn_and_its_csv_is_what_the_api_gives(page, stack):
    sign_in(page, stack, stack.token)
    day = local_date(now_ms(), ZONE) - timedelta(days=2)
    form = page.locator("#periodo")
    form.get_by_label("Por").select_option("hora")
    form.get_by_label("De").fill(day.isoformat())
    form.get_by_label("Até").fill(day.isoformat())
    form.get_by_role("button", name="Mostrar").click()
    figure = page.locator('figure[data-grafico="periodo"]')
    expect(figure.locator("tbody tr")).to_have_count(24)
    series = stack.get("/usuario/consumo/serie/", id=7, escala="hora", inicio=day.isoformat(), fim=day.isoformat())
    expect(figure.locator("[data-total]")).to_have_text(formats.kwh_text(series["consumo_kwh"]))
    expect(figure.locator("tbody td").nth(14)).to_have_text(formats.kwh_number(series["intervalos"][14]["consumo_kwh"]))
    with page.expect_download() as download:
        figure.get_by_role("link", name="Baixar CSV").click()
    saved = Path(download.value.path()).read_bytes()
    expected = requests.get(stack.base + "/usuario/consumo/serie.csv", timeout=10, headers={"Authorization": f"Bearer {ADMIN}"},
                            params={"id": 7, "escala": "hora", "inicio": day.isoformat(), "fim": day.isoformat()}).content
    assert saved == expected and saved.count(b"\r\n") == 25
    assert download.value.suggested_filename == f"consumo-7-hora-{day.isoformat()}-a-{day.isoformat()}.csv"


def test_the_operator_signs_in_with_a_link_and_sees_customers_alerts_and_rejected_readings(page, stack):
    page.goto(f"{stack.base}/#token={ADMIN}")  # what `make demo` prints: the token never reaches a log
    expect(page).to_have_url(stack.base + "/operador/")
    expect(page.locator("#operador")).to_have_attribute("data-pronto", "1")
    customer = page.locator('#clientes tr[data-cliente="7"]')
    expect(customer).to_contain_text("Ana Souza")
    latest = stack.get("/usuario/", id=7)["ultima_leitura"]
    expect(customer).to_contain_text(formats.when(latest))
    expect(page.locator("#rejeitadas")).to_contain_text("Mensagem malformada")
    # Every open alert of every kind: which early warnings are open depends on the day the test runs.
    open_alerts = stack.get("/usuario/alertas/", id=7, estado="aberto")["alertas"]
    expect(page.locator("#alertas tbody tr")).to_have_count(len(open_alerts))
    screenshot(page, "operador")
    customer.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ana Souza")
    page.get_by_role("button", name="Sair").click()
    expect(page).to_have_url(stack.base + "/")
    expect(page.get_by_label("Token de acesso")).to_be_visible()
    page.goto(stack.base + "/operador/")  # the session is over: back to the sign-in
    expect(page).to_have_url(stack.base + "/")


@pytest.mark.skipif(not served("/fatura/7/2024-01"), reason="the printable invoice route /fatura/<id>/<YYYY-MM> "
                    "(billing, issue 3) is not in this app yet; this test runs once it is merged")
def test_an_invoice_opens_from_the_customer_page(page, stack):
    sign_in(page, stack, stack.token)
    row = page.locator("#faturas tbody tr").first
    month = row.get_attribute("data-mes")
    bill = stack.get("/usuario/fatura/", id=7, mes=month)
    row.get_by_role("link").click()
    expect(page).to_have_url(f"{stack.base}/fatura/7/{month}")
    expect(page.locator("body")).to_contain_text(formats.brl(bill["valor"]).removeprefix("R$ "))
    screenshot(page, "fatura")


@pytest.mark.skipif(not served("/usuario/alerta/reconhecer/", "POST"), reason="the acknowledge route POST "
                    "/usuario/alerta/reconhecer/ (alerts, issue 4) is not in this app yet; this test runs once it is merged")
def test_an_alert_is_acknowledged_from_the_customer_page(page, stack):
    sign_in(page, stack, stack.token)
    button = page.locator("#alertas button[data-reconhecer]").first
    alert_id = int(button.get_attribute("data-reconhecer"))
    row = page.locator(f'#alertas tr[data-alerta="{alert_id}"]')
    button.click()
    expect(row.locator("[data-estado]")).to_have_text("Reconhecido")
    expect(page.locator("#alertas-aviso")).to_have_text("Alerta reconhecido.")
    listed = [alert for kind in ("excesso", "variacao") for alert in stack.get(f"/usuario/alerta/{kind}/", id=7)["alertas"]]
    assert {alert["alerta_id"]: alert["estado"] for alert in listed}[alert_id] == "reconhecido"
    page.reload()
    expect(page.locator(f'#alertas tr[data-alerta="{alert_id}"] [data-estado]')).to_have_text("Reconhecido")
    screenshot(page, "painel-alerta-reconhecido")


def test_a_new_reading_published_through_the_broker_shows_up_without_a_reload(page, stack):
    sign_in(page, stack, stack.token)
    last_ts, last_wh = stack.readings[-1]
    expect(page.locator("#agora-leitura")).to_have_text(formats.kwh_text(Decimal(last_wh) / 1000))
    page.evaluate("window.stillTheSamePage = true")
    new_ts = now_ms()
    new_wh = last_wh + max(1, round(1_800 * (new_ts - last_ts) / HOUR_MS))  # 1.8 kW since the last reading
    stack.broker.client(7).publish(topic_for(7), encode(Reading(7, new_ts, new_wh)))
    expect(page.locator("#agora-leitura")).to_have_text(formats.kwh_text(Decimal(new_wh) / 1000), timeout=20_000)
    live = stack.get("/usuario/agora/", id=7)
    expect(page.locator("#agora-potencia")).to_have_text(formats.power_text(live["potencia_w"]))
    expect(page.locator("#agora-total")).to_have_text(formats.kwh_text(live["consumo_total_kwh"]))
    expect(page.locator("#agora-estado")).to_have_attribute("data-estado", "transmitindo")
    assert live["potencia_w"] > 0 and page.evaluate("window.stillTheSamePage") is True
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", page.locator("#agora-ultima").inner_text())
    screenshot(page, "painel-ao-vivo")
