"""Settings of a Telegram bot account (config JSON of a channel account of kind "telegram")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(
        default="https://api.telegram.org",
        max_length=300,
        description="Bot API server; another one only for a local Bot API server or tests.",
    )
    mode: Literal["polling", "webhook"] = Field(
        default="polling",
        description="polling: the hub calls getUpdates; webhook: Telegram posts to "
        "/api/v1/channels/telegram/{account_id}/webhook (Telegram allows only one of the two at a time).",
    )
    poll_seconds: float = Field(default=2, ge=0.5, le=3600, description="Pause between two polls.")
    long_poll_seconds: int = Field(
        default=25, ge=0, le=50, description="How long getUpdates waits for an update before answering empty."
    )
    batch: int = Field(default=100, ge=1, le=100, description="Updates fetched and stored per transaction.")
    rounds: int = Field(default=20, ge=1, le=1000, description="getUpdates calls per poll at most.")
    timeout_seconds: float = Field(default=30, ge=1, le=600, description="HTTP timeout beyond the long poll.")


# bot_token: from @BotFather. webhook_secret: the secret_token given to setWebhook, which Telegram
# sends back in X-Telegram-Bot-Api-Secret-Token; the webhook refuses every delivery without it.
SECRETS = ("bot_token", "webhook_secret")
