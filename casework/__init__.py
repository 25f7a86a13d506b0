"""Pure domain code for Hjem til Os: rules, models and time arithmetic.

Nothing in this package imports prefect, touches a database or reads the clock:
callers pass ``now`` in.
"""
