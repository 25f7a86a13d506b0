"""Mail: typed contexts, Jinja rendering, the outbox and the SMTP sender."""
