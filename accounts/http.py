"""Typing for views: the request of a logged-in user carries a system user."""

from django.http import HttpRequest

from .models import User


class AuthenticatedRequest(HttpRequest):
    """What views behind login_required receive (django-stubs' pattern)."""

    user: User
