"""Contactability: may marketing or sales contact this customer now, and if not, why and until when."""
