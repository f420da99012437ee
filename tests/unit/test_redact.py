"""One function hides every password a message may quote (dbtop.safetext.redact): the
CLI's errors and process title, the recording's gap reasons, MongoDB's driver messages and
the fleet's status lines all use it. Each case names what a password may hold."""

from __future__ import annotations

import pytest

from dbtop.cli.common import redact as cli_redact
from dbtop.engines.mongodb.connection import redact_message
from dbtop.recording.masking import redact as recording_redact
from dbtop.safetext import redact

CASES = [
    # (text, redacted, the secret that must be gone)
    ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x", "s3cret"),
    ("postgresql://app:p@ss@db/x failed", "postgresql://app:***@db/x failed", "p@ss"),
    ("mysql://root:a:b:c@h/db", "mysql://root:***@h/db", "a:b:c"),
    ("mysql://root:pa/ss@h:3306/db", "mysql://root:***@h:3306/db", "pa/ss"),
    ("postgresql://app:p%40ss%3A@db/x", "postgresql://app:***@db/x", "p%40ss%3A"),
    ("mongodb+srv://u:pw@cluster0.example.net/?retryWrites=true", None, "pw@"),
    ("mongodb://u:pw@h1:27017,h2:27018,h3/shop?replicaSet=rs0", None, ":pw@"),
    ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0", "hunter2"),
    ("rediss://default:hunter2@cache:6380", "rediss://default:***@cache:6380", "hunter2"),
    ("postgresql://h/db?sslmode=require&password=hunter2", None, "hunter2"),
    ("mysql://u@h/db?PASSWORD=hunter2&ssl=1", "mysql://u@h/db?PASSWORD=***&ssl=1", "hunter2"),
    ("host=db user=app password=hunter2 dbname=x", None, "hunter2"),
    ("postgresql://h/db?sslpassword=hunter2", None, "hunter2"),
    ("DSN=x;UID=app;pwd=hunter2", None, "hunter2"),
    ("mongodb://me%40corp.example:pw@h/db", "mongodb://me%40corp.example:***@h/db", ":pw@"),
    ("mongodb://me@corp.example:pw@h/db", "mongodb://me@corp.example:***@h/db", ":pw@"),
    # two URLs in one message, and two in one word
    (
        "a postgresql://u:p1@h/x and redis://:p2@r/0",
        "a postgresql://u:***@h/x and redis://:***@r/0",
        "p1",
    ),
    ("a=postgresql://u:p1@h,b=redis://:p2@r", "a=postgresql://u:***@r", "p2"),
]

UNCHANGED = [
    "postgresql://app@db:5432/x",  # a user without a password
    "app@db:5432/x: connection refused",
    "mongodb://h1:27017,h2:27018/?replicaSet=rs0",
    "redis://cache:6379/0",
    "ratio 3:2 at 10:30",
    "",
]


@pytest.mark.parametrize(("text", "expected", "secret"), CASES)
def test_every_password_is_hidden(text: str, expected: str | None, secret: str) -> None:
    shown = redact(text)
    assert secret not in shown
    if expected is not None:
        assert shown == expected
    assert redact(shown) == shown  # redacting twice changes nothing more


@pytest.mark.parametrize("text", UNCHANGED)
def test_text_without_a_password_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_the_cli_the_recording_and_mongodb_use_the_shared_function() -> None:
    for text, _expected, _secret in CASES:
        shown = redact(text)
        assert cli_redact(text) == recording_redact(text) == redact_message(text) == shown
