"""Who may act on whose record, applied to the request: one guard for every view."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from .http import AuthenticatedRequest
from .models import Person
from .services import may_manage


def managed_person(request: AuthenticatedRequest, pk: int) -> Person:
    """The person `pk` with their system user (404 when unknown), if the logged-in user
    may act on them (accounts.services.may_manage; 403 otherwise)."""
    person = get_object_or_404(Person.objects.select_related("system_user"), pk=pk)
    if not may_manage(request.user, getattr(person, "system_user", None)):
        raise PermissionDenied
    return person
