"""Build the FastAPI app: lifespan, middleware, error handlers, docs and routers."""

from __future__ import annotations

import asyncio
import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI

import db
from access.auth import document_scopes, every_route_guarded, warn_if_no_keys
from access.routes import router as access_router
from ai.client import create_client
from ai.routes import router as ai_router
from audits.routes import router as audits_router
from docs_ui import install_offline_docs
from errors import install_error_handlers
from health import router as health_router
from ingest.routes import BATCH_PATH
from ingest.routes import router as ingest_router
from ledger import sealer
from ledger.routes import router as ledger_router
from logs import configure_logging
from middleware import CORSMiddleware, RequestContextMiddleware
from settings import SERVICE_NAME, SERVICE_VERSION, Settings, get_settings
from ui import install_trail_viewer


def freeze_start_up_objects() -> None:
    """Take what start-up built (modules, classes, schemas, routes: about 130,000 objects,
    all living as long as the process) out of the garbage collector's view. Each full
    collection re-scanned them all: 40-150 ms with the event loop stopped, five times in 20 s
    of load, and every request waiting behind it. Frozen, one takes about 1 ms. Once per
    process: the first app's start-up is the process's start-up."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await db.open_pool(settings)
        await warn_if_no_keys(settings)
        app.state.openai = create_client(settings)
        stop_sealing = asyncio.Event()
        sealing = None
        if settings.ledger_sealer and settings.ledger_signing_key is not None:
            sealing = asyncio.create_task(sealer.run(settings, stop_sealing))
        freeze_start_up_objects()
        yield
        stop_sealing.set()
        if sealing is not None:
            await sealing
        if app.state.openai is not None:
            await app.state.openai.close()
        await db.close_pool()

    app = FastAPI(
        title=SERVICE_NAME,
        version=SERVICE_VERSION,
        description="An audit trail API: who did what to which entity, when, and how it ended. "
        "Every error answers `{error, message, details}` with an `X-Request-ID` header. "
        "A query parameter sent more than once is a 422 on any path, before the key check.",
        lifespan=lifespan,
        docs_url=None,  # install_offline_docs serves both UIs without a CDN
        redoc_url=None,
        # No OpenTelemetry is configured; skip FastAPI's per-request check for it.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_limits={BATCH_PATH: settings.max_batch_body_bytes},
        vary_origin=True,  # for the CORSMiddleware around it
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[
            "X-Request-ID",
            "Location",
            "Retry-After",
            "WWW-Authenticate",
            "Idempotent-Replayed",
        ],
    )
    # Routes are matched in this order: the busiest first, the pages for people last. Each
    # router's routes are added themselves: FastAPI matches an included router's routes
    # twice a request (to choose the router, then inside it), its costliest step per request.
    app.router.routes.extend(health_router.routes)
    for api_router in (audits_router, ingest_router, ledger_router, ai_router, access_router):
        app.router.routes.extend(every_route_guarded(api_router).routes)
    install_offline_docs(app)
    install_trail_viewer(app)
    # FastAPI put its /openapi.json first, and the service index `/` came with the health
    # routes: each failed match costs every request a regex, so both go last, with the pages.
    go_last = {app.openapi_url, "/"}
    app.router.routes.sort(key=lambda route: getattr(route, "path", None) in go_last)
    document_scopes(app)
    return app


app = create_app()
