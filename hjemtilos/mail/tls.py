"""SMTP over TLS that checks the server's certificate and host name.

The ``emails`` package calls ``smtplib``'s ``starttls()`` and ``SMTP_SSL`` without an SSL context, and Python then
uses one that checks nothing: a server with a self-signed certificate for another host name would receive the
mails and the password. These clients pass ``ssl.create_default_context()`` (the system's CAs, or the file in
``HJEMTILOS_SMTP_CA_FILE``), so such a server is refused before anything is sent.
"""

from __future__ import annotations

import smtplib
import ssl
from typing import Any

from emails.backend.smtp.backend import SMTPBackend
from emails.backend.smtp.client import SMTPClientWithResponse, SMTPClientWithResponse_SSL

__all__ = ["VerifyingSMTPBackend", "tls_context"]


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


class _StartTLSClient(SMTPClientWithResponse):
    def __init__(self, parent: Any, **kwargs: Any) -> None:
        self._tls_context = tls_context(kwargs.pop("ca_file", None))
        super().__init__(parent, **kwargs)  # type: ignore[no-untyped-call]

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        return smtplib.SMTP.starttls(self, context=self._tls_context)


class _SSLClient(SMTPClientWithResponse_SSL):
    def __init__(self, **kw: Any) -> None:
        context = tls_context(kw.pop("ca_file", None))
        args = {k: kw[k] for k in ("host", "port", "local_hostname", "timeout") if k in kw}
        smtplib.SMTP_SSL.__init__(self, context=context, **args)
        SMTPClientWithResponse.__init__(self, **kw)  # type: ignore[no-untyped-call]


class VerifyingSMTPBackend(SMTPBackend):
    connection_cls = _StartTLSClient
    connection_ssl_cls = _SSLClient
