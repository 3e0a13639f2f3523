"""The one small interface every channel adapter implements for sending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboundMessage:
    delivery_id: int  # also the idempotency key a provider should see
    channel: str
    recipient: str | None
    text: str
    public: bool
    in_reply_to: str | None


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    provider_id: str | None = None
    error: str | None = None
    retry: bool = True  # False: the provider refused for good; do not try again
    # Seconds the provider asked us to wait before trying again (a rate limit); the backoff is
    # never shorter than this.
    retry_after: float | None = None


class ChannelAdapter(Protocol):
    name: str

    def send(self, message: OutboundMessage) -> DeliveryResult: ...


class RecordOnlyAdapter:
    """For channels without a configured sender (phone and shop notes, or an adapter not set
    up yet): the reply is recorded on the timeline and marked sent by hand elsewhere."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: OutboundMessage) -> DeliveryResult:
        return DeliveryResult(ok=True, provider_id=f"recorded:{message.delivery_id}")


class AdapterRegistry:
    def __init__(self) -> None:
        self._adapters: dict[str, ChannelAdapter] = {}

    def register(self, adapter: ChannelAdapter) -> None:
        self._adapters[adapter.name] = adapter

    def for_channel(self, channel: str) -> ChannelAdapter:
        return self._adapters.get(channel) or RecordOnlyAdapter(channel)
