"""The webhook SSRF check (core/safe_url.py) on its own, and the delivery's connection to the
address it checked (activities.webhooks.pinned)."""

import ipaddress

import httpx
import pytest

from activities.webhooks import pinned
from core.safe_url import UnsafeURL, check_url, is_public


def resolver(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "100.64.0.1",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_inside_addresses_are_refused_in_production(address):
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(UnsafeURL):
        check_url("https://hooks.example.com/in", True, resolver(address))


def test_a_name_with_any_inside_address_is_refused():
    with pytest.raises(UnsafeURL, match="not a public internet address"):
        check_url("https://hooks.example.com/in", True, resolver("93.184.216.34", "10.0.0.1"))


def test_a_public_https_url_passes_with_the_addresses_to_connect_to():
    found = check_url("https://hooks.example.com/in", True, resolver("93.184.216.34"))
    assert found == ["93.184.216.34"]
    assert check_url("https://[2606:4700::1111]/in", True, resolver()) == ["2606:4700::1111"]


def test_production_wants_https_and_a_name_that_resolves():
    with pytest.raises(UnsafeURL, match="https"):
        check_url("http://hooks.example.com/in", True, resolver("93.184.216.34"))

    def fails(host, port):
        raise OSError("no such name")

    with pytest.raises(UnsafeURL, match="could not be found"):
        check_url("https://nowhere.invalid/in", True, fails)
    with pytest.raises(UnsafeURL):
        check_url("https://user:pw@hooks.example.com/in", True, resolver("93.184.216.34"))


def test_outside_production_http_and_loopback_are_allowed():
    assert check_url("http://127.0.0.1:8000/hooks", False) == []
    with pytest.raises(UnsafeURL):
        check_url("javascript:alert(1)", False)


def test_the_delivery_connects_to_the_address_it_checked():
    target, host, extensions = pinned("https://hooks.example.com:8443/in?x=1", ["93.184.216.34"])
    assert str(target) == "https://93.184.216.34:8443/in?x=1"
    assert host == {"Host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}
    target, host, _ = pinned("https://hooks.example.com/in", ["2606:4700::1111"])
    assert str(target) == "https://[2606:4700::1111]/in" and host == {"Host": "hooks.example.com"}
    assert pinned("http://127.0.0.1:9/in", []) == (httpx.URL("http://127.0.0.1:9/in"), {}, {})
