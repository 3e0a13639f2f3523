"""Settings of a WhatsApp Cloud API number (config JSON of a channel account of kind "whatsapp")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WhatsAppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone_number_id: str = Field(
        pattern=r"^[0-9]{1,30}$", description="The business number's id in the Cloud API (not the number)."
    )
    api_version: str = Field(
        default="v21.0", pattern=r"^v[0-9]{1,3}\.[0-9]{1,3}$", description="Graph API version."
    )
    base_url: str = Field(
        default="https://graph.facebook.com",
        max_length=300,
        description="Graph API server; another one for tests.",
    )
    timeout_seconds: float = Field(default=30, ge=1, le=600)


# access_token: a system user's token with whatsapp_business_messaging. app_secret: signs each
# webhook (X-Hub-Signature-256). verify_token: what we answer Meta's subscription check with.
SECRETS = ("access_token", "app_secret", "verify_token")
