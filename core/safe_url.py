"""Where a webhook may be sent: in production only https, and only to public addresses (no
loopback, private, link-local, reserved, multicast or cloud metadata address), checked when the
endpoint is added and again at each delivery, which then connects to the address it checked
(so a DNS answer that changes in between cannot point it inside)."""

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Cloud metadata services: link-local or private already, named so they stay refused.
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UnsafeURL(ValueError):
    """The URL may not be used for a webhook; the message says why, for the form."""


def is_public(address: Address) -> bool:
    """An address on the public internet (an IPv4-mapped IPv6 address is judged as its IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global  # shared (100.64/10), documentation and other special ranges
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (the system's resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_url(url: str, production: bool, resolver: Resolver = resolve) -> list[str]:
    """The addresses a delivery may connect to (all public), or UnsafeURL. Outside production
    http and loopback are allowed and nothing is resolved: [] means connect as usual."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise UnsafeURL("Enter a valid URL.") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("Enter a URL that starts with https://.")
    if parts.username or parts.password:
        raise UnsafeURL("The URL must not contain a user name or password.")
    if not production:
        return []
    if parts.scheme != "https":
        raise UnsafeURL("The URL must start with https://.")
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolver(host, port or 443)]
        except OSError as err:
            raise UnsafeURL(f"{host} could not be found.") from err
    if not addresses:
        raise UnsafeURL(f"{host} could not be found.")
    for address in addresses:
        if not is_public(address):
            raise UnsafeURL(f"{host} leads to {address}, which is not a public internet address.")
    return [str(a) for a in addresses]
