"""The security headers every page of ours carries (the referral form's and the workspace's)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

__all__ = ["add_security_headers"]


def add_security_headers(web: FastAPI, headers: dict[str, str]) -> None:
    """Add ``headers`` to every response, and ``Cache-Control: no-store`` unless the response sets its own: pages
    that may hold what someone typed about a child are never cached."""

    @web.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in headers.items():
            if name != "Content-Security-Policy" or name not in response.headers:  # a chart image sets its own
                response.headers[name] = value
        response.headers.setdefault("Cache-Control", "no-store")
        return response
