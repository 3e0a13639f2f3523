"""Small pieces every domain shares: errors, safe text, pagination."""
