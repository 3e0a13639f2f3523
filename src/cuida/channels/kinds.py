"""The kinds of channel account and what each brings: its settings, the names of its secrets,
an inbound poller and an outbound adapter. Adapters register here; the accounts service and
the workers only ever look kinds up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from cuida.channels.base import ChannelAdapter
    from cuida.channels.schemas import PollAnswer
    from cuida.runtime import Runtime


@dataclass(frozen=True)
class Kind:
    name: str
    config: type[BaseModel]
    secrets: tuple[str, ...] = ()
    # poll(runtime, account_id) -> what it did; None for kinds that only receive pushes.
    poll: Callable[[Runtime, int], PollAnswer] | None = None
    # adapter(runtime) -> the sender for this channel; None for receive-only kinds.
    adapter: Callable[[Runtime], ChannelAdapter] | None = None


_KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    _KINDS[kind.name] = kind
    return kind


def kinds() -> dict[str, Kind]:
    # Importing the adapters registers them; done lazily so this module stays import-cycle free.
    import cuida.channels.mail  # noqa: F401

    return _KINDS
