"""``infoscrub serve`` wiring: arguments, loopback default, limits passed to the app."""

from __future__ import annotations

import argparse

import pytest
from conftest_faces import make_scrubber

from infoscrub.cli import serve_cmd
from infoscrub.errors import InfoscrubError
from infoscrub.scrubber import Scrubber


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve_cmd.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def test_defaults_are_loopback() -> None:
    args = parse([])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    assert serve_cmd.is_loopback("127.0.0.1") and serve_cmd.is_loopback("::1")
    assert serve_cmd.is_loopback("localhost") and not serve_cmd.is_loopback("0.0.0.0")


def test_runs_uvicorn_with_limits_and_warns_off_loopback(monkeypatch, capsys) -> None:
    import uvicorn

    calls = {}
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: make_scrubber()))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    args = parse(["--host", "0.0.0.0", "--port", "8123", "--max-upload-mb", "3"])
    assert args.handler(args) == 0
    assert calls["host"] == "0.0.0.0" and calls["port"] == 8123
    paths = {route.path for route in calls["app"].routes}
    assert {"/", "/healthz", "/v1/attributes", "/v1/scrub"} <= paths
    assert "no authentication" in capsys.readouterr().err
    assert calls["timeout_keep_alive"] == serve_cmd.KEEP_ALIVE_S
    assert calls["http"].header_timeout_s == 10.0  # the header deadline ships by default


def test_header_timeout_reaches_the_server(monkeypatch) -> None:
    import uvicorn

    calls = {}
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: make_scrubber()))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    args = parse(["--header-timeout", "2.5"])
    assert args.handler(args) == 0
    assert calls["http"].header_timeout_s == 2.5


def test_allowed_hosts_and_body_timeout_reach_the_app(monkeypatch) -> None:
    import httpx
    import uvicorn
    from conftest import serving

    calls = {}
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: make_scrubber()))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    args = parse(["--host", "192.0.2.7", "--allowed-host", "scrub.lan",
                  "--allowed-host", "photos.example", "--body-timeout", "3"])
    assert args.handler(args) == 0
    with serving(calls["app"]) as url:
        info = httpx.get(f"{url}/v1/attributes").json()
        assert info["limits"]["body_idle_timeout_s"] == 3
        for host, status in [("192.0.2.7:8000", 200), ("scrub.lan", 200),
                             ("photos.example", 200), ("localhost", 200), ("[::1]", 200),
                             ("evil.example", 400)]:
            assert httpx.get(f"{url}/healthz", headers={"Host": host}).status_code == status


@pytest.mark.parametrize("argv, match", [(["--port", "70000"], "port"),
                                         (["--body-timeout", "0"], "body-timeout"),
                                         (["--header-timeout", "0"], "header-timeout"),
                                         (["--header-timeout", "nan"], "header-timeout")])
def test_bad_option_is_a_one_line_error(argv, match) -> None:
    args = parse(argv)
    with pytest.raises(InfoscrubError, match=match):
        args.handler(args)
