"""SSRF guard: refuse destinations that resolve to addresses inside our own network.

A user-supplied URL (a webhook, a Splunk host, a CloudWatch endpoint) must not
let a tenant make our workers talk to loopback, the cloud metadata service or
any private range. ``check_destination`` classifies *every* address a host
resolves to; ``GuardedTransport`` repeats the check at connect time and then
connects to exactly the address it checked, so a DNS answer that changes
between validation and sending (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from bonito_logs.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = ipaddress.ip_address("169.254.169.254")


class BlockedDestination(ValidationError):
    """The destination resolves to an address we never send to."""

    code = "blocked_destination"


def classify_ip(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination (``"loopback"``, ...), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            reason = classify_ip(embedded)
            return f"{reason} (IPv4 embedded in IPv6)" if reason else None
        if ip.is_site_local:
            return "site-local"
    if ip == _METADATA:
        return "link-local (cloud metadata service)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None


def parse_ip(text: str) -> IPAddress | None:
    """``text`` as an IP address, accepting what ``inet_aton`` accepts for IPv4.

    ``0x7f000001``, ``2130706433``, ``0177.0.0.1`` and ``127.1`` all mean
    127.0.0.1 to the C resolver, so they must mean it to the guard too.
    """
    text = text.strip().strip("[]")
    if "%" in text:  # IPv6 zone id: fe80::1%eth0
        text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    return _inet_aton(text)


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        return None
    numbers = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                numbers.append(int(part[2:], 16) if len(part) > 2 else 0)
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part[1:], 8))
            else:
                numbers.append(int(part, 10))
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = 0
    for n in head:
        value = value << 8 | n
    value = value << (8 * (5 - len(numbers))) | last
    return ipaddress.IPv4Address(value)


def split_host(url_or_host: str) -> tuple[str, int | None]:
    """(host, port) of a URL, ``host:port``, ``[v6]:port`` or a bare host."""
    text = url_or_host.strip()
    if "://" not in text:
        text = "//" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValidationError("url", "is not a valid URL or host") from None
    host = parts.hostname or ""
    if not host:
        raise ValidationError("url", "has no host")
    return host, port


def _check_addresses(host: str, addresses: Iterable[IPAddress], field: str) -> None:
    for ip in addresses:
        reason = classify_ip(ip)
        if reason:
            shown = host if str(ip) == host else f"{host} ({ip})"
            article = "an" if reason[0] in "aeiou" else "a"
            raise BlockedDestination(field, f"resolves to {article} {reason} address: {shown}; "
                                            "destinations must be public")


def _resolve(host: str, port: int | None) -> list[IPAddress]:
    literal = parse_ip(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    return _addresses(infos)


def _addresses(infos: list[tuple[Any, ...]]) -> list[IPAddress]:
    out: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    return out


def check_destination(url_or_host: str, *, allow_private: bool, field: str = "url") -> None:
    """Raise ``ValidationError`` (``BlockedDestination``) unless every address is public.

    Resolves the host with ``getaddrinfo`` (IPv4 and IPv6) and refuses loopback,
    private, link-local (the metadata address included), unspecified, multicast,
    reserved and carrier-grade-NAT addresses, also in IPv4-mapped IPv6 form.
    ``allow_private`` turns the guard off (tests, on-premises installs).
    """
    host, port = _split_for(url_or_host, field)
    if allow_private:
        return
    try:
        addresses = _resolve(host, port)
    except (socket.gaierror, UnicodeError):
        raise ValidationError(field, f"host {host} does not resolve") from None
    _check_addresses(host, addresses, field)


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses of ``host`` to connect to, after checking them all (async resolver)."""
    literal = parse_ip(host)
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = _addresses(infos)
    if not allow_private:
        _check_addresses(host, addresses, "url")
    return [str(ip) for ip in addresses]


def _split_for(url_or_host: str, field: str) -> tuple[str, int | None]:
    try:
        return split_host(url_or_host)
    except ValidationError as exc:
        raise ValidationError(field, exc.rule) from None


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to one of exactly those addresses.

    TLS still verifies the certificate against the hostname: httpcore passes the
    origin's host as ``server_hostname`` to ``start_tls``, not the address.
    """

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_checked(host, port, allow_private=self._allow_private)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not destinations")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every new connection goes through the SSRF guard.

    Proxies from the environment are ignored on purpose: a proxy would make the
    connection (and the check) somewhere else.
    """

    def __init__(self, *, allow_private: bool, verify: ssl.SSLContext | bool | str = True,
                 limits: httpx.Limits | None = None) -> None:
        ctx = make_ssl_context(verify)
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=10)
        super().__init__(verify=ctx, trust_env=False, limits=limits)
        # httpx builds its pool without a network_backend hook; ours replaces it.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ctx,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private),
        )


def make_ssl_context(verify: ssl.SSLContext | bool | str) -> ssl.SSLContext:
    """A client TLS context: system-independent CA bundle, a custom bundle path, or no checks."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def guarded_client(*, allow_private: bool, timeout: float, verify: ssl.SSLContext | bool | str = True,
                   headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that checks every connection it opens, without redirects."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private, verify=verify),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # a redirect is a new destination the guard has not seen
        trust_env=False,
        headers=headers,
    )
