"""Mail on a sign-in from a browser without the person's mark (mfa.marks): the person
hears which browser, from which address and when, and what to do if it was not them.
No mail for a marked browser; at most one a day per browser and address (the outbox's
event key)."""

import hashlib
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import User
from livits.addresses import address_block

from .notify import local_moment, notify
from .sessions import browser_words


def new_browser_key(*, user: User, user_agent: str, ip: str | None, now: datetime) -> str:
    """The outbox event key: one mail per person, browser, address (IPv6: its /64) and day."""
    parts = f"{user.pk}\n{user_agent}\n{address_block(ip) or ''}\n{now.date().isoformat()}"
    return "new-browser:" + hashlib.sha256(parts.encode()).hexdigest()


def new_browser_notify(request: HttpRequest, *, user: User, ip: str | None, now: datetime) -> None:
    """Queue the mail, in the language of the request that signed in."""
    user_agent = request.headers.get("user-agent", "")
    language = getattr(request, "LANGUAGE_CODE", None) or settings.LANGUAGE_CODE
    with translation.override(language):
        link = settings.SITE_URL + reverse("mfa:sessions")
        notify(
            user,
            gettext("Livits: sign-in from a new browser"),
            gettext(
                "Someone signed in to your Livits account on %(when)s from a browser that "
                "was not used for your account before: %(browser)s, from address %(ip)s. Was "
                "this you? Then you need not do anything. Was it not you? End that session on "
                "%(link)s, change your password and tell your administrator."
            )
            % {
                "when": local_moment(now),
                "browser": browser_words(user_agent) or gettext("an unknown browser"),
                "ip": ip or "?",
                "link": link,
            },
            event_key=new_browser_key(user=user, user_agent=user_agent, ip=ip, now=now),
        )
