"""What every page shows about MFA: the banner of a planned go-live, for whoever has not
linked an app yet (issue: a go-live everyone sees coming)."""

from typing import Any

from django.http import HttpRequest

from livits import clock

from .middleware import mfa_settings_of
from .rollout import rollout_banner

BANNER_HIDDEN = "mfa_banner_hidden"


def rollout(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    banner = rollout_banner(user, clock.now(), mfa_settings_of(request))
    if banner is None or (request.session.get(BANNER_HIDDEN) and not banner["fixed"]):
        return {}
    return {"rollout_banner": banner}
