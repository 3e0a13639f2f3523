"""The channels Cuida knows. Messages on any other channel name are refused."""

from __future__ import annotations

CHANNELS: dict[str, str] = {
    "email": "Email",
    "webchat": "Web chat",
    "webform": "Web form",
    "webhook": "Webhook",
    "phone": "Phone call",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "twitter": "X / Twitter",
    "instagram": "Instagram",
    "facebook": "Facebook",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "linkedin": "LinkedIn",
    "review": "Review site",
    "feed": "Blog / news feed",
    "store": "Shop visit",
    "workshop": "Workshop",
    "api": "API",
    "import": "Import",
}


def check_channel(name: str) -> str:
    if name not in CHANNELS:
        known = ", ".join(sorted(CHANNELS))
        raise ValueError(f"unknown channel {name!r}; known channels: {known}")
    return name
