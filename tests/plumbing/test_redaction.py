"""Service URLs in errors and logs: the password never shows, whatever the URL's shape."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from parsefleet.plumbing.redaction import shown_url

SECRET = "hunter2"


@pytest.mark.parametrize(
    ("url", "keeps"),
    [
        ("rediss://:hunter2@cache.example:6380/2", ["rediss://", "cache.example:6380/2"]),
        ("redis://worker:hunter2@10.0.0.5:6379/0", ["worker:***@10.0.0.5:6379/0"]),
        ("unix:///tmp/redis.sock", ["unix:///tmp/redis.sock"]),
        ("postgresql://app:hunter2@db/parse?sslmode=require", ["app:***@db", "/parse", "sslmode=require"]),
        ("postgresql://bob@db:5432/parse?password=hunter2&sslmode=require", ["bob:***@db:5432/parse"]),
        ("postgresql://db/parse?sslmode=verify-full&sslpassword=hunter2", ["db/parse", "sslmode=verify-full"]),
        ("host=db port=5432 password=hunter2 user=bob", ["bob:***@db:5432"]),
        ("host=db password='hunt er2' user=bob", ["bob:***@db"]),
        ("postgresql://app:hunt/er2@db/parse", ["postgresql://"]),
        ("postgresql://app:hunter2@[::1]:5432/parse", ["app:***@", "5432/parse"]),
        ("postgresql://postgres@/parsefleet?host=/srv/pf/postgres&passfile=/srv/pf/postgres/pgpass",
         ["postgres@/parsefleet", "host=/srv/pf/postgres", "passfile=/srv/pf/postgres/pgpass"]),
    ],
)  # fmt: skip
def test_the_password_is_replaced_and_the_rest_kept(url: str, keeps: list[str]) -> None:
    shown = shown_url(url)
    assert SECRET not in shown and "hunt er2" not in shown and "hunt/er2" not in shown and "er2@" not in shown
    for part in keeps:
        assert part in shown, shown


@pytest.mark.parametrize("password", ["pa?ss#word1", "p#ss?w?rd2", "a?b#c/d@e9"])
def test_passwords_that_libpq_accepts_unencoded_never_show(password: str) -> None:
    """libpq reads '?' and '#' in a URL's password as part of it; a URL parser stops there."""
    url = f"postgresql://app:{password}@db.internal:5432/parse"
    if "@" not in password:
        assert conninfo_to_dict(url)["password"] == password  # what the server will be sent
    shown = shown_url(url)
    assert password not in shown
    assert not any(piece in shown for piece in password.replace("#", "?").split("?") if len(piece) >= 3), shown


@pytest.mark.parametrize("url", ["redis://:pa?ss#w0rd@cache:6379/0", "rediss://u:p#ss?w0rd@cache:6380/1"])
def test_redis_urls_with_separators_in_the_password_never_show_it(url: str) -> None:
    shown = shown_url(url)
    assert "w0rd" not in shown and "pa?ss" not in shown and "p#ss" not in shown, shown
