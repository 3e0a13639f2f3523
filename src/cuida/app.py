"""create_app(settings): the ASGI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cuida import __version__
from cuida.runtime import Runtime
from cuida.settings import Settings, get_settings
from cuida.web import errors

log = logging.getLogger(__name__)

DESCRIPTION = """Cuida's API. Integrations authenticate with `Authorization: Bearer <token>`
(created with `cuida token create` or `POST /api/v1/tokens`); agents' browsers use the session
cookie and send `X-CSRF-Token` on every unsafe request. Errors always look like
`{"error": {"code", "message", "fields"}}`."""


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, start_workers: bool | None = None
) -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())
    runtime = runtime or Runtime(settings)
    runtime.install()
    run_workers = settings.in_process_worker if start_workers is None else start_workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.broker.listen()
        if run_workers:
            from cuida.jobs.consumer import Consumers

            runtime.consumers = Consumers(
                runtime, settings.worker_threads, reconcile_every=settings.reconcile_seconds
            ).start()
        yield
        if runtime.consumers is not None:
            runtime.consumers.stop()
            runtime.consumers = None

    app = FastAPI(title="Cuida", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.runtime = runtime
    errors.install(app)

    from cuida.auth.api import router as auth_router
    from cuida.automation.api import router as automation_router
    from cuida.channels.api import router as channels_router
    from cuida.clock.api import router as clock_router
    from cuida.commitments.api import router as commitments_router
    from cuida.contactability.api import router as contactability_router
    from cuida.conversations.api import router as conversations_router
    from cuida.customers.api import router as customers_router
    from cuida.events.api import router as events_router
    from cuida.goodwill.api import router as goodwill_router
    from cuida.ingest.api import router as ingest_router
    from cuida.listening.api import router as listening_router
    from cuida.listening.feed_api import router as listening_feeds_router
    from cuida.listening.incident_api import router as incidents_router
    from cuida.notifications.api import router as notifications_router
    from cuida.quarantine.api import router as quarantine_router
    from cuida.ratings.api import pages as ratings_pages
    from cuida.ratings.api import router as ratings_router
    from cuida.routing.api import router as routing_router
    from cuida.search.api import router as search_router
    from cuida.sla.api import router as sla_router
    from cuida.triage.api import router as triage_router
    from cuida.web.pages import router as pages_router
    from cuida.web.system_api import router as system_router

    for router in (
        system_router,
        auth_router,
        ingest_router,
        customers_router,
        conversations_router,
        events_router,
        search_router,
        triage_router,
        sla_router,
        commitments_router,
        contactability_router,
        goodwill_router,
        automation_router,
        routing_router,
        notifications_router,
        quarantine_router,
        channels_router,
        ratings_router,
        ratings_pages,
        listening_router,
        incidents_router,
        listening_feeds_router,
        clock_router,
        pages_router,
    ):
        app.include_router(router)
    from cuida.web.admin_page import router as admin_page_router
    from cuida.web.board import router as board_router
    from cuida.web.customers_page import router as customers_page_router
    from cuida.web.listening_page import router as listening_page_router
    from cuida.web.profile_page import router as profile_page_router

    # The lead's board, customers, profile and admin pages.
    for page_router in (
        board_router,
        listening_page_router,
        customers_page_router,
        profile_page_router,
        admin_page_router,
    ):
        app.include_router(page_router)
    from cuida.web.conversation_page import router as conversation_page_router

    app.include_router(conversation_page_router)  # the conversation screen (UI-2)
    from cuida.web.assets import router as assets_router
    from cuida.web.inbox import router as inbox_router

    app.include_router(assets_router)  # /static/ (our css/js and htmx from its wheel)
    app.include_router(inbox_router)  # the inbox (UI-1)
    app.add_middleware(errors.BodyLimit, limit=settings.max_body_bytes)
    return app
