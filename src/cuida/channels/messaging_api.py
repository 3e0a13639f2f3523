"""Public endpoints the messaging providers call: the Telegram bot webhook and the WhatsApp Cloud
API webhook (GET subscription check, POST notifications). They carry no bearer token: Telegram
proves itself with the secret token, Meta with the body's signature; a wrong one is 401, logged
as `channel.webhook_rejected`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from cuida.channels.telegram import inbound as telegram
from cuida.channels.whatsapp import inbound as whatsapp
from cuida.runtime import Runtime
from cuida.web.deps import get_runtime

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/telegram/{account_id}/webhook",
    summary="Receive a Telegram bot update (setWebhook with secret_token)",
    responses={401: {"description": "Missing or wrong X-Telegram-Bot-Api-Secret-Token."}},
)
async def telegram_webhook(
    account_id: int, request: Request, runtime: Runtime = Depends(get_runtime)
) -> JSONResponse:
    """One update per request, as Telegram sends them. Answered 200 once stored (an update that
    cannot be read is quarantined and answered 200 too, so Telegram does not send it forever)."""
    body = await request.body()
    answer = await run_in_threadpool(
        telegram.receive_webhook,
        runtime,
        account_id=account_id,
        secret_token=request.headers.get(telegram.SECRET_HEADER),
        body=body,
        remote=_remote(request),
    )
    return JSONResponse(answer.body, status_code=answer.status_code)


@router.get(
    "/whatsapp/{account_id}/webhook",
    response_class=PlainTextResponse,
    summary="WhatsApp webhook subscription check",
    responses={403: {"description": "hub.verify_token is not the account's verify_token."}},
)
async def whatsapp_verify(
    account_id: int,
    request: Request,
    mode: str | None = Query(None, alias="hub.mode"),
    verify_token: str | None = Query(None, alias="hub.verify_token"),
    challenge: str | None = Query(None, alias="hub.challenge", max_length=200),
    runtime: Runtime = Depends(get_runtime),
) -> PlainTextResponse:
    answer = await run_in_threadpool(
        whatsapp.verify_subscription,
        runtime,
        account_id=account_id,
        mode=mode,
        token=verify_token,
        challenge=challenge,
    )
    return PlainTextResponse(answer)


@router.post(
    "/whatsapp/{account_id}/webhook",
    summary="Receive WhatsApp Cloud API notifications (messages and statuses)",
    responses={401: {"description": "Missing or wrong X-Hub-Signature-256."}},
)
async def whatsapp_webhook(
    account_id: int, request: Request, runtime: Runtime = Depends(get_runtime)
) -> JSONResponse:
    body = await request.body()
    answer: Any = await run_in_threadpool(
        whatsapp.receive_webhook,
        runtime,
        account_id=account_id,
        signature_header=request.headers.get(whatsapp.SIGNATURE_HEADER),
        body=body,
        remote=_remote(request),
    )
    return JSONResponse(answer.body, status_code=answer.status_code)
