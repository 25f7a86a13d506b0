"""What happened and who did it, below every feature: the access log (who read or changed which case, from
where; ``access``) and the audit trail (what the programme did to a case or a family; ``trail``). The core, the
workspace and the CLI write and read them here; this package imports nothing of theirs."""
