"""Pure domain code for Hjem til Os: rules, models and time arithmetic.

Nothing in this package imports prefect, touches a database or reads the clock:
callers pass ``now`` in.
"""

__all__ = ["clock", "durations", "eligibility", "families", "matching", "profiles", "reference", "referral",
           "steps", "stuck"]  # the public modules
