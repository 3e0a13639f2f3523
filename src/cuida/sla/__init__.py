"""SLA policies, business-hours calendars, deadlines and the escalation ladder."""
