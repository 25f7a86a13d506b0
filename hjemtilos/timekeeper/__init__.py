"""The timekeeper: its one table of duties (``timekeeping.DUTIES``) and what the duties do (every open case keeps a
live run, forms repaired, answers swept, stuck cases found), and the housekeeper that runs them under `up`."""
