"""The web chat widget: one script tag on a company's site, visitors chatting live with agents."""
