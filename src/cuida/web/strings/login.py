"""Strings of the login page and the old home page."""

ES: dict[str, str] = {
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
}

EN: dict[str, str] = {
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
}
