"""Mail: typed contexts, Jinja rendering, the outbox and the SMTP sender."""

__all__ = ["catcher", "contexts", "outbox", "render", "sender"]  # the public modules
