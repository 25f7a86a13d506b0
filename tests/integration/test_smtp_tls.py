"""Mail under STARTTLS and implicit TLS goes only to a server that proves it is the host named: a real aiosmtpd
server on loopback with certificates made here (one for another name, one for 127.0.0.1 from our own CA)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hjemtilos.mail.sender import SmtpConfig
from tests.support import RecordingHandler, free_port


def certificate(tmp_path: Path, name: str, san: x509.GeneralName) -> tuple[Path, Path]:
    """A self-signed certificate (it is its own CA) for ``san``; returns (cert, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server(cert: Path, key: Path, implicit: bool) -> tuple[Controller, RecordingHandler]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = RecordingHandler()
    options = {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller, handler


def send(config: SmtpConfig) -> bool:
    from emails.message import Message

    backend = config.backend()
    try:
        message = Message(subject="Test", text="Hej", mail_from=("Red Barnet", "hjemtilos@redbarnet.dk"))
        response = backend.sendmail(from_addr="hjemtilos@redbarnet.dk", to_addrs=["maria@example.dk"],
                                    msg=message)
        return bool(response is not None and response.status_code == 250)
    finally:
        backend.close()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_mail_goes_only_to_a_server_that_proves_its_name(tmp_path: Path, security: str) -> None:
    import ipaddress

    implicit = security == "ssl"
    wrong_cert, wrong_key = certificate(tmp_path, "other.example", x509.DNSName("other.example"))
    controller, handler = server(wrong_cert, wrong_key, implicit)
    try:  # a certificate for another name, even when we trust its issuer: refused before anything is sent
        config = SmtpConfig(host="127.0.0.1", port=controller.port, security=security, timeout=5,
                            user=None, ca_file=str(wrong_cert))
        assert not send(config)
        assert handler.received == []
        # what the emails package does on its own: it would have handed the mail to this server
        from emails.backend.smtp.backend import SMTPBackend
        from emails.message import Message

        unchecked = SMTPBackend(ssl=implicit, tls=not implicit, host="127.0.0.1", port=controller.port, timeout=5)
        message = Message(subject="Test", text="Hej", mail_from=("Red Barnet", "hjemtilos@redbarnet.dk"))
        assert unchecked.sendmail(from_addr="hjemtilos@redbarnet.dk", to_addrs=["x@example.dk"],
                                  msg=message).status_code == 250
        unchecked.close()
    finally:
        controller.stop()
    right_cert, right_key = certificate(tmp_path, "loopback", x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    controller, handler = server(right_cert, right_key, implicit)
    try:
        assert not send(SmtpConfig(host="127.0.0.1", port=controller.port, security=security, timeout=5))
        assert handler.received == []  # not vouched for by the system's CAs
        assert send(SmtpConfig(host="127.0.0.1", port=controller.port, security=security, timeout=5,
                               ca_file=str(right_cert)))
        assert [r.rcpt_tos for r in handler.received] == [["maria@example.dk"]]
    finally:
        controller.stop()
