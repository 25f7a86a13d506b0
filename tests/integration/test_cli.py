"""The hjemtilos CLI as a coordinator uses it, through typer's CliRunner against a real database (SQLite and
PostgreSQL); one smoke test runs the installed command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hjemtilos.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in [k for k in os.environ if k.startswith("HJEMTILOS_") or k == "PREFECT_API_URL"]:
        monkeypatch.delenv(key)
    settings = {"HJEMTILOS_DATA_DIR": str(tmp_path / "data"), "HJEMTILOS_DATABASE_URL": database_url,
                "PREFECT_API_URL": "http://127.0.0.1:9/api"}  # nothing listens there: Prefect is "not running"
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return settings


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_refer_valid_examples_and_list_cases(env: dict[str, str]) -> None:
    references = []
    for name in ("referral-standard.json", "referral-residential-home.json", "referral-youth-14.json"):
        code, stdout, stderr = run("refer", str(EXAMPLES / name))
        assert code == 0, stderr
        assert "Prefect kører ikke" in stderr
        references.append(stdout.strip())
    year = references[0][4:8]
    assert references == [f"HTO-{year}-0001", f"HTO-{year}-0002", f"HTO-{year}-0003"]
    assert "residential-home" in run("refer", str(EXAMPLES / "referral-residential-home.json"))[2]
    code, listing, _ = run("cases")
    assert code == 0
    for reference in references:
        assert reference in listing
    assert "screening" in listing
    code, stuck, stderr = run("cases", "--stuck")
    assert code == 0 and "No stuck cases." in stuck and "Prefect is not running" in stderr


def test_refer_invalid_lists_every_reason_and_stores_nothing(env: dict[str, str]) -> None:
    code, stdout, stderr = run("refer", str(EXAMPLES / "referral-invalid.json"))
    assert code == 1
    for fragment in ("child.birth_date", "eligibility.child_wants_volunteer_family", "child.languages",
                     "placement.contact_name", "placement.contact_email", "placement.contact_phone",
                     "Barnet skal tale dansk eller engelsk", "The child must want a volunteer family"):
        assert fragment in stderr
    assert stdout.strip() == ""
    assert "No open cases." in run("cases")[1]


def test_malformed_input_names_the_fields(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"child": {"first_name": "A", "last_name": "B", "birth_date": "not a date", '
                   '"local_area": "Valby"}, "referrer": {"name": "X", "email": "nope"}}')
    code, _, stderr = run("refer", str(bad))
    assert code == 1
    assert "child.birth_date" in stderr and "referrer.email" in stderr
    # the referral form's words, not pydantic's
    assert "Skriv en gyldig dato" in stderr and "Enter a valid e-mail address" in stderr
    assert "Input should be" not in stderr and "value is not a valid" not in stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, stderr = run("refer", str(broken))
    assert code == 2 and "cannot read" in stderr
    assert run("refer", str(tmp_path / "missing.json"))[0] == 2


def test_family_add_and_list(env: dict[str, str]) -> None:
    code, stdout, stderr = run("family", "add", str(EXAMPLES / "family-holm.json"))
    assert code == 0, stderr
    assert stdout.strip() == "VF-0001"
    code, _, stderr = run("family", "add", str(EXAMPLES / "family-single-adult-invalid.json"))
    assert code == 1
    assert "members: Én voksen kan kun være venskabsfamilie med mindst ét hjemmeboende barn." in stderr
    listing = run("family", "list")[1]
    assert "VF-0001" in listing and "Familien Holm" in listing and "screening" in listing
    assert "VF-0002" not in listing
    assert "hjemmebesøg og samtale" in listing


def test_outbox_lists_the_queued_receipt_and_filters_by_status(env: dict[str, str]) -> None:
    assert run("refer", str(EXAMPLES / "referral-standard.json"))[0] == 0
    code, pending, _ = run("mail", "outbox", "--status", "pending")
    assert code == 0 and "referral-receipt" in pending and "jonas.berg@bbu.kk.dk" in pending
    assert "referral-receipt" not in run("mail", "outbox", "--status", "sent")[1]
    code, _, stderr = run("mail", "outbox", "--status", "lost")
    assert code == 2 and "lost" in stderr


def test_the_installed_command_runs_in_a_process_of_its_own(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HJEMTILOS_")}
    environment.update(HJEMTILOS_DATA_DIR=str(tmp_path / "data"), PREFECT_API_URL="http://127.0.0.1:9/api",
                       HJEMTILOS_EMBEDDED_DATABASE="sqlite")
    command = Path(sys.executable).with_name("hjemtilos")
    result = subprocess.run([str(command), "--help"], capture_output=True, text=True, env=environment, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0
    for name in ("refer", "cases", "db", "mail", "family", "worker", "up"):
        assert name in result.stdout
    for args in (["db", "upgrade"], ["refer", str(EXAMPLES / "referral-standard.json")]):
        result = subprocess.run([sys.executable, "-m", "hjemtilos.cli", *args], capture_output=True, text=True,
                                env=environment, cwd=ROOT, timeout=120)
        assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("HTO-")


def test_without_the_system_running_the_embedded_database_is_reported_not_a_traceback(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HJEMTILOS_")}
    environment.update(HJEMTILOS_DATA_DIR=str(tmp_path / "data"), PREFECT_API_URL="http://127.0.0.1:9/api")
    for args in (["db", "upgrade"], ["refer", str(EXAMPLES / "referral-standard.json")], ["cases"]):
        result = subprocess.run([sys.executable, "-m", "hjemtilos.cli", *args], capture_output=True, text=True,
                                env=environment, cwd=ROOT, timeout=120)
        assert result.returncode == 3, (args, result.stderr)
        assert "the case database is not running" in result.stderr and "hjemtilos up" in result.stderr
        assert "Traceback" not in result.stderr


def test_user_commands_and_the_access_log(env: dict[str, str]) -> None:
    code, stdout, stderr = run("user", "add", "tina", "--name", "Tina Holm")
    assert code == 0, stderr
    assert "/arbejde/opret/" in stdout
    assert run("user", "add", "tina", "--name", "Tina Igen")[0] == 1  # taken
    assert run("user", "add", "Tina!", "--name", "X")[0] == 1  # not a user name
    assert run("user", "add", "ole", "--name", "Ole", "--role", "boss")[0] == 1
    code, stdout, _ = run("user", "list")
    assert code == 0 and "tina" in stdout and "coordinator" in stdout and "aktiv" in stdout
    assert run("user", "disable", "tina")[0] == 0
    assert "lukket" in run("user", "list")[1]
    assert run("user", "reset-2fa", "tina")[0] == 0
    assert run("user", "disable", "nobody")[0] == 1

    code, stdout, _ = run("refer", str(EXAMPLES / "referral-standard.json"))
    reference = next(word for word in stdout.split() if word.startswith("HTO-"))
    assert run("access-log", "--case", reference)[0] == 1  # nobody has read it yet
    code, stdout, _ = run("access-log", "--case", reference, "--csv")  # the first reading is itself logged
    code, stdout, _ = run("access-log", "--case", reference, "--csv")
    assert code == 0
    assert stdout.splitlines()[0] == "tidspunkt_utc,bruger,handling,formaal,fra,sag"
    assert stdout.splitlines()[1].split(",")[1:3] == ["cli", "exported"]


def test_retention_dry_run_lists_and_run_does(env: dict[str, str]) -> None:
    code, stdout, stderr = run("retention", "--dry-run")
    assert code == 0, stderr
    assert "nothing is due" in stdout and "not yet confirmed by the DPO" in stdout
    code, stdout, stderr = run("retention", "run")
    assert code == 0, stderr
    assert "Udført / done: 0" in stdout and "Prefect not reachable" in stdout


def test_person_export_and_erase(env: dict[str, str], tmp_path: Path) -> None:
    import json

    code, stdout, _ = run("refer", str(EXAMPLES / "referral-standard.json"))
    reference = next(word for word in stdout.split() if word.startswith("HTO-"))
    email = json.loads((EXAMPLES / "referral-standard.json").read_text())["custody_holders"][0]["email"]
    target = tmp_path / "export.json"
    code, _, stderr = run("person", "export", "--email", email, "--out", str(target))
    assert code == 0, stderr
    assert json.loads(target.read_text())["as_party"][0]["case_reference"] == reference
    assert target.stat().st_mode & 0o777 == 0o600
    assert run("person", "export")[0] == 2  # neither --email nor --case
    code, stdout, stderr = run("person", "export", "--case", "HTO-1999-0042")
    assert code == 1 and "ingen sag HTO-1999-0042" in stderr and stdout.strip() == ""  # nothing to export
    code, _, stderr = run("person", "erase", "--case", reference)
    assert code == 1 and "open" in stderr
