"""Referrals: intake (the rules, the case stored with its receipt) and submitting one (the form, the CLI, the demo)."""
