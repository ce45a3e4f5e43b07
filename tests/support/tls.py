"""A throwaway certificate authority and a server certificate for 127.0.0.1, made with openssl."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    """Files of one test CA and the server certificate it signed."""

    ca: Path
    cert: Path
    key: Path

    def server_args(self) -> list[str]:
        """redis-server (or sentinel) options that enable TLS with these files; clients need no certificate."""
        return ["--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key), "--tls-ca-cert-file", str(self.ca),
                "--tls-auth-clients", "no"]  # fmt: skip

    def config_lines(self) -> str:
        """The same as sentinel.conf lines."""
        return (f"tls-cert-file {self.cert}\ntls-key-file {self.key}\ntls-ca-cert-file {self.ca}\n"
                "tls-auth-clients no\n")  # fmt: skip


def make_certificates(directory: Path) -> Certificates:
    """A CA, and a certificate for 127.0.0.1 and localhost signed by it (valid one day)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not installed; the TLS tests need it to make certificates")
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    cert, key, csr = directory / "server.crt", directory / "server.key", directory / "server.csr"
    extensions = directory / "san.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "1",
        "-subj", "/CN=dtq test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert),
        "-days", "1", "-extfile", str(extensions))  # fmt: skip
    return Certificates(ca, cert, key)
