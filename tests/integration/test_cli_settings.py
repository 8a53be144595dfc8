"""Invalid settings through the real CLI (issue 19.3, 19.8, 19.18): every command of the typer app exits 2 with one
line naming the setting, no traceback, and never a secret's value."""

import json

import pytest
import typer
from typer.testing import CliRunner

from optionsv4_lib.cli.main import app
from optionsv4_lib.config import settings as current_settings

SECRET_URL = "postgresql://u:SECRETPW123@db.example.com/postgres"
SECRET_TOKEN = "eyJ-settings-SECRET-77"


def commands(command=None, path=()) -> list[tuple[str, ...]]:
    """Every leaf command of the app, sub-apps included, as its argument path, e.g. ('db', 'status')."""
    command = command or typer.main.get_command(app)
    subs = getattr(command, "commands", None)
    if not subs:
        return [path]
    return [leaf for name, sub in sorted(subs.items()) for leaf in commands(sub, (*path, name))]


@pytest.fixture
def broken(monkeypatch):
    """Run the CLI with extra environment; secrets set, so a message that leaked them would show."""
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", SECRET_URL)
    monkeypatch.setenv("DHAN_ACCESS_TOKEN", SECRET_TOKEN)
    for name in ("OPTIONSV4_CAPITAL", "OPTIONSV4_RISK_PROFILE", "OPTIONSV4_LIVE_TRADING", "OPTIONSV4_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)

    def run(env: dict[str, str], *args: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield run
    current_settings.cache_clear()


def assert_one_line_error(ran, *words: str) -> None:
    assert ran.exit_code == 2, (ran.exit_code, ran.output, ran.exception)
    assert isinstance(ran.exception, SystemExit)  # not an exception that escaped
    assert "Traceback" not in ran.stdout + ran.stderr and ran.stdout == ""
    assert ran.stderr.startswith("error: ") and ran.stderr.count("\n") == 1, ran.stderr
    for word in words:
        assert word in ran.stderr, ran.stderr
    assert "SECRETPW123" not in ran.stderr and SECRET_TOKEN not in ran.stderr


@pytest.mark.parametrize("command", commands(), ids=" ".join)
def test_every_command_refuses_a_broken_setting_in_one_line(broken, command):
    assert len(commands()) >= 20  # the enumeration found the sub-apps' commands too
    assert_one_line_error(broken({"OPTIONSV4_CAPITAL": "abc"}, *command), "OPTIONSV4_CAPITAL", "'abc'")


@pytest.mark.parametrize("command", commands(), ids=" ".join)
def test_help_stays_readable_while_a_setting_is_broken(broken, command):
    ran = broken({"OPTIONSV4_CAPITAL": "abc"}, *command, "--help")
    assert ran.exit_code == 0 and "Usage:" in ran.stdout and "OPTIONSV4_CAPITAL" not in ran.output, ran.output


@pytest.mark.parametrize(("name", "value", "words"), [
    ("OPTIONSV4_CAPITAL", "-5", ["greater than 0"]),
    ("OPTIONSV4_CAPITAL", "0", ["greater than 0"]),
    ("OPTIONSV4_CAPITAL", "abc", ["valid number"]),
    ("OPTIONSV4_CAPITAL", "nan", ["finite number"]),
    ("OPTIONSV4_CAPITAL", "inf", ["finite number"]),
    ("OPTIONSV4_RISK_PROFILE", "reckless", ["'conservative', 'moderate' or 'aggressive'", "'reckless'"]),
    ("OPTIONSV4_LIVE_TRADING", " 1", ["expected 1"]),
    ("OPTIONSV4_LIVE_TRADING", "true", ["expected 1"]),
    ("OPTIONSV4_LIVE_TRADING", "yes", ["expected 1"]),
    ("OPTIONSV4_LIVE_TRADING", "on", ["expected 1"]),
    ("OPTIONSV4_LIVE_TRADING", "t", ["expected 1"]),
    ("OPTIONSV4_LIVE_TRADING", "y", ["expected 1"]),
])
def test_an_invalid_value_is_named_with_the_setting(broken, name, value, words):
    assert_one_line_error(broken({name: value}, "strategies"), f"setting {name}:", *words)


def test_live_trading_takes_exactly_the_documented_values(broken):
    for value, armed in (("1", True), ("0", False), ("", False)):
        ran = broken({"OPTIONSV4_LIVE_TRADING": value}, "strategies", "--json")
        assert ran.exit_code == 0, ran.output
        assert current_settings().live_trading is armed


@pytest.mark.parametrize(("content", "words"), [
    (None, ["cannot read it", "No such file"]),
    ("{not json", ["not JSON"]),
    ("[1, 2]", ["expected a JSON object"]),
    ('"moderate"', ["expected a JSON object"]),
    ('{"profilez": {"moderate": {"min_pop": 0.55}}}', ["unknown key(s) 'profilez'", "valid keys:", "profiles",
                                                        "capital"]),
    ('{"profiles": {"moderate": {"min_pop": 2}}}', ["profiles.moderate.min_pop", "less than or equal to 1"]),
])
def test_a_bad_config_file_is_named(broken, tmp_path, content, words):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    ran = broken({"OPTIONSV4_CONFIG_FILE": str(path)}, "report")
    assert_one_line_error(ran, "OPTIONSV4_CONFIG_FILE", *words)


def test_a_good_config_file_still_applies(broken, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"profiles": {"moderate": {"min_pop": 0.55}}, "capital": 5e7}))
    ran = broken({"OPTIONSV4_CONFIG_FILE": str(path)}, "strategies", "--json")
    assert ran.exit_code == 0, ran.output
    assert current_settings().limits("moderate").min_pop == 0.55 and current_settings().capital == 5e7
    assert current_settings().limits("aggressive").min_pop == 0.35  # its default, kept beside the override


@pytest.mark.parametrize("url", ["notaurl SECRETPW123", "SECRETPW123", "host=db notakeyword=SECRETPW123"])
def test_a_database_url_libpq_cannot_read_is_never_printed(broken, url):
    """Issue 19.15: neither a URI nor key=value pairs — it may be a password pasted whole, so it shows as ***."""
    env = {"OPTIONSV4_DATABASE_URL": url}
    for args in (["db", "check"], ["report"], ["mark", "--list-recent"]):
        ran = broken(env, *args)
        assert_one_line_error(ran, "cannot connect to ***", "neither a PostgreSQL URI")
    for args in (["db", "status"], ["db", "url"]):
        ran = broken(env, *args)
        assert ran.exit_code == 0 and "SECRETPW123" not in ran.output and "***" in ran.output, ran.output
    assert broken(env, "db", "url", "--show-secret").output.strip() == url  # asked for
