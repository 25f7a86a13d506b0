from hjemtilos import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "examples"
