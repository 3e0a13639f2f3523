"""Routes of the ratings domain: the customer's public rating page and JSON answer (the token in
the link is the only credential), and the agents' lists and CSAT report (`ratings:read`).

The page needs no CSRF token: it carries no cookie or session, so a forged request from another
site could only do what the link's holder can do anyway. It answers with no-store, no-referrer
(the token must not leak to other sites) and no framing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from cuida.common.errors import Invalid, NotFound
from cuida.ratings import service
from cuida.ratings.schemas import (
    COMMENT_MAX,
    AnswerReceipt,
    CsatReport,
    RatingAnswer,
    RatingRead,
    RatingRequestRead,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require
from cuida.web.i18n import pick_language

router = APIRouter(prefix="/api/v1", tags=["ratings"])
pages = APIRouter(include_in_schema=False)
# Autoescape is on for .html: the customer's comment is shown back to them escaped.
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "web" / "templates"))

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
}

STRINGS: dict[str, dict[str, str]] = {
    "es": {
        "title": "Valora nuestra atención",
        "question": "¿Cómo valorarías la atención que recibiste, de 1 (muy mal) a 5 (muy bien)?",
        "score.1": "Muy mal",
        "score.2": "Mal",
        "score.3": "Regular",
        "score.4": "Bien",
        "score.5": "Muy bien",
        "comment": "¿Quieres contarnos algo más? (opcional)",
        "submit": "Enviar valoración",
        "thanks": "¡Gracias! Hemos recibido tu valoración.",
        "yours": "Tu valoración",
        "change": "Puedes cambiarla hasta el {until}.",
        "invalid": "Este enlace de valoración no es válido. Comprueba que lo has copiado entero desde "
        "el mensaje que te enviamos.",
        "expired": "El plazo para valorar esta consulta terminó el {until}. Gracias de todos modos.",
        "bad_score": "Elige una puntuación del 1 al 5.",
        "too_long": "El comentario es demasiado largo (máximo {max} caracteres).",
    },
    "en": {
        "title": "Rate our help",
        "question": "How would you rate the help you received, from 1 (very poor) to 5 (very good)?",
        "score.1": "Very poor",
        "score.2": "Poor",
        "score.3": "Fair",
        "score.4": "Good",
        "score.5": "Very good",
        "comment": "Anything else you would like to tell us? (optional)",
        "submit": "Send rating",
        "thanks": "Thank you! We have received your rating.",
        "yours": "Your rating",
        "change": "You can change it until {until}.",
        "invalid": "This rating link is not valid. Check that you copied all of it from the message we "
        "sent you.",
        "expired": "Rating this request closed on {until}. Thank you all the same.",
        "bad_score": "Choose a score from 1 to 5.",
        "too_long": "The comment is too long (at most {max} characters).",
    },
}


def _t(language: str) -> Any:
    table = STRINGS.get(language, STRINGS["es"])

    def t(key: str, **values: object) -> str:
        return table[key].format(**values)

    return t


def _page(request: Request, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    values = {
        "lang": language,
        "t": _t(language),
        "state": "form",
        "error": None,
        "rating": None,
        "until": None,
        "comment_max": COMMENT_MAX,
        **context,
    }
    return templates.TemplateResponse(request, "rate.html", values, status_code=status, headers=PAGE_HEADERS)


def _day(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else ""


@pages.get("/rate/{token}", response_class=HTMLResponse)
def rating_page(token: str, request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    """The survey's page: 1–5 and a comment, in the language the survey was sent in."""
    visitor_language = pick_language(request.headers.get("accept-language"))
    with runtime.db.sessions() as session:
        try:
            survey = service.request_for_token(session=session, token=token)
        except NotFound:
            return _page(request, visitor_language, 404, state="invalid")
        language = survey.language
        until = _day(survey.expires_at)
        try:
            service.check_open(session=session, request=survey)
        except service.LinkExpired:
            return _page(request, language, 410, state="expired", until=until)
        rating = service.rating_of(session=session, request_id=survey.id)
        return _page(request, language, rating=rating, until=until)


@pages.post("/rate/{token}", response_class=HTMLResponse)
def rating_submit(
    token: str,
    request: Request,
    score: str = Form(""),
    comment: str = Form(""),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    visitor_language = pick_language(request.headers.get("accept-language"))
    language = visitor_language
    until = ""
    try:
        with runtime.db.session() as session:
            survey = service.request_for_token(session=session, token=token, for_update=True)
            language, until = survey.language, _day(survey.expires_at)
            if not score.strip().isdigit():
                raise Invalid("the score must be a whole number from 1 to 5", field="score")
            rating = service.answer(
                session=session, request=survey, score=int(score.strip()), comment=comment, via="web"
            )
            shown = {"score": rating.score, "comment": rating.comment}
    except NotFound:
        return _page(request, visitor_language, 404, state="invalid")
    except service.LinkExpired:
        return _page(request, language, 410, state="expired", until=until)
    except Invalid as exc:
        t = _t(language)
        error = t("too_long", max=COMMENT_MAX) if exc.field == "comment" else t("bad_score")
        entered = {"score": None, "comment": comment[:COMMENT_MAX]}
        return _page(request, language, 422, error=error, rating=entered, until=until)
    return _page(request, language, state="thanks", rating=shown, until=until)


@router.post("/ratings/{token}", response_model=AnswerReceipt)
def answer_survey(token: str, data: RatingAnswer, runtime: Runtime = Depends(get_runtime)) -> AnswerReceipt:
    """Answer a survey with the token from its link (no other credential); answering again before
    the survey closes changes the answer."""
    with runtime.db.session() as session:
        survey = service.request_for_token(session=session, token=token, for_update=True)
        rating = service.answer(
            session=session, request=survey, score=data.score, comment=data.comment, via="api"
        )
        return AnswerReceipt(
            score=rating.score,
            comment=rating.comment,
            answered_at=rating.answered_at,
            changeable_until=survey.expires_at,
        )


@router.get("/ratings", response_model=list[RatingRead])
def list_ratings(
    conversation_id: int | None = Query(None),
    customer_id: int | None = Query(None, description="Merged profiles' ratings come with the survivor's."),
    limit: int = Query(100, ge=1, le=500),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("ratings:read")),
) -> list[RatingRead]:
    """Answers, newest first."""
    with runtime.db.sessions() as session:
        rows = service.list_ratings(
            session=session, conversation_id=conversation_id, customer_id=customer_id, limit=limit
        )
        return [RatingRead.model_validate(r) for r in rows]


@router.get("/conversations/{conversation_id}/ratings", response_model=list[RatingRequestRead])
def conversation_ratings(
    conversation_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("ratings:read")),
) -> list[RatingRequestRead]:
    """The conversation's surveys (scheduled, sent, answered, cancelled), each with its answer."""
    with runtime.db.sessions() as session:
        items = []
        for survey, rating in service.requests_of(session=session, conversation_id=conversation_id):
            item = RatingRequestRead.model_validate(survey)
            item.rating = RatingRead.model_validate(rating) if rating is not None else None
            items.append(item)
        return items


@router.get("/reports/csat", response_model=CsatReport, response_model_by_alias=True)
def csat_report(
    from_: datetime | None = Query(None, alias="from", description="Default: 30 days before 'to'."),
    to: datetime | None = Query(None, description="Exclusive; default: now."),
    team_id: int | None = Query(None, description="Only cases of this team (when they were resolved)."),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("ratings:read")),
) -> CsatReport:
    """Surveys sent in [from, to): answers, average, share satisfied (4–5), distribution and
    response rate; `definitions` says how each figure is counted."""
    with runtime.db.sessions() as session:
        return service.csat_report(session=session, start=from_, end=to, team_id=team_id)
