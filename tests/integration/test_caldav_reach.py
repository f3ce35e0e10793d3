"""CalDAV requests go only where the deployment reaches (connectors/netpolicy.py), also when
the server names another host (a redirect, an href) or its name later resolves elsewhere."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest

from connectors.caldav.client import CalDavClient
from connectors.caldav.connect import connect, reach_of
from connectors.caldav.credentials import CalDavCredentials
from connectors.netpolicy import AddressRefused, Reach
from connectors.registry import ConnectRefused
from tests.support.servers import HandlerServer


class _Redirecting(http.server.BaseHTTPRequestHandler):
    target = "http://169.254.169.254/latest/meta-data/"
    hits: list[str] = []

    def _answer(self) -> None:
        self.hits.append(self.path)
        self.send_response(301)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PROPFIND = do_GET = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[str]:
    with HandlerServer(_Redirecting) as server:
        yield server.url


def credentials(url: str) -> CalDavCredentials:
    return CalDavCredentials(url=url, username="ann", password="app-password")


def test_a_redirect_to_cloud_metadata_is_refused_even_for_self_hosting(redirecting: str) -> None:
    client = CalDavClient(credentials(redirecting), timeout=5, reach=reach_of(True))
    try:
        with pytest.raises(AddressRefused, match="link-local"):
            client.principal()
    finally:
        client.close()


def test_the_connect_form_says_where_the_server_pointed(redirecting: str) -> None:
    with pytest.raises(ConnectRefused) as refused:
        connect(redirecting, "ann", "app-password", timeout=5, allow_private=True)
    assert refused.value.field == "server"
    assert "does not connect to" in str(refused.value)


def test_a_name_that_rebinds_to_loopback_is_refused_once_connected(redirecting: str) -> None:
    """The check before connecting believed a public address; the peer was loopback."""
    url = redirecting.replace("127.0.0.1", "localhost")
    client = CalDavClient(
        credentials(url), timeout=5, reach=Reach(), resolve=lambda host, port: ["93.184.215.14"]
    )
    before = len(_Redirecting.hits)
    try:
        with pytest.raises(AddressRefused, match="loopback"):
            client.principal()
    finally:
        client.close()
    assert len(_Redirecting.hits) == before  # refused before the request was sent


@pytest.mark.parametrize(
    ("address", "allow_private", "said"),
    [
        ("169.254.169.254", True, "link-local address"),
        ("::ffff:127.0.0.1", False, "private or local address"),
        ("64:ff9b::a00:1", False, "private or local address"),  # NAT64 of 10.0.0.1
        ("10.0.0.5", False, "private or local address"),
        ("0.0.0.0", True, "unspecified address"),
    ],
)
def test_the_connect_form_refuses_addresses_by_the_shared_classifier(
    address: str, allow_private: bool, said: str
) -> None:
    with pytest.raises(ConnectRefused, match=said):
        connect(
            "https://cal.example.org/",
            "ann",
            "app-password",
            timeout=5,
            allow_private=allow_private,
            resolve=lambda host, port: [address],
        )


def test_a_password_in_the_url_is_refused_before_any_request() -> None:
    with pytest.raises(ConnectRefused, match="in their own fields") as refused:
        connect(
            "https://ann:app-password@cal.example.org/dav/",
            "ann",
            "app-password",
            resolve=lambda host, port: pytest.fail("nothing may be resolved"),
        )
    assert refused.value.field == "server"
    assert "app-password" not in str(refused.value)
