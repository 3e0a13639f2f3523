"""Strings shared by the board, customers, profile and admin pages (their error page, forms)."""

ES: dict[str, str] = {
    "screens.error.403": "Acceso denegado",
    "screens.error.404": "No encontrado",
    "screens.error.409": "No se puede hacer",
    "screens.error.422": "Revisa los datos",
    "screens.back_home": "Volver a la bandeja",
    "screens.csrf": "El formulario ha caducado o no viene de Cuida. Recarga la página y vuelve a intentarlo.",
    "screens.saved": "Guardado.",
    "screens.save": "Guardar",
    "screens.cancel": "Cancelar",
    "screens.yes": "Sí",
    "screens.no": "No",
}

EN: dict[str, str] = {
    "screens.error.403": "Access denied",
    "screens.error.404": "Not found",
    "screens.error.409": "Cannot do that",
    "screens.error.422": "Check the data",
    "screens.back_home": "Back to the inbox",
    "screens.csrf": "The form expired or did not come from Cuida. Reload the page and try again.",
    "screens.saved": "Saved.",
    "screens.save": "Save",
    "screens.cancel": "Cancel",
    "screens.yes": "Yes",
    "screens.no": "No",
}
