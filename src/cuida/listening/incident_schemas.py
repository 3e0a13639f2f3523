"""Incident shapes for the API: an incident, its timeline and people, the coordinated answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cuida.common.text import SafeStr
from cuida.listening.schemas import MentionRead, SnapshotRead


class IncidentForecast(BaseModel):
    metric: str | None
    final: float
    low: float | None
    high: float | None
    model: str | None
    mention_id: int | None = Field(description="The leading mention the forecast is of.")


class IncidentRead(BaseModel):
    id: int
    title: str
    status: Literal["open", "closed"]
    first_seen: datetime
    last_seen: datetime
    mention_count: int
    grouped_by: list[str] = Field(description="How its mentions came together: link, hashtag, reply...")
    lead_mention_id: int | None
    forecast: IncidentForecast | None
    metric: str | None
    reach: int = Field(description="The sum of its mentions' latest counts of `metric`.")
    peak_reach: int
    final_reach: int | None = Field(description="The reach when it was closed.")
    public_answer: str | None
    answer_message_id: int | None
    answered_at: datetime | None
    answered_by_name: str | None
    closed_at: datetime | None
    closed_by_name: str | None
    created_at: datetime
    updated_at: datetime


class TimelineItem(BaseModel):
    at: datetime
    kind: Literal["mention", "snapshot", "answer", "closed"]
    mention_id: int | None = None
    joined_by: str | None = Field(default=None, description="For a mention: why it is in this incident.")
    author: str | None = None
    text: str | None = None
    counts: dict[str, int] | None = None
    by: str | None = None


class InvolvedCustomer(BaseModel):
    id: int
    name: str | None


class InvolvedConversation(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    channel: str
    status: str
    subject: str | None
    is_public: bool
    team_id: int | None


class IncidentDetail(IncidentRead):
    timeline: list[TimelineItem]
    mentions: list[MentionRead]
    snapshots: list[SnapshotRead]
    customers: list[InvolvedCustomer]
    conversations: list[InvolvedConversation] = Field(
        description="The public threads and private cases of its mentions that the caller may see."
    )


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: SafeStr = Field(
        min_length=1,
        max_length=5000,
        description="The public answer, posted in the leading mention's thread.",
    )
    follow_up: SafeStr | None = Field(
        default=None, max_length=5000, description="Added to each customer's private follow-up note."
    )


class FollowUpRead(BaseModel):
    customer_id: int
    conversation_id: int
    note_id: int
    opened: bool = Field(description="True when a private conversation was opened for the follow-up.")


class AnswerResult(BaseModel):
    incident: IncidentRead
    reply_message_id: int | None
    follow_ups: list[FollowUpRead]
    skipped_customers: list[int] = Field(
        description="Authors known only by their public posts: answered in public, no private follow-up."
    )
