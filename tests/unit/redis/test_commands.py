"""The redis-cli command-line syntax both ways, and what blocked clients wait for."""

import pytest

from dbtop.engines.redis.commands import (
    LIST_PUSH,
    MODULE,
    PAUSE,
    REPLICA_ACK,
    STREAM_ADD,
    blocking_kind,
    display_name,
    join_command,
    quote_arg,
    split_command_line,
)


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("HGETALL user:1", [b"HGETALL", b"user:1"]),
        ('  SET "a b"   "x\\x41\\n" ', [b"SET", b"a b", b"xA\n"]),
        ("GET 'it\\'s'", [b"GET", b"it's"]),
        ('SET k ""', [b"SET", b"k", b""]),
        ('GET "\\xff\\x00"', [b"GET", b"\xff\x00"]),
        ("", []),
    ],
)
def test_split_command_line_like_redis_cli(line, args):
    assert split_command_line(line) == args


@pytest.mark.parametrize("line", ['GET "open', "GET 'open", 'GET "a"b'])
def test_unbalanced_quotes_are_refused(line):
    with pytest.raises(ValueError):
        split_command_line(line)


@pytest.mark.parametrize(
    "arg",
    [
        b"plain",
        b"with space",
        b'quote"inside',
        b"back\\slash",
        b"\xff\x00\x7f",
        "ключ".encode(),
        b"",
    ],
)
def test_quote_arg_round_trips(arg):
    assert split_command_line(quote_arg(arg)) == [arg]


def test_join_command_keeps_plain_args_bare():
    assert join_command([b"HGET", b"user:1", b"first name"]) == 'HGET user:1 "first name"'


def test_control_characters_are_escaped_not_printed():
    assert "\x1b" not in quote_arg(b"\x1b[31mred")


def test_display_name_of_subcommands():
    assert display_name("client|list") == "CLIENT LIST"
    assert display_name("get") == "GET"


@pytest.mark.parametrize(
    ("cmd", "kind"),
    [
        ("blpop", LIST_PUSH),
        ("BLMOVE", LIST_PUSH),
        ("xreadgroup", STREAM_ADD),
        ("wait", REPLICA_ACK),
        ("set", PAUSE),  # a plain command with the b flag was postponed by CLIENT PAUSE
        ("ft.search", MODULE),
    ],
)
def test_blocking_kind(cmd, kind):
    assert blocking_kind(cmd, blocked=True) is kind


def test_not_blocked_is_no_wait():
    assert blocking_kind("blpop", blocked=False) is None
