"""UI strings in Spanish (default) and English."""

from __future__ import annotations

from collections.abc import Callable

STRINGS: dict[str, dict[str, str]] = {
    "es": {
        "login.title": "Entrar en Cuida",
        "login.email": "Correo electrónico",
        "login.password": "Contraseña",
        "login.submit": "Entrar",
        "login.failed": "Correo o contraseña incorrectos.",
        "login.csrf": "La sesión del formulario ha caducado. Vuelve a intentarlo.",
        "home.title": "Bandeja de Cuida",
        "home.hello": "Hola, {name}",
        "home.open": "Conversaciones abiertas",
        "home.empty": "No hay conversaciones abiertas. Todo atendido.",
        "home.api": "Documentación de la API",
        "home.logout": "Salir",
    },
    "en": {
        "login.title": "Sign in to Cuida",
        "login.email": "Email",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.failed": "Wrong email or password.",
        "login.csrf": "The form expired. Please try again.",
        "home.title": "Cuida inbox",
        "home.hello": "Hello, {name}",
        "home.open": "Open conversations",
        "home.empty": "No open conversations. All caught up.",
        "home.api": "API documentation",
        "home.logout": "Sign out",
    },
}


def translator(language: str | None) -> Callable[..., str]:
    table = STRINGS.get(language or "es", STRINGS["es"])

    def t(key: str, **values: object) -> str:
        return table.get(key, STRINGS["es"].get(key, key)).format(**values)

    return t


def pick_language(accept_language: str | None, preferred: str | None = None) -> str:
    if preferred in STRINGS:
        return str(preferred)
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in STRINGS:
            return code
    return "es"
