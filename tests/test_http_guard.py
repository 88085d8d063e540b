"""watchers/http.py's guard for user-added URLs (``trusted=False``): private, loopback,
link-local and metadata addresses are refused before any connection, at every redirect
hop and again at connect time; the allowlist permits them.

No test sends traffic anywhere but 127.0.0.x servers it started: refused requests are
proven never to reach the network by a request method that fails the test if called.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator

import pytest

from tests.fakes.feed_server import FeedServer
from watchers.http import AddressGuard, FetchError, HttpClient, address_problem, redact_url

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
HINT = "(allow it in [polling] allow_private if you mean it)"


@pytest.fixture
async def no_network(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Any request that gets past the guard fails the test instead of connecting."""

    async def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the guard let a request through: {args[1:2]}")

    monkeypatch.setattr(HttpClient, "_request", refuse)
    yield


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/feed", "a loopback address"),
        ("http://127.0.0.1:8080/feed", "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://10.0.0.1/", "a private address"),
        ("http://172.16.5.4/", "a private address"),
        ("http://192.168.1.1/", "a private address"),
        ("http://[::1]/", "a loopback address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://[fd12:3456::1]/", "a private address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://100.64.0.1/", "a non-public address"),  # carrier-grade NAT
        ("http://240.0.0.1/", "a reserved address"),
    ],
)
async def test_private_addresses_are_refused(no_network: None, url: str, reason: str) -> None:
    async with HttpClient() as http:
        with pytest.raises(FetchError) as caught:
            await http.get(url, trusted=False)
    message = str(caught.value)
    assert message.startswith(f"refusing to fetch {url}: {reason}")
    assert message.endswith(HINT)


@pytest.mark.parametrize(
    "url",
    ["http://localhost/feed", "http://LOCALHOST./feed", "http://2130706433/", "http://127.1/"],
)
async def test_names_and_odd_forms_resolving_to_loopback(no_network: None, url: str) -> None:
    async with HttpClient() as http:
        with pytest.raises(FetchError, match=r"resolves to 127\.0\.0\.1, a loopback address"):
            await http.get(url, trusted=False)


async def test_the_exact_message() -> None:
    async with HttpClient() as http:
        with pytest.raises(FetchError) as caught:
            await http.get("http://10.0.0.1/", trusted=False)
    assert str(caught.value) == (
        "refusing to fetch http://10.0.0.1/: a private address "
        "(allow it in [polling] allow_private if you mean it)"
    )


async def test_trusted_requests_and_the_allowlist_reach_127_0_0_1(
    feed_server: FeedServer,
) -> None:
    feed_server.set("/feed", body=RSS)
    url = feed_server.url("/feed")
    async with HttpClient() as http:
        assert (await http.get(url)).status == 200  # config sources are trusted
        with pytest.raises(FetchError, match="a loopback address"):
            await http.get(url, trusted=False)
    for allow in (["127.0.0.1"], ["127.0.0.0/8"], ["::1", "127.0.0.1/32"]):
        async with HttpClient(allow=allow) as http:
            assert (await http.get(url, trusted=False)).body == RSS
    async with HttpClient(allow=["localhost"]) as http:  # a host name
        port = feed_server.port
        assert (await http.get(f"http://localhost:{port}/feed", trusted=False)).status == 200
    assert len(feed_server.requests_to("/feed")) == 5  # the refused one never arrived


async def test_every_redirect_hop_is_checked() -> None:
    """A server the allowlist permits (127.0.0.2, "public" here) redirects to private
    places: each redirect is refused before anything connects to its target."""
    async with FeedServer(host="127.0.0.2") as public, FeedServer() as private:
        private.set("/secret", body=b"secret")
        targets = {
            "/to-loopback": private.url("/secret"),
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-private": "http://10.0.0.1/admin",
            "/to-localhost": f"http://localhost:{private.port}/secret",
        }
        for path, target in targets.items():
            public.set(path, redirect=target, redirect_status=302)
        public.set("/fine", body=RSS)
        public.set("/hop", redirect="/fine", redirect_status=301)
        async with HttpClient(allow=["127.0.0.2"]) as http:
            assert (await http.get(public.url("/hop"), trusted=False)).body == RSS
            for path, target in targets.items():
                with pytest.raises(FetchError) as caught:
                    await http.get(public.url(path), trusted=False)
                assert str(caught.value).startswith(
                    f"refusing to fetch a redirect from {public.url(path)} to {target}: "
                )
    assert private.requests == []


async def test_a_host_that_re_resolves_is_checked_again_at_connect_time(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the first lookup looks public, the connection's lookup is not."""
    feed_server.set("/feed", body=RSS)

    async def looks_public(self: AddressGuard, url: str) -> None:
        return None

    monkeypatch.setattr(AddressGuard, "check_url", looks_public)
    async with HttpClient() as http:
        with pytest.raises(FetchError) as caught:
            await http.get(f"http://localhost:{feed_server.port}/feed", trusted=False)
    assert str(caught.value) == (
        f"refusing to fetch http://localhost:{feed_server.port}/feed: localhost resolves to "
        f"127.0.0.1, a loopback address {HINT}"
    )
    assert feed_server.requests == []


async def test_local_files_are_refused_for_untrusted_sources(tmp_path: object) -> None:
    async with HttpClient() as http:
        with pytest.raises(FetchError, match="refusing to read a local file"):
            await http.get("file:///etc/hostname", trusted=False)


async def test_unknown_hosts(no_network: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(host: str, *args: object, **kwargs: object) -> None:  # no real DNS query
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    async with HttpClient() as http:
        with pytest.raises(FetchError, match=r"host not found: no-such-host\.invalid"):
            await http.get("http://no-such-host.invalid/feed", trusted=False)


def test_bad_allowlist_entries() -> None:
    for entry in ("10.0.0.0/33", "http://x/", "a b", ""):
        with pytest.raises(ValueError, match="allow_private"):
            HttpClient(allow=[entry])


async def test_a_per_request_user_agent(feed_server: FeedServer) -> None:
    feed_server.set("/feed", body=RSS)
    async with HttpClient() as http:
        await http.get(feed_server.url("/feed"), user_agent="python:dozor:0.1 (test)")
        await http.get(feed_server.url("/feed"))
    first, second = feed_server.requests_to("/feed")
    assert first.headers["user-agent"] == "python:dozor:0.1 (test)"
    assert second.headers["user-agent"].startswith("Dozor/")


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2a00:1450:4001:82b::200e", None),
        ("127.0.0.5", "a loopback address"),
        ("169.254.169.254", "a link-local address (where cloud metadata services live)"),
        ("fe80::1", "a link-local address (where cloud metadata services live)"),
        ("fc00::1", "a private address"),
        ("192.0.2.1", "a private address"),  # documentation range
        ("ff02::1", "a multicast address"),
        ("::", "an unspecified address"),
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


def test_redact_url_hides_tokens() -> None:
    url = "https://api.vk.com/method/wall.get?domain=x&access_token=SECRET&v=5.199"
    assert redact_url(url) == "https://api.vk.com/method/wall.get?domain=x&access_token=***&v=5.199"
    assert (
        redact_url("https://u:p@example.com/?api_key=k&q=1")
        == "https://example.com/?api_key=***&q=1"
    )
    assert redact_url("https://example.com/feed?token=") == "https://example.com/feed?token="
