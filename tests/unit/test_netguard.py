"""SSRF guard: every refused form, the allow switch, and the connect-time re-check (DNS rebinding).

No traffic goes to any non-loopback address: public addresses are only classified.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bonito_logs.errors import ValidationError
from bonito_logs.netguard import (
    BlockedDestination,
    check_destination,
    classify_ip,
    guarded_client,
    parse_ip,
    split_host,
)

REFUSED = [
    ("169.254.169.254", "cloud metadata"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("localhost", "loopback"),
    ("http://localhost:8088", "loopback"),
    ("0x7f000001", "loopback"),
    ("2130706433", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("127.1", "loopback"),
    ("0x7f.0.0.1", "loopback"),
    ("[::1]", "loopback"),
    ("https://[::1]:443/x", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("[::ffff:a9fe:a9fe]", "cloud metadata"),
    ("[::ffff:10.1.2.3]", "private"),
    ("[fc00::1]", "private"),
    ("[fd12:3456::1]", "private"),
    ("[fe80::1]", "link-local"),
    ("[fe80::1%25eth0]", "link-local"),
    ("169.254.1.1", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("[ff02::1]", "multicast"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("[2002:7f00:1::]", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("[64:ff9b::a9fe:a9fe]", "cloud metadata"),  # NAT64 wrapping the metadata address
]


@pytest.mark.parametrize(("target", "why"), REFUSED)
def test_refused_without_allow(target, why):
    with pytest.raises(BlockedDestination) as info:
        check_destination(target, allow_private=False, field="config.url")
    assert info.value.field == "config.url"
    assert why in info.value.rule
    assert isinstance(info.value, ValidationError)


@pytest.mark.parametrize(("target", "why"), REFUSED)
def test_allowed_with_allow(target, why):
    check_destination(target, allow_private=True)


@pytest.mark.parametrize("target", ["8.8.8.8", "https://1.1.1.1/x", "[2001:4860:4860::8888]",
                                    "100.63.255.255", "100.128.0.0", "172.32.0.1", "11.0.0.1"])
def test_public_literals_pass(target):
    check_destination(target, allow_private=False)


def test_every_resolved_address_is_checked(monkeypatch):
    # One public and one private answer: refused, because a connection may use either.
    def fake(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:10.0.0.7", port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(BlockedDestination, match="private"):
        check_destination("https://mixed.example.com/hook", allow_private=False)


def test_unresolvable_host_is_a_validation_error():
    with pytest.raises(ValidationError, match="does not resolve") as info:
        check_destination("https://nothing-here.invalid/x", allow_private=False, field="config.url")
    assert not isinstance(info.value, BlockedDestination)


def test_garbage_is_a_validation_error():
    with pytest.raises(ValidationError):
        check_destination("http://[not-an-ip/", allow_private=False)
    with pytest.raises(ValidationError):
        check_destination("http:///path-only", allow_private=True)


@pytest.mark.parametrize(("text", "ip"), [
    ("0x7f000001", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0177.0.0.01", "127.0.0.1"),
    ("127.1", "127.0.0.1"), ("10.1", "10.0.0.1"), ("192.168.257", "192.168.1.1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"), ("fe80::1%eth0", "fe80::1"),
])
def test_parse_ip_accepts_inet_aton_forms(text, ip):
    assert parse_ip(text) == ipaddress.ip_address(ip)


@pytest.mark.parametrize("text", ["example.com", "1.2.3.4.5", "256.1.1.1", "0x1g", "08.0.0.1", ""])
def test_parse_ip_rejects_names_and_bad_numbers(text):
    assert parse_ip(text) is None


def test_classify_ip_public_is_none():
    assert classify_ip(ipaddress.ip_address("93.184.216.34")) is None
    assert classify_ip(ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946")) is None


def test_split_host():
    assert split_host("https://hooks.example.com:8443/a?b") == ("hooks.example.com", 8443)
    assert split_host("splunk.example.com:8088") == ("splunk.example.com", 8088)
    assert split_host("[::1]:80") == ("::1", 80)
    assert split_host("example.com") == ("example.com", None)


# --- the connect-time guard ----------------------------------------------------------------


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_guarded_client_refuses_loopback_at_connect(local_server):
    async with guarded_client(allow_private=False, timeout=2) as client:
        with pytest.raises(BlockedDestination):
            await client.get(local_server + "/")


async def test_guarded_client_allows_loopback_when_allowed(local_server):
    async with guarded_client(allow_private=True, timeout=2) as client:
        response = await client.get(local_server + "/")
    assert response.status_code == 200


async def test_dns_rebinding_is_caught_at_connect(local_server, monkeypatch):
    """Validation sees a public address; by send time the name points at loopback."""
    port = int(local_server.rsplit(":", 1)[1])
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])

    def rebinding(host, port_, *args, **kwargs):
        if host != "rebind.example.com":
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port_))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    check_destination(f"http://rebind.example.com:{port}/", allow_private=False)  # passes
    async with guarded_client(allow_private=False, timeout=2) as client:
        with pytest.raises(BlockedDestination, match="loopback"):
            await client.get(f"http://rebind.example.com:{port}/")


async def test_guarded_client_ignores_proxy_environment(local_server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:1")
    async with guarded_client(allow_private=True, timeout=2) as client:
        response = await client.get(local_server + "/")
    assert response.status_code == 200


async def test_guarded_client_does_not_follow_redirects():
    async with guarded_client(allow_private=True, timeout=2) as client:
        assert client.follow_redirects is False
        assert isinstance(client, httpx.AsyncClient)


# --- TLS through the guard: the certificate is checked against the name, not the address -------


def _self_signed(tmp_path, name: str = "localhost"):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path):
    import ssl

    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], str(cert)
    server.shutdown()
    server.server_close()


async def test_tls_verifies_the_hostname_through_the_guard(tls_server):
    port, ca = tls_server
    async with guarded_client(allow_private=True, timeout=2, verify=ca) as client:
        assert (await client.get(f"https://localhost:{port}/")).status_code == 200
    async with guarded_client(allow_private=True, timeout=2, verify=ca) as client:
        with pytest.raises(httpx.ConnectError):  # the certificate names localhost, not 127.0.0.1
            await client.get(f"https://127.0.0.1:{port}/")
    async with guarded_client(allow_private=True, timeout=2) as client:
        with pytest.raises(httpx.ConnectError):  # not in the default CA bundle
            await client.get(f"https://localhost:{port}/")
    async with guarded_client(allow_private=True, timeout=2, verify=False) as client:
        assert (await client.get(f"https://127.0.0.1:{port}/")).status_code == 200
