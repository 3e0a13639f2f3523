"""Every setting Cuida reads, from `CUIDA_*` environment variables (or a `.env` file).

One object for all commands, so `serve`, `worker`, `migrate` and `demo` can never disagree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """A setting is invalid; the message says which and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUIDA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the embedded database, the embedded queue and attachments.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Empty: SQLite file `cuida.sqlite3` in the data folder. "
        "PostgreSQL: postgresql://user@host/db.",
    )
    redis_url: str | None = Field(
        default=None,
        description="When set, the work queue lives in Redis (RedisHuey) and any number of "
        "`cuida worker` processes may consume it. Empty: an SQLite queue file in the data folder.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies. Empty: a random key kept in the data folder.",
    )
    host: str = Field(default="127.0.0.1", description="Address `cuida serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `cuida serve` listens on.")
    base_url: str | None = Field(default=None, description="Public URL, for links in emails.")
    secure_cookies: bool = Field(
        default=False, description="Mark session cookies Secure (set when served over HTTPS)."
    )
    worker_threads: int = Field(default=2, ge=1, le=64, description="Job threads per process.")
    in_process_worker: bool = Field(
        default=True, description="`cuida serve` also runs the job consumers in its own process."
    )
    lease_seconds: int = Field(
        default=60, ge=5, description="How long a worker owns a job before it counts as lost."
    )
    reconcile_seconds: float = Field(
        default=10.0, gt=0, description="How often the reconciler looks for stale or due work."
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    max_text_chars: int = Field(
        default=1_000_000, ge=1000, description="Longest message text accepted (422 above)."
    )
    max_batch: int = Field(default=1000, ge=1, description="Most messages in one batch request.")
    manual_clock: bool = Field(
        default=False,
        description="Make 'now' controllable by an admin (replays and tests). Refused on "
        "PostgreSQL unless `manual_clock_force` is set too.",
    )
    manual_clock_force: bool = Field(default=False, description="Allow the manual clock on PostgreSQL.")
    delivery_max_attempts: int = Field(default=8, ge=1, description="Send attempts before a reply fails.")
    csat_delay_minutes: int = Field(
        default=60,
        ge=0,
        description="Minutes after a conversation is resolved before its satisfaction survey (CSAT) is "
        "sent; reopening it before then cancels the survey.",
    )
    csat_answer_days: int = Field(
        default=7, ge=1, description="Days a survey's link and a 1-5 reply are accepted (and may be changed)."
    )
    csat_repeat_days: int = Field(
        default=30,
        ge=0,
        description="A conversation resolved again within this many days gets no second survey.",
    )
    listening_alert_reshares: int = Field(
        default=100,
        ge=1,
        description="Crisis alert when a mention's forecast final reshares (level crisis) or the top of its 80% "
        "interval (level watch) reaches this.",
    )
    listening_alert_views: int = Field(
        default=20_000,
        ge=1,
        description="The same line for mentions whose source gives views but no reshares (videos).",
    )
    listening_alert_other: int = Field(
        default=1_000,
        ge=1,
        description="The same line for mentions with neither reshares nor views (likes, replies...).",
    )
    listening_alert_risk: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Crisis alert (level watch) when a mention's reputation-risk score reaches this.",
    )
    listening_alert_escalate_minutes: int = Field(
        default=15,
        ge=1,
        description="A crisis alert nobody acknowledged within this many minutes is escalated to the managers.",
    )
    listening_alert_on_duty: str = Field(
        default="",
        description="Addresses that receive every crisis alert by email besides the agents it names "
        "(comma-separated: an on-call mailbox, a pager gateway).",
    )
    listening_alert_email_account: int | None = Field(
        default=None,
        description="Id of the email channel account that sends crisis alerts (unset: the first enabled "
        "email account with an SMTP server).",
    )
    listening_reach_followers: int = Field(
        default=10_000,
        ge=1,
        description="Author followers that weigh like a forecast at the alert line in the reputation-risk score.",
    )
    listening_spike_alerts: bool = Field(
        default=True,
        description="Check the brand's hourly mention volume for spikes (an hourly timer while mentions arrive).",
    )
    listening_incident_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="Mentions posted within this many days of each other may be grouped into one incident.",
    )
    listening_incident_similarity: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Two mentions with at least this Jaccard similarity of their stemmed words (and at least "
        "four words each) are about the same thing.",
    )
    listening_brand_hashtags: str = Field(
        default="",
        description="The brand's own hashtags, comma-separated (without #): they are in most mentions, so "
        "sharing one does not put two mentions in the same incident.",
    )
    listening_feeds_private: bool = Field(
        default=False,
        description="Allow listening feeds on addresses inside the network (loopback, private, "
        "link-local): off, so a feed address cannot make the hub read from behind its firewall.",
    )
    listening_feed_minutes: int = Field(
        default=30,
        ge=1,
        le=7 * 24 * 60,
        description="Default minutes between two polls of a brand listening feed (each feed may set its own).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url", "redis_url", "secret_key", "base_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = urlsplit(value).scheme.split("+")[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError(
                f"unsupported database {scheme or value!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
            )
        if scheme == "postgres":
            value = "postgresql" + value[len("postgres") :]
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must look like redis://HOST:PORT/DB")
        return value

    @model_validator(mode="after")
    def _manual_clock_only_where_safe(self) -> Settings:
        if self.manual_clock and self.is_postgres and not self.manual_clock_force:
            raise ValueError(
                "CUIDA_MANUAL_CLOCK is refused on PostgreSQL (a production database); "
                "set CUIDA_MANUAL_CLOCK_FORCE=1 as well if you really mean it"
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'cuida.sqlite3').resolve()}"

    @property
    def is_postgres(self) -> bool:
        return (self.database_url or "").startswith("postgresql")

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.sqlite3"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one readable SettingsError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"CUIDA_{field.upper()}" if err["loc"] else "settings"
            lines.append(f"{env}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
