"""JSON routes of the contactability domain: the answer, opt-outs, the query log, webhooks."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from cuida.common.errors import NotFound
from cuida.contactability import service, webhooks
from cuida.contactability.models import ContactPreference
from cuida.contactability.schemas import (
    Answer,
    PreferenceChange,
    PreferenceRead,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookRead,
    WebhookUpdate,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["contactability"])

# Marketing tools should get a token with only "contactability:read" once that scope exists;
# until then the answer needs "customers:read".
READ_SCOPE = "contactability:read"


@router.get(
    "/contactability",
    response_model=Answer,
    responses={404: {"description": "No customer has this identity: Cuida cannot answer for them."}},
)
def contactability(
    purpose: str = Query(description="marketing, sales or service"),
    identity: str | None = Query(
        default=None,
        max_length=400,
        description="<channel>:<value>, normalised like ingest: phone:612345678, phone:+34 612 345 678 and "
        "phone:0034612345678 are the same; email:Ana@X.es; twitter:@handle.",
    ),
    customer_id: int | None = Query(default=None, description="Instead of identity."),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(READ_SCOPE)),
) -> Answer:
    """May this customer be contacted for `purpose` now? If not: why, and until when. Every question
    is logged with who asked it and the answer given."""
    try:
        with runtime.db.session() as session:
            return service.ask(
                session=session,
                purpose=purpose,
                principal=principal.actor,
                identity=identity,
                customer_id=customer_id,
            )
    except NotFound:
        with runtime.db.session() as session:
            service.log_unanswered(
                session=session,
                purpose=purpose,
                principal=principal.actor,
                identity=identity,
                customer_id=customer_id,
            )
        raise


class QueryRead(BaseModel):
    id: int
    at: datetime
    principal_type: str
    principal_id: int | None
    principal_name: str | None
    identity: str | None
    customer_id: int | None
    purpose: str
    contactable: bool | None
    reasons: list[str]
    until: datetime | None

    model_config = {"from_attributes": True}


@router.get("/contactability/queries", response_model=list[QueryRead])
def queries(
    customer_id: int,
    limit: int = Query(100, ge=1, le=1000),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(READ_SCOPE)),
) -> list[QueryRead]:
    """Who asked about this customer, when, and what they were told (newest first)."""
    with runtime.db.sessions() as session:
        rows = service.queries_of(session=session, customer_id=customer_id, limit=limit)
        return [QueryRead.model_validate(r) for r in rows]


def _preference(row: ContactPreference) -> PreferenceRead:
    return PreferenceRead(
        customer_id=row.customer_id,
        purpose=row.purpose,
        opted_out=row.opted_out_at is not None,
        opted_out_at=row.opted_out_at,
        opted_in_at=row.opted_in_at,
        source=row.source,
        updated_at=row.updated_at,
    )


def _change(
    runtime: Runtime, principal: Principal, data: PreferenceChange, opted_out: bool
) -> PreferenceRead:
    with runtime.db.session() as session:
        row = service.set_preference(
            session=session,
            purpose=data.purpose,
            opted_out=opted_out,
            source=data.source,
            actor=principal.actor,
            customer_id=data.customer_id,
            identity=data.identity,
        )
        return _preference(row)


@router.post("/contactability/opt-out", response_model=PreferenceRead)
def opt_out(
    data: PreferenceChange,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:write")),
) -> PreferenceRead:
    """Record that the customer does not want `purpose` contacts ("all": not even about their cases)."""
    return _change(runtime, principal, data, True)


@router.post("/contactability/opt-in", response_model=PreferenceRead)
def opt_in(
    data: PreferenceChange,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:write")),
) -> PreferenceRead:
    return _change(runtime, principal, data, False)


@router.get("/contactability/preferences", response_model=list[PreferenceRead])
def preferences(
    customer_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(READ_SCOPE)),
) -> list[PreferenceRead]:
    with runtime.db.sessions() as session:
        return [_preference(r) for r in service.preferences_of(session=session, customer_id=customer_id)]


# --- webhooks (admin) ----------------------------------------------------------------------------


@router.get("/webhooks", response_model=list[WebhookRead], tags=["admin"])
def list_webhooks(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> list[WebhookRead]:
    with runtime.db.sessions() as session:
        return [WebhookRead.model_validate(w) for w in webhooks.list_subscriptions(session=session)]


@router.post("/webhooks", response_model=WebhookCreated, status_code=201, tags=["admin"])
def create_webhook(
    data: WebhookCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> WebhookCreated:
    """Subscribe a URL. Each POST carries `X-Cuida-Signature: sha256=<HMAC-SHA256 of the body with the
    secret>`, `X-Cuida-Delivery: <id>` (the same id on every retry: drop repeats) and `X-Cuida-Event`."""
    with runtime.db.session() as session:
        row, secret = webhooks.create_subscription(session=session, data=data, actor=principal.actor)
        return WebhookCreated(**WebhookRead.model_validate(row).model_dump(), secret=secret)


@router.get("/webhooks/{subscription_id}", response_model=WebhookRead, tags=["admin"])
def get_webhook(
    subscription_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> WebhookRead:
    with runtime.db.sessions() as session:
        return WebhookRead.model_validate(
            webhooks.get_subscription(session=session, subscription_id=subscription_id)
        )


@router.patch("/webhooks/{subscription_id}", response_model=WebhookRead, tags=["admin"])
def update_webhook(
    subscription_id: int,
    data: WebhookUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> WebhookRead:
    """Change it; `active: false` holds its deliveries, `active: true` sends what was held."""
    with runtime.db.session() as session:
        row = webhooks.update_subscription(
            session=session, subscription_id=subscription_id, data=data, actor=principal.actor
        )
        return WebhookRead.model_validate(row)


@router.get(
    "/webhooks/{subscription_id}/deliveries", response_model=list[WebhookDeliveryRead], tags=["admin"]
)
def webhook_deliveries(
    subscription_id: int,
    limit: int = Query(100, ge=1, le=1000),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> list[WebhookDeliveryRead]:
    with runtime.db.sessions() as session:
        rows = webhooks.deliveries_of(session=session, subscription_id=subscription_id, limit=limit)
        return [WebhookDeliveryRead.model_validate(r) for r in rows]


@router.post("/webhooks/deliveries/{delivery_id}/retry", response_model=WebhookDeliveryRead, tags=["admin"])
def retry_webhook_delivery(
    delivery_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> WebhookDeliveryRead:
    with runtime.db.session() as session:
        row = webhooks.retry_delivery(session=session, delivery_id=delivery_id, actor=principal.actor)
        return WebhookDeliveryRead.model_validate(row)
