"""The only authentication backend: permissions and the session's user, never a login.

Django's ModelBackend would accept `authenticate(username=..., password=...)`, a
password-only way in beside the project's own decision (mfa.login). This backend keeps
what ModelBackend gives the rest of Django (has_perm, get_user for the session) and
authenticates nobody: a session is opened only by accounts.views.login_view and the
passkey sign-in, after mfa decided.
"""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from .models import User


class PermissionsOnlyBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> User | None:
        return None
