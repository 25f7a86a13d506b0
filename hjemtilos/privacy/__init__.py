"""Personal data: one person's export and erasure, and retention (what is kept how long)."""
