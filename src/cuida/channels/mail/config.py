"""Settings of an email account (config JSON of a channel account of kind "email")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Security = Literal["ssl", "starttls", "none"]


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(max_length=320, description="The mailbox's address; replies are sent from it.")
    display_name: str | None = Field(default=None, max_length=200, description="Name shown in From.")
    imap_host: str | None = Field(default=None, max_length=300, description="Leave empty to only send.")
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: Security = Field(default="ssl", description="'none' only for a server on this host.")
    imap_user: str | None = Field(default=None, max_length=320, description="Defaults to the address.")
    mailboxes: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1, max_length=20)
    poll_seconds: float = Field(default=60, ge=1, le=86400)
    idle: bool = Field(
        default=True,
        description="Keep an IMAP IDLE connection so new mail is fetched within seconds (where the server "
        "offers IDLE); polling goes on at its interval either way.",
    )
    batch: int = Field(default=50, ge=1, le=1000, description="Messages fetched and stored per transaction.")
    smtp_host: str | None = Field(default=None, max_length=300, description="Leave empty to only receive.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Security = "starttls"
    smtp_user: str | None = Field(default=None, max_length=320)
    message_id_domain: str | None = Field(
        default=None,
        max_length=253,
        description="Right side of our Message-IDs; the address's domain if empty.",
    )
    timeout_seconds: float = Field(default=60, ge=1, le=600)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        local, at, domain = value.strip().rpartition("@")
        if not at or not local or "." not in domain and domain != "localhost":
            raise ValueError("must be an email address, e.g. ayuda@example.com")
        return value.strip()

    @property
    def id_domain(self) -> str:
        return self.message_id_domain or self.address.rpartition("@")[2]


SECRETS = ("imap_password", "smtp_password")
