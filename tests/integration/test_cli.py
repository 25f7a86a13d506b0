"""The hjemtilos CLI as a coordinator uses it, in a subprocess against a real database file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hjemtilos.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HJEMTILOS_")}
    environment.update(HJEMTILOS_DATA_DIR=str(tmp_path / "data"), HJEMTILOS_DATABASE_URL=database_url)
    return environment


def test_refer_valid_examples_and_list_cases(env: dict[str, str]) -> None:
    references = []
    for name in ("referral-standard.json", "referral-residential-home.json", "referral-youth-14.json"):
        result = run(env, "refer", str(EXAMPLES / name))
        assert result.returncode == 0, result.stderr
        references.append(result.stdout.strip())
    year = references[0][4:8]
    assert references == [f"HTO-{year}-0001", f"HTO-{year}-0002", f"HTO-{year}-0003"]
    assert "residential-home" in run(env, "refer", str(EXAMPLES / "referral-residential-home.json")).stderr
    listing = run(env, "cases")
    assert listing.returncode == 0
    for reference in references:
        assert reference in listing.stdout
    assert "screening" in listing.stdout


def test_refer_invalid_lists_every_reason_and_stores_nothing(env: dict[str, str]) -> None:
    result = run(env, "refer", str(EXAMPLES / "referral-invalid.json"))
    assert result.returncode == 1
    for fragment in ("child.birth_date", "eligibility.child_wants_volunteer_family", "child.languages",
                     "placement.contact_name", "placement.contact_email", "placement.contact_phone",
                     "Barnet skal tale dansk eller engelsk", "The child must want a volunteer family"):
        assert fragment in result.stderr
    assert result.stdout.strip() == ""
    assert "No open cases." in run(env, "cases").stdout


def test_malformed_input_names_the_fields(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"child": {"first_name": "A", "last_name": "B", "birth_date": "not a date", '
                   '"local_area": "Valby"}, "referrer": {"name": "X", "email": "nope"}}')
    result = run(env, "refer", str(bad))
    assert result.returncode == 1
    assert "child.birth_date" in result.stderr and "referrer.email" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run(env, "refer", str(broken))
    assert result.returncode == 2 and "cannot read" in result.stderr
    assert run(env, "refer", str(tmp_path / "missing.json")).returncode == 2


def test_help_is_readable(env: dict[str, str]) -> None:
    result = run(env, "--help")
    assert result.returncode == 0
    for command in ("refer", "cases", "db", "mail", "up"):
        assert command in result.stdout


def test_family_add_and_list(env: dict[str, str]) -> None:
    result = run(env, "family", "add", str(EXAMPLES / "family-holm.json"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "VF-0001"
    invalid = run(env, "family", "add", str(EXAMPLES / "family-single-adult-invalid.json"))
    assert invalid.returncode == 1
    assert "members: Én voksen kan kun være venskabsfamilie med mindst ét hjemmeboende barn." in invalid.stderr
    listing = run(env, "family", "list")
    assert "VF-0001" in listing.stdout and "Familien Holm" in listing.stdout and "screening" in listing.stdout
    assert "VF-0002" not in listing.stdout
    assert "hjemmebesøg og samtale" in listing.stdout
