"""Listening shapes for the API: engagement snapshots in, mentions, risk and crisis alerts out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from cuida.common.text import SafeStr

MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Count = Annotated[int, Field(ge=0, le=10**12)]


class SnapshotIn(BaseModel):
    """Cumulative engagement of a mention at one moment; give whatever the source reports."""

    model_config = ConfigDict(extra="forbid")
    observed_at: datetime | None = Field(
        default=None, description="When the counts were read (with offset); defaults to now."
    )
    reshares: Count | None = Field(default=None, description="Retweets, shares, reposts.")
    replies: Count | None = None
    likes: Count | None = None
    views: Count | None = None
    counts: dict[MetricName, Count] = Field(
        default_factory=dict, description="Any other counts the source gives, by name (lower case)."
    )

    @field_validator("observed_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give observed_at with its offset, e.g. 2027-03-31T12:00:00+02:00")
        return value

    @model_validator(mode="after")
    def _some_count(self) -> SnapshotIn:
        if not self.all_counts():
            raise ValueError("give at least one count: reshares, replies, likes, views or counts")
        return self

    def all_counts(self) -> dict[str, int]:
        named = {"reshares": self.reshares, "replies": self.replies, "likes": self.likes, "views": self.views}
        return {**self.counts, **{k: v for k, v in named.items() if v is not None}}


class SnapshotByExternalId(SnapshotIn):
    """A snapshot for the mention of the message (channel, external_id) the source knows it by."""

    channel: str = Field(min_length=1, max_length=32)
    external_id: SafeStr = Field(min_length=1, max_length=300)


class BulkSnapshotItem(SnapshotIn):
    """One item of a bulk upload: the mention by id, or by (channel, external_id)."""

    mention_id: int | None = None
    channel: str | None = Field(default=None, max_length=32)
    external_id: SafeStr | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _one_target(self) -> BulkSnapshotItem:
        by_external = self.channel is not None or self.external_id is not None
        if (self.mention_id is None) == (not by_external) or (
            by_external and (self.channel is None or self.external_id is None)
        ):
            raise ValueError("give mention_id, or channel and external_id (not both)")
        return self


class BulkSnapshots(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[BulkSnapshotItem] = Field(min_length=1, max_length=1000)


class ForecastRead(BaseModel):
    metric: str
    final: float
    low: float
    high: float
    model: str
    made_at: datetime
    observed: int


class MentionRead(BaseModel):
    id: int
    message_id: int
    channel: str
    customer_id: int | None
    conversation_id: int | None
    case_id: int | None
    author: str | None
    author_followers: int | None
    url: str | None
    text: str
    triage: dict[str, Any]
    posted_at: datetime
    metric: str | None
    counts: dict[str, int]
    snapshot_count: int
    last_snapshot_at: datetime | None
    forecast: ForecastRead | None
    risk_score: float
    risk_reasons: list[str]
    created_at: datetime


class SnapshotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    mention_id: int
    observed_at: datetime
    counts: dict[str, int]


class SnapshotResult(BaseModel):
    snapshot: SnapshotRead
    created: bool = Field(description="False when the same reading was already stored (a retry).")
    mention: MentionRead
    alert_id: int | None = Field(
        default=None, description="The crisis alert this mention is part of, if any."
    )


class MentionDetail(MentionRead):
    snapshots: list[SnapshotRead]


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    kind: str
    level: int
    level_name: Literal["watch", "crisis"]
    status: str
    mention_id: int | None
    conversation_id: int | None
    customer_id: int | None
    reasons: list[str]
    details: dict[str, Any]
    notified: list[int]
    escalation_level: int
    raised_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_agent_id: int | None
    acknowledged_by_name: str | None


class ConversationRisk(BaseModel):
    conversation_id: int
    risk_score: float
    reasons: list[str] = Field(description="Why, from the riskiest mention of this conversation.")
    mentions: list[MentionRead]
