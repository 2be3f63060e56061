"""Amazon's host names on loopback, for a client that knows no others: a throwaway certificate
authority, a certificate for Amazon's hosts signed by it (for the stand-in to serve TLS with),
and an HTTP CONNECT proxy that tunnels those hosts, and only those, to the stand-in.

A client library is then pointed at the stand-in by its own settings alone: its proxy, and the
authority it trusts.
"""

import ipaddress
import select
import socket
import socketserver
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.amazon_app import serving

# Login with Amazon's one host and the SP-API's three regional ones.
AMAZON_HOSTS = (
    "api.amazon.com",
    "sellingpartnerapi-na.amazon.com",
    "sellingpartnerapi-eu.amazon.com",
    "sellingpartnerapi-fe.amazon.com",
)


@dataclass(frozen=True)
class Certificates:
    """PEM files: the authority clients trust, and the server's certificate and key."""

    authority: Path
    certificate: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts the throwaway authority and nothing else."""
        return ssl.create_default_context(cafile=self.authority)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate_builder(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.CertificateBuilder:
    """A day-long certificate of `key`, issued by `issuer`, ready to be signed by `issuer_key`."""
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def make_certificates(directory: Path) -> Certificates:
    """A new authority, and a certificate it signs for Amazon's hosts and 127.0.0.1 (so pages
    can also be opened at the stand-in's own address), written to `directory`."""
    authority_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    authority_name = "Throwaway test authority"
    authority = (
        _certificate_builder(authority_name, authority_key, authority_name, authority_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(authority_key, hashes.SHA256())
    )
    names = [x509.DNSName(host) for host in AMAZON_HOSTS]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        _certificate_builder(AMAZON_HOSTS[0], key, authority_name, authority_key)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    files = Certificates(
        directory / "authority.pem", directory / "certificate.pem", directory / "key.pem"
    )
    files.authority.write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, target_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.target_port = target_port
        self.open_sockets: set[socket.socket] = set()


class _Tunnel(socketserver.BaseRequestHandler):
    """One CONNECT: to an Amazon host on port 443 it is tunnelled to the stand-in; anything else
    (another host, another method) gets 403 and nothing is relayed."""

    server: _Proxy

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk or len(head) > 65536:
                return
            head += chunk
        head, _, early = head.partition(b"\r\n\r\n")
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        host, _, port = rest.partition(" ")[0].rpartition(":")
        if method != "CONNECT" or host.lower() not in AMAZON_HOSTS or port != "443":
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        with socket.create_connection(("127.0.0.1", self.server.target_port)) as upstream:
            self.server.open_sockets.update((self.request, upstream))
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            upstream.sendall(early)
            _relay(self.request, upstream)
            self.server.open_sockets.difference_update((self.request, upstream))


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    other = {client: upstream, upstream: client}
    try:
        while True:
            readable, _, _ = select.select(list(other), [], [])
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                other[sock].sendall(data)
    except OSError:  # the other side reset the connection
        return


@contextmanager
def connect_proxy(target_port: int) -> Iterator[str]:
    """An HTTP CONNECT proxy on a free loopback port, tunnelling Amazon's hosts to
    127.0.0.1:`target_port`; yields its URL. On exit every open tunnel is closed."""
    proxy = _Proxy(target_port)
    try:
        with serving(proxy):
            yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        for sock in list(proxy.open_sockets):
            # shutdown, not close: it wakes the relay waiting on the socket in another thread.
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        proxy.server_close()
