"""The README's settings table names every setting, so an administrator can find each one."""

from __future__ import annotations

import re

from hjemtilos import PROJECT_ROOT
from hjemtilos.settings import Settings


def test_the_settings_table_names_every_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Settings"):]
    section = section[:section.index("\n## ", 4)]
    listed = set(re.findall(r"^\| `(HJEMTILOS_[A-Z_]+)`", section, flags=re.MULTILINE))
    expected = {f"HJEMTILOS_{name.upper()}" for name in Settings.model_fields}
    assert expected - listed == set(), "settings missing from the README"
    assert listed - expected == set(), "the README lists settings that do not exist"
