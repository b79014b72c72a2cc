"""The HTTP API and web pages (SPEC §5): `create_app` builds one Flask app per process."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from api import (admin, alerts, charts, configuracao, db, errors, hours, invoices, live, middleware, pages, routes,
                 sessions, tokens)
from api.encoding import JSONProvider
from core.config import Settings
from core.tokens import admin_token


def create_app(settings: Settings | None = None, test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: engines, schema migration, admin token, routes, errors, headers.

    `test_config` overrides Flask settings; `MIGRATE=False` skips the migration when the
    caller has already run it (the server migrates once, before its workers start).
    """
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=errors.MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=errors.MAX_BODY_BYTES,
        PROVIDE_AUTOMATIC_OPTIONS=False,  # OPTIONS gets a JSON 405 like any method a route lacks
        MIGRATE=True,
    )
    if test_config:
        app.config.update(test_config)
    app.json = JSONProvider(app)
    app.url_map.merge_slashes = False  # `//` is a 404, never a redirect

    token, _ = admin_token(settings.admin_token, settings.data_dir)
    database = db.open_database(settings, run_migrations=app.config["MIGRATE"])
    db.init_app(app, db.Context(settings, database, token))
    sessions.init_app(app, settings.data_dir)
    errors.register_error_handlers(app)
    app.after_request(middleware.secure_headers)
    app.register_blueprint(pages.bp)
    app.register_blueprint(routes.bp)
    app.register_blueprint(charts.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(configuracao.bp)
    app.register_blueprint(invoices.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(hours.bp)
    app.register_blueprint(admin.bp)
    app.wsgi_app = middleware.QueryStringLimit(app.wsgi_app)  # type: ignore[method-assign]
    return app
