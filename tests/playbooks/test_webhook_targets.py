"""Webhooks cannot reach inside (SSRF): non-http(s) URLs and loopback, private, link-local and other non-public
targets are refused on save and at send time (after DNS resolution), the connection goes to the address that was
checked, redirects are not followed, and nothing of the receiver's answer but its status is kept.

Real local HTTP servers answer where a receiver is needed (allowed through KLEARLY_WEBHOOK_ALLOWED_HOSTS, as an
operator would allow an internal one). The resolver is replaced where a name must resolve to a given address, and a
guard around ``socket.create_connection`` records every connection and lets none leave the loopback range, so even a
broken check sends nothing to 10/8 or 169.254.169.254.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.forms.models import model_to_dict
from django.urls import reverse

from playbooks.choices import DeliveryStatus
from playbooks.models import Playbook, WebhookDelivery
from playbooks.runs import playbooks_run_score_changes
from playbooks.webhooks import webhook_attempt
from tests.api.conftest import bearer
from tests.api.factories import api_key
from tests.factories import AccountFactory
from tests.playbooks.factories import PlaybookFactory

pytestmark = pytest.mark.django_db
SECRET_BODY = "INTERNAL-SECRET-do-not-store"
# The list, and the ways around a naive check.
BAD_URLS = [
    ("http://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
    ("http://[::1]:8000/hook", "::1 is a loopback address"),
    ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal is an internal name"),
    ("ftp://example.com/hook", "only http and https URLs can be called, not ftp"),
    ("http://localhost:8000/hook", "localhost is an internal name"),
    ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    ("http://192.168.1.10/", "is a private address"),
    ("http://172.16.0.1/", "is a private address"),
    ("http://100.64.0.1/", "100.64.0.1 is not a public address"),
    ("http://224.0.0.1/", "is a multicast address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://[::ffff:127.0.0.1]/", "is a loopback address"),  # IPv4-mapped IPv6
    ("http://[::ffff:a00:5]/", "is a private address"),  # ::ffff:10.0.0.5
    ("http://[2002:a9fe:a9fe::1]/", "is a link-local address"),  # 6to4 of 169.254.169.254
    ("http://[64:ff9b::a00:5]/", "is a private address"),  # NAT64 of 10.0.0.5
    ("http://127.1/", "127.1 resolves to 127.0.0.1, which is a loopback address"),
    ("http://0x7f.0.0.1/", "resolves to 127.0.0.1, which is a loopback address"),
    ("http://2130706433/", "2130706433 is not a fully qualified name"),
    ("http://redis:6379/", "redis is not a fully qualified name"),
    ("http://user:pw@hooks.example.com/", "credentials in the URL are not sent"),
    ("gopher://hooks.example.com/", "not gopher"),
]


@pytest.fixture(autouse=True)
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every connection attempted; none may leave the loopback range."""
    seen: list[tuple[str, int]] = []
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        host, port = address[0], address[1]
        seen.append((host, port))
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise OSError(f"test guard: no traffic to {host}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return seen


@pytest.fixture
def resolver(monkeypatch) -> dict[str, list[str]]:
    """Names to addresses for the resolver (each lookup is counted under "calls"); no other name resolves."""
    table: dict[str, list[str]] = {"calls": []}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        table["calls"].append(host)
        if host not in table:  # numeric forms ("127.1") still resolve, as the C library reads them; names do not
            return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        answers = table[host]
        address = answers.pop(0) if len(answers) > 1 else answers[0]  # a list of several: one per lookup (rebinding)
        addresses = address.split(",")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


class Server:
    """A local HTTP server: each request is recorded and answered by ``answer(handler)``."""

    def __init__(self, answer) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                       "body": self.rfile.read(length)})  # fmt: skip
                answer(self)

            do_GET = do_POST = handle_one

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer_with(status: int, body: str = "", **headers: str):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body.encode())))
        handler.end_headers()
        handler.wfile.write(body.encode())

    return answer


@pytest.fixture
def servers():
    started: list[Server] = []

    def start(answer) -> Server:
        started.append(Server(answer))
        return started[-1]

    yield start
    for server in started:
        server.close()


def errors_of(url: str) -> dict[str, list[str]]:
    playbook = Playbook(name="P", trigger_kind="score_crossing", trigger_params={"score": "lead", "threshold": 65},
                        task_title_template="Call", webhook_url=url, webhook_secret="s3cret")  # fmt: skip
    try:
        playbook.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def fire(url: str) -> WebhookDelivery:
    """A delivery to ``url`` from a run (the playbook stored as it may have been before these checks existed)."""
    Playbook.objects.update(is_active=False)  # earlier ones stay quiet
    PlaybookFactory(webhook_url=url, webhook_secret="s3cret", create_task=False)
    account = AccountFactory()
    change = {"account": account.pk, "before": {"lead": 10.0}, "after": {"lead": 80.0}, "hits_set": [],
              "hits_cleared": []}  # fmt: skip
    stats = playbooks_run_score_changes(changes=[change], computed_at="2026-06-01T12:00:00+00:00")
    return WebhookDelivery.objects.get(pk=stats.deliveries[0])


def stored_text(delivery: WebhookDelivery) -> str:
    delivery.refresh_from_db()
    return repr(model_to_dict(delivery))


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_a_bad_url_is_refused_on_save(url, words, resolver):
    errors = errors_of(url)
    assert "webhook_url" in errors, errors
    message = " ".join(errors["webhook_url"])
    assert words in message and "KLEARLY_WEBHOOK_ALLOWED_HOSTS" in message


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_a_bad_url_is_refused_at_send_without_a_connection(url, words, resolver, connections):
    delivery = fire(url)
    attempt = webhook_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert connections == []
    assert delivery.error.startswith("refused: ") and words in delivery.error, delivery.error
    assert delivery.status == DeliveryStatus.FAILED and attempt.retry_in is None  # retrying will not help
    assert delivery.status_code is None and delivery.attempts == 1


def test_a_local_receiver_gets_nothing_unless_allowed(servers, settings):
    server = servers(answer_with(200, "ok"))
    delivery = fire(server.url)
    webhook_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert server.requests == [] and delivery.error.startswith("refused: 127.0.0.1 is a loopback address")
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    assert errors_of(server.url) == {}
    delivery = fire(server.url)
    assert webhook_attempt(delivery_id=delivery.pk).delivered and len(server.requests) == 1


def test_the_api_and_the_admin_refuse_it_on_the_field(admin_client):
    body = {"name": "Leak", "trigger_kind": "score_crossing", "trigger_params": {"score": "lead", "threshold": 65},
            "create_task": False, "webhook_url": "http://169.254.169.254/latest/meta-data/",
            "webhook_secret": "s3cret"}  # fmt: skip
    response = bearer(api_key("admin")[1]).post("/api/v1/playbooks/", body, format="json")
    assert response.status_code == 400
    assert "169.254.169.254 is a link-local address" in response.json()["webhook_url"][0]
    form = {"name": "Leak", "is_active": "on", "trigger_kind": "score_crossing",
            "trigger_params": '{"score": "lead", "threshold": 65}', "conditions": "{}", "task_title_template": "",
            "assign_mode": "owner", "priority": "2", "cooldown_days": "7", "goal_kind": "", "goal_within_days": "21",
            "webhook_url": "ftp://example.com/hook", "webhook_secret": "s3cret"}  # fmt: skip
    page = admin_client.post(reverse("admin:playbooks_playbook_add"), form)
    assert page.status_code == 200 and "only http and https URLs can be called, not ftp" in page.content.decode()
    assert not Playbook.objects.filter(name="Leak").exists()


def test_a_name_resolving_to_a_private_address_is_refused_on_save_and_at_send(resolver, connections):
    resolver["hooks.example.com"] = ["10.1.2.3"]
    resolver["mixed.example.com"] = ["93.184.216.34,10.1.2.3"]  # one public, one private: refused
    resolver["public.example.com"] = ["93.184.216.34"]
    assert (
        "hooks.example.com resolves to 10.1.2.3, which is a private address"
        in errors_of("https://hooks.example.com/in")["webhook_url"][0]
    )
    assert "mixed.example.com resolves to 10.1.2.3" in errors_of("https://mixed.example.com/in")["webhook_url"][0]
    assert errors_of("https://public.example.com/in") == {}
    assert errors_of("https://not-yet-in-dns.example.com/in") == {}  # checked again at every send
    for host in ("hooks", "mixed"):
        delivery = fire(f"https://{host}.example.com/in")
        webhook_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and "which is a private address" in delivery.error
    assert connections == []
    delivery = fire("https://not-yet-in-dns.example.com/in")
    attempt = webhook_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.error == "cannot resolve not-yet-in-dns.example.com" and attempt.retry_in is not None


def test_the_connection_goes_to_the_address_that_was_checked(servers, settings, resolver, connections):
    """DNS rebinding: the name resolves to an allowed address for the check and to an internal one right after;
    the request goes to the checked address, with the name as Host, after a single lookup."""
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    server = servers(answer_with(200, "ok"))
    resolver["hooks.example.com"] = ["127.0.0.1", "10.9.9.9"]
    delivery = fire(f"http://hooks.example.com:{server.port}/in?x=1")
    resolver["calls"].clear()
    assert webhook_attempt(delivery_id=delivery.pk).delivered
    assert resolver["calls"].count("hooks.example.com") == 1  # (connecting to the address reads it, no DNS)
    assert connections == [("127.0.0.1", server.port)]
    (request,) = server.requests
    assert request["headers"]["Host"] == f"hooks.example.com:{server.port}" and request["path"] == "/in?x=1"


def test_a_redirect_to_an_internal_host_is_not_followed(servers, settings):
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    internal = servers(answer_with(200, SECRET_BODY))
    redirecting = servers(answer_with(302, "moved", Location=internal.url.replace("/hook", "/admin/secrets")))
    delivery = fire(redirecting.url)
    attempt = webhook_attempt(delivery_id=delivery.pk)
    assert len(redirecting.requests) == 1 and internal.requests == []
    delivery.refresh_from_db()
    assert delivery.status_code == 302 and delivery.error == "HTTP 302 (redirects are not followed)"
    assert delivery.status == DeliveryStatus.FAILED and attempt.retry_in is None


def test_nothing_of_the_answer_but_its_status_is_kept_or_shown(servers, settings, admin_client):
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    for status in (200, 404, 503):
        server = servers(answer_with(status, SECRET_BODY, **{"X-Secret": SECRET_BODY}))
        delivery = fire(server.url)
        webhook_attempt(delivery_id=delivery.pk)
        assert SECRET_BODY not in stored_text(delivery)
        assert delivery.status_code == status and delivery.error == ("" if status == 200 else f"HTTP {status}")
        page = admin_client.get(reverse("admin:playbooks_webhookdelivery_change", args=[delivery.pk]))
        assert page.status_code == 200 and SECRET_BODY not in page.content.decode()


class RawServer(socketserver.ThreadingTCPServer):
    """A TCP service that is not HTTP (think Redis or memcached): writes a line and closes."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, line: bytes, delay: float = 0) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                time.sleep(delay)
                self.request.recv(65536)
                self.request.sendall(line)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_an_answer_that_is_not_http_is_summarised_without_its_text(settings):
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    raw = RawServer(f"-ERR {SECRET_BODY}\r\n".encode())
    try:
        delivery = fire(f"http://127.0.0.1:{raw.server_address[1]}/")
        webhook_attempt(delivery_id=delivery.pk)
    finally:
        raw.shutdown()
        raw.server_close()
    assert SECRET_BODY not in stored_text(delivery) and delivery.error == "not an HTTP answer"


def test_a_slow_receiver_is_summarised_as_a_timeout(settings):
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.KLEARLY_WEBHOOK_TIMEOUT = 1
    raw = RawServer(b"HTTP/1.1 200 OK\r\n\r\n", delay=2.5)
    try:
        delivery = fire(f"http://127.0.0.1:{raw.server_address[1]}/")
        attempt = webhook_attempt(delivery_id=delivery.pk)
    finally:
        raw.shutdown()
        raw.server_close()
    delivery.refresh_from_db()
    assert delivery.error == "timeout after 1 s" and attempt.retry_in is not None


def test_internal_hosts_are_allowed_by_name_or_network(settings, resolver, servers):
    server = servers(answer_with(200, "ok"))
    resolver["hooks.corp.internal"] = ["127.0.0.1"]
    url = f"http://hooks.corp.internal:{server.port}/in"
    assert "hooks.corp.internal is an internal name" in errors_of(url)["webhook_url"][0]
    for allowed in (["hooks.corp.internal"], [".corp.internal"]):
        settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = allowed
        assert errors_of(url) == {}
        assert webhook_attempt(delivery_id=fire(url).pk).delivered
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["10.20.0.0/16"]
    assert errors_of("http://10.20.3.4/in") == {} and "private" in errors_of("http://10.21.3.4/in")["webhook_url"][0]
    assert len(server.requests) == 2


def test_a_bad_allow_list_entry_stops_the_start(monkeypatch):
    from klearly.settings import env_hosts

    monkeypatch.setenv("KLEARLY_WEBHOOK_ALLOWED_HOSTS", "hooks.corp, 10.0.0.0/8, fd00::/8")
    assert env_hosts("KLEARLY_WEBHOOK_ALLOWED_HOSTS") == ["hooks.corp", "10.0.0.0/8", "fd00::/8"]
    monkeypatch.setenv("KLEARLY_WEBHOOK_ALLOWED_HOSTS", "10.0.0.0/33")
    with pytest.raises(ImproperlyConfigured, match="is not a host name, an address or a network"):
        env_hosts("KLEARLY_WEBHOOK_ALLOWED_HOSTS")


@pytest.fixture
def tls_server(tmp_path, servers):
    """A local HTTPS server with a self-signed certificate for hooks.example.com, recording the SNI it is asked."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.example.com",
         "-addext", "subjectAltName=DNS:hooks.example.com", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = servers(answer_with(200, SECRET_BODY))
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    return server, cert, names


def test_https_is_pinned_with_the_name_kept_for_sni_and_the_certificate(tls_server, settings, resolver, monkeypatch):
    import ssl

    server, cert, names = tls_server
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    resolver["hooks.example.com"] = ["127.0.0.1"]
    url = f"https://hooks.example.com:{server.port}/in"
    delivery = fire(url)  # the certificate is not signed by a known authority: refused by the TLS check
    webhook_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.error == "TLS certificate not valid for hooks.example.com" and server.requests == []
    assert names == ["hooks.example.com"]
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: real(cafile=str(cert)))  # now trusted
    delivery = fire(url)
    assert webhook_attempt(delivery_id=delivery.pk).delivered
    assert server.requests[0]["headers"]["Host"] == f"hooks.example.com:{server.port}"
    assert SECRET_BODY not in stored_text(delivery)


@pytest.mark.parametrize("path", ["/é", "/a b"])
def test_a_path_that_cannot_be_sent_is_refused_not_a_crash(path, servers, settings):
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    server = servers(answer_with(200, "ok"))
    delivery = fire(server.url.replace("/hook", path))
    assert webhook_attempt(delivery_id=delivery.pk).retry_in is None
    delivery.refresh_from_db()
    assert delivery.error.startswith("refused: the URL's path cannot be sent") and server.requests == []
