"""The result of triage, as stored on each message and returned by the API.

Integrations and evaluation scripts rely on these field names; change them only with a new
`version`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

LANGUAGES = ("es", "en", "pt", "ca", "other")
SENTIMENTS = ("negative", "neutral", "positive")
INTENTS = (
    "question",
    "complaint",
    "praise",
    "request",
    "off_topic",
    "churn_threat",
    "legal_threat",
    "public_escalation_threat",
    "escalation_request",
)
REQUEST_KINDS = ("refund", "replacement", "repair", "cancellation", "appointment", "information", "other")
TOXICITY = ("insult", "threat", "profanity")
EMOTIONS = ("anger", "sadness", "joy", "fear")
URGENCIES = ("low", "normal", "high")
ENTITY_TYPES = (
    "person",
    "order_number",
    "booking_reference",
    "ticket_number",
    "invoice_number",
    "product_number",
    "amount",
    "date",
    "phone",
    "email",
    "flight_number",
    "url",
)


class Sentiment(BaseModel):
    label: Literal["negative", "neutral", "positive"]
    scores: dict[str, float] = Field(description="Probability of each label; they sum to 1.")


class Complaint(BaseModel):
    label: bool
    probability: float


class Urgency(BaseModel):
    label: Literal["low", "normal", "high"]
    reasons: list[str] = Field(default_factory=list, description="What set the urgency, in words.")


class Toxicity(BaseModel):
    insult: float = Field(description="Abuse aimed at a person (the agent, the company's staff).")
    threat: float = Field(description="Threat of violence or harm.")
    profanity: float = Field(description="Swearing not aimed at anyone ('joder, otra vez sin luz').")


class Entity(BaseModel):
    type: str = Field(description="One of ENTITY_TYPES.")
    text: str = Field(description="The span as written.")
    start: int = Field(description="Offset of the first character in the analysed text.")
    end: int = Field(description="Offset after the last character.")
    value: str | float | None = Field(
        default=None,
        description="Normalised value: E.164 phone, lower-case email, ISO date, amount as a number, "
        "reference without spaces.",
    )
    currency: str | None = Field(default=None, description="ISO 4217 code for amounts.")


class Analysis(BaseModel):
    version: str = "2"
    language: str = Field(description="es, en, pt, ca or other")
    language_scores: dict[str, float] = Field(default_factory=dict)
    sentiment: Sentiment
    complaint: Complaint
    intents: dict[str, float] = Field(description="Probability of every intent in INTENTS.")
    request_kind: str | None = Field(default=None, description="For a request: refund, replacement, ...")
    toxicity: Toxicity
    urgency: Urgency
    emotion: dict[str, float] = Field(description="Probability of anger, sadness, joy and fear.")
    entities: list[Entity] = Field(default_factory=list)
    reasons: dict[str, list[str]] = Field(
        default_factory=dict, description="For each label, the words or features that drove it."
    )

    def has_intent(self, name: str, threshold: float = 0.5) -> bool:
        return self.intents.get(name, 0.0) >= threshold
