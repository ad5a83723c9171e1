import asyncio
import email
import socket
import threading
from collections import deque
from email.message import Message

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    """A real SMTP server on localhost (aiosmtpd, in a thread of the test process) that
    keeps what it receives. `rcpt_replies` are given to the next RCPT commands in turn
    (then 250); with `hold` set, DATA waits for it before answering, and `received` says
    that the data has arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.rcpt_replies: deque[str] = deque()
        self.received = threading.Event()
        self.hold: threading.Event | None = None
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.rcpt_replies.popleft() if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        self.received.set()
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 60)
        return "250 Message accepted"


@pytest.fixture
def smtp_down():
    """An SMTP server on a free port, not started yet: connections are refused."""
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_down):
    smtp_down.start()
    return smtp_down


@pytest.fixture
def smtp_settings(settings, smtp_down):
    """Django's SMTP backend, pointed at the test's server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_down.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 30
    return settings


@pytest.fixture(autouse=True)
def outbox_delivers_at_once():
    """Here the outbox is the subject: its queue and worker run as in production."""
