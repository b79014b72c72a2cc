"""What `make demo` prints: the dashboard's address and links that sign in."""

from pathlib import Path

from demo.banner import banner, sign_in_link


def test_the_banner_gives_the_dashboard_and_sign_in_links_with_the_token_in_the_fragment():
    text = banner("http://127.0.0.1:8000", "admin-token-0123456789", {1: "tok-1", 2: "tok-2"}, "127.0.0.1", 1883,
                  ("watcher", "pw"), 2, Path("data"))
    assert "Dashboard and API  http://127.0.0.1:8000/" in text
    assert "customer 1  http://127.0.0.1:8000/#token=tok-1" in text
    assert "operator    http://127.0.0.1:8000/#token=admin-token-0123456789" in text


def test_a_sign_in_link_escapes_what_a_fragment_cannot_hold():
    assert sign_in_link("http://h:1", "a b#c") == "http://h:1/#token=a%20b%23c"
