"""The command line's HTTP/2 settings: passed on to the server with ``--http2``, refused
without it, and a bad value is one line and exit status 2."""

from __future__ import annotations

import pytest

pytest.importorskip("h2", reason="HTTP/2 needs h2: pip install 'tornadish[http2]'")

from tornadish import __main__ as cli
from tornadish.web import Application


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """What the command line passes to ``tornadish.run`` (which is not run)."""
    passed: dict[str, object] = {}
    monkeypatch.setattr("tornadish._runner.run.run", lambda app, **kw: passed.update(kw))
    monkeypatch.setattr(cli, "load_app", lambda spec: Application())
    return passed


def test_the_http2_settings_go_to_the_server(seen: dict[str, object]) -> None:
    cli.main(
        [
            "run",
            "anything:app",
            "--http2",
            "--h2-max-concurrent-streams",
            "250",
            "--h2-ping-interval",
            "0",
            "--h2-ping-timeout",
            "5.5",
            "--h2-window-timeout=30",
        ]
    )
    assert seen["http2"] is True
    assert seen["h2_max_concurrent_streams"] == 250
    assert seen["h2_ping_interval"] == 0.0
    assert seen["h2_ping_timeout"] == 5.5
    assert seen["h2_window_timeout"] == 30.0


def test_unset_http2_settings_keep_the_servers_defaults(seen: dict[str, object]) -> None:
    cli.main(["run", "anything:app", "--http2"])
    assert seen["http2"] is True
    assert not [key for key in seen if key.startswith("h2_")]
    seen.clear()
    cli.main(["run", "anything:app"])
    assert "http2" not in seen


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--h2-ping-timeout", "5"], "--h2-ping-timeout is an HTTP/2 setting: add --http2"),
        (["--http2", "--h2-max-concurrent-streams", "0"], "1 or more, not '0'"),
        (["--http2", "--h2-max-concurrent-streams", "many"], "not 'many'"),
        (["--http2", "--h2-ping-interval", "-1"], "0 or more, not '-1'"),
        (["--http2", "--h2-ping-timeout", "0"], "more than 0, not '0'"),
        (["--http2", "--h2-window-timeout", "nan"], "more than 0, not 'nan'"),
    ],
    ids=["without-http2", "zero-streams", "not-a-number", "negative", "zero-timeout", "nan"],
)
def test_a_bad_http2_setting_is_one_line_and_exit_status_2(
    seen: dict[str, object],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    fragment: str,
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "anything:app", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and ": error: " in err and fragment in err, err
    assert seen == {}
