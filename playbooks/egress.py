"""Where playbook webhooks may go, and the one POST that goes there.

A webhook URL is typed by an admin (or an API client with the admin scope) and fetched by the worker, inside the
operator's network: without care it reaches the cloud metadata service, Redis, PostgreSQL or an intranet page. So
only ``http``/``https`` to public addresses, checked when a playbook is saved and again at every send after DNS
resolution: every address a name resolves to must be public (loopback, private, link-local, shared, multicast,
reserved and unspecified ones are refused, also inside IPv4-mapped, 6to4 and NAT64 IPv6 addresses), and the
connection goes to the address that was checked (no second lookup, so DNS rebinding cannot swap it), with the
host name kept for the Host header, TLS SNI and certificate checks. Redirects are never followed (a 3xx is the
answer), and nothing of the response but its status code is kept.

Internal receivers are allowed only by name in ``KLEARLY_WEBHOOK_ALLOWED_HOSTS``: host names (``hooks.corp``, or
``.corp`` for its subdomains) and addresses or networks (``10.20.0.0/16``, ``127.0.0.1``).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = {"http": 80, "https": 443}
# Names that only ever mean "inside": localhost (RFC 6761), mDNS, the private-use TLDs, cloud metadata names.
INTERNAL_NAMES = {"localhost", "localhost.localdomain"}
INTERNAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".intranet", ".lan")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class AllowList:
    """The internal targets the operator allowed (``KLEARLY_WEBHOOK_ALLOWED_HOSTS``)."""

    names: frozenset[str]
    suffixes: tuple[str, ...]
    networks: tuple[IPNetwork, ...]

    def allows_name(self, host: str) -> bool:
        return host in self.names or host.endswith(self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)


def allow_list() -> AllowList:
    """The allow-list from the settings: each entry an address or network, or else a host name."""
    names, suffixes, networks = set(), [], []
    for entry in settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            if entry.startswith("."):
                suffixes.append(entry)
            else:
                names.add(entry)
    return AllowList(frozenset(names), tuple(suffixes), tuple(networks))


def address_refusal(address: IPAddress) -> str | None:
    """What kind of non-public address this is ("a loopback address"…), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and (problem := address_refusal(embedded)):
            return problem
    for test, kind in (
        ("is_unspecified", "an unspecified"), ("is_loopback", "a loopback"), ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"), ("is_private", "a private"), ("is_reserved", "a reserved"),
    ):  # fmt: skip
        if getattr(address, test):
            return f"{kind} address"
    if not address.is_global:  # e.g. 100.64.0.0/10, shared by carriers' NAT
        return "not a public address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _name_refusal(host: str) -> str | None:
    if host in INTERNAL_NAMES or host.endswith(INTERNAL_SUFFIXES):
        return f"{host} is an internal name"
    if "." not in host:  # a bare name is completed by the resolver's search domains: an intranet host
        return f"{host} is not a fully qualified name"
    return None


@dataclass(frozen=True)
class Target:
    """A URL taken apart: scheme, host (lowercase, no brackets), port, path with query."""

    scheme: str
    host: str
    port: int
    path: str


class TargetRefused(ValueError):
    """A webhook URL or address that may not be called, with the reason."""


def target_parse(url: str) -> Target:
    """The parts of a webhook URL; raises ``TargetRefused`` for another scheme, credentials or no host."""
    try:
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").rstrip("."), parts.port
    except ValueError as exc:  # a bad port or IPv6 literal
        raise TargetRefused(f"the URL cannot be read ({exc})") from exc
    if scheme not in SCHEMES:
        raise TargetRefused(f"only http and https URLs can be called, not {scheme or 'a URL without a scheme'}")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials in the URL are not sent: the receiver checks the signature instead")
    if not host:
        raise TargetRefused("the URL has no host")
    path = parts.path or "/"
    return Target(scheme, host, port or SCHEMES[scheme], f"{path}?{parts.query}" if parts.query else path)


def resolve(target: Target) -> list[IPAddress]:
    """The addresses of the target's host (itself for an address); ``OSError`` when it has none."""
    literal = _literal(target.host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    # An IPv6 address may come with a scope ("fe80::1%eth0"): the part before % is the address.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def target_vet(target: Target, addresses: list[IPAddress], allowed: AllowList) -> None:
    """Raises ``TargetRefused`` unless the host is allowed by name, or is no internal name and every address it
    resolved to is public or allowed."""
    if allowed.allows_name(target.host):
        return
    literal = _literal(target.host)
    if literal is None and (problem := _name_refusal(target.host)):
        raise TargetRefused(problem)
    for address in addresses:
        problem = address_refusal(address)
        if problem and not allowed.allows_address(address):
            shown = target.host if literal is not None else f"{target.host} resolves to {address}, which"
            raise TargetRefused(f"{shown} is {problem}")


def webhook_url_refusal(url: str) -> str | None:
    """Why a playbook may not call this URL (checked on save), or None. A name that does not resolve now is let
    through: every send resolves it again and checks what it gets."""
    allowed = allow_list()
    try:
        target = target_parse(url)
        target_vet(target, [], allowed)
        try:
            addresses = resolve(target)
        except (OSError, UnicodeError):
            addresses = []
        target_vet(target, addresses, allowed)
    except TargetRefused as exc:
        return (f"Webhooks may only call public http(s) addresses: {exc}. Internal receivers must be allowed by the "
                "operator (KLEARLY_WEBHOOK_ALLOWED_HOSTS).")  # fmt: skip
    return None


@dataclass(frozen=True)
class Answer:
    """What one POST gave: the status code (None without an answer) and a short summary, never the body.
    ``refused``: the target is not allowed, so trying again will not help."""

    status_code: int | None
    summary: str
    refused: bool = False


def _connection(target: Target, address: IPAddress, timeout: float) -> http.client.HTTPConnection:
    """A connection to ``target.host`` (Host header, SNI, certificate) that connects to ``address`` only."""
    if target.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def create_connection(_address, timeout, source_address=None):  # http.client's hook, given (host, port)
        return socket.create_connection((str(address), target.port), timeout, source_address)

    connection._create_connection = create_connection  # type: ignore[attr-defined]
    return connection


# Each network failure answered in place, in the order they happen (hence the noqa below).
def webhook_post(  # noqa: C901, PLR0912 — one branch per way a send can fail, each answered in its words
    url: str, *, body: bytes, headers: dict[str, str], timeout: float
) -> Answer:
    """POST ``body`` to a webhook URL once: checked, pinned to the checked address, no redirects, no body kept."""
    allowed = allow_list()
    try:
        target = target_parse(url)
        target_vet(target, [], allowed)  # the name first: an internal name is refused, resolved or not
        try:
            addresses = resolve(target)
        except (OSError, UnicodeError):
            return Answer(None, f"cannot resolve {target.host}"[:500])
        target_vet(target, addresses, allowed)
    except TargetRefused as exc:
        return Answer(None, f"refused: {exc}"[:500], refused=True)
    connection = None
    try:
        for i, address in enumerate(addresses):  # the first that accepts a connection
            connection = _connection(target, address, timeout)
            try:
                connection.connect()
                break
            except OSError as exc:
                connection.close()
                if i == len(addresses) - 1 or isinstance(exc, ssl.SSLError):
                    raise
        assert connection is not None  # resolve() gives at least one address (getaddrinfo raises when none)
        connection.request("POST", target.path, body=body, headers=headers)
        status = connection.getresponse().status  # the body is never read
    except (http.client.InvalidURL, UnicodeEncodeError):  # spaces, control or non-ASCII characters in the path
        return Answer(None, "refused: the URL's path cannot be sent as it is (percent-encode it)", refused=True)
    except TimeoutError:
        return Answer(None, f"timeout after {timeout:g} s")
    except ConnectionRefusedError:
        return Answer(None, "connection refused")
    except ssl.SSLCertVerificationError:
        return Answer(None, f"TLS certificate not valid for {target.host}")
    except ssl.SSLError:
        return Answer(None, "TLS handshake failed")
    except http.client.RemoteDisconnected:
        return Answer(None, "connection closed without an answer")
    except http.client.HTTPException:  # the text of these may quote what the server sent: not kept
        return Answer(None, "not an HTTP answer")
    except OSError as exc:
        return Answer(None, f"network error: {exc.strerror or type(exc).__name__}"[:500])
    finally:
        if connection is not None:
            connection.close()
    if 300 <= status < 400:
        return Answer(status, f"HTTP {status} (redirects are not followed)")
    return Answer(status, f"HTTP {status}")
