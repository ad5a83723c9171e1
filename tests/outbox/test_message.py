"""The outbox's pure rules: no database, no server."""

import smtplib
from datetime import UTC, datetime, timedelta

import pytest

from outbox.message import address, failure, mail_text, one_line, retry_at

QUEUED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["a\r\nb", "a\nb", "a\rb", "a\x0bb", "a\x0cb", "a\x1cb", "a\x85b", "a\u2028b", "a\u2029b"],
)
def test_one_line_turns_every_line_break_into_a_space(text):
    assert one_line(text) == "a b"


def test_one_line_drops_control_characters_and_keeps_the_rest():
    assert one_line("  Ann\x00\x1b[31m  de Wit  ") == "Ann [31m de Wit"
    assert one_line("Zoë – ☎") == "Zoë – ☎"


def test_mail_text_keeps_the_templates_lines_and_numbers_and_flattens_the_data():
    body = mail_text("Code %(number)d\r\nby %(who)s", number=3, who="Ann\n\nBcc: x")
    assert body == "Code 3\nby Ann Bcc: x"


@pytest.mark.parametrize(
    "value", ["a@example.org\r\nBcc: b@example.org", " a@example.org", "a@example.org\x00", "a"]
)
def test_an_address_is_right_or_refused(value):
    with pytest.raises(ValueError):
        address(value)


def test_the_backoff_doubles_to_an_hour(settings):
    moments = [
        retry_at(attempts=attempts, queued_at=QUEUED, now=QUEUED) for attempts in range(1, 10)
    ]
    assert [(moment - QUEUED).total_seconds() for moment in moments if moment] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
        3600,
    ]


def test_a_mail_is_given_up_only_after_it_waited_24_hours():
    assert retry_at(attempts=90, queued_at=QUEUED, now=QUEUED + timedelta(hours=24, seconds=-1))
    assert retry_at(attempts=90, queued_at=QUEUED, now=QUEUED + timedelta(hours=24)) is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(111, "refused"), "temporary"),
        (TimeoutError("timed out"), "temporary"),
        (smtplib.SMTPServerDisconnected("gone"), "temporary"),
        (smtplib.SMTPConnectError(421, b"busy"), "temporary"),
        (smtplib.SMTPAuthenticationError(535, b"bad login"), "temporary"),
        (smtplib.SMTPSenderRefused(553, b"not yours", "livits@localhost"), "temporary"),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (450, b"busy")}), "temporary"),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no such user")}), "permanent"),
        (smtplib.SMTPDataError(451, b"later"), "temporary"),
        (smtplib.SMTPDataError(554, b"rejected"), "permanent"),
        (UnicodeEncodeError("ascii", "é", 0, 1, "no"), "permanent"),
    ],
)
def test_only_a_5xx_for_the_recipient_or_the_data_is_final(error, kind):
    assert failure(error) == kind
