from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest

from .models import Person, User
from .services import may_manage

# The Django admin has no login of its own: everyone comes in through the
# backoffice login, so no path skips the access code.
admin.site.login = lambda request, extra_context=None: redirect_to_login(  # type: ignore[method-assign]
    request.get_full_path()
)
admin.site.site_header = "Livits"


class ManagedAdmin(admin.ModelAdmin[Any]):
    """The admin obeys the backoffice's rule (accounts.services.may_manage): nobody opens
    or changes an account there that they may not manage in the CRM. Deleting goes
    through the CRM, which records it in the audit trail."""

    def target(self, obj: Any) -> User | None:
        raise NotImplementedError

    def _may(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or may_manage(request.user, self.target(obj))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._may(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(ManagedAdmin):
    list_display = ["id", "last_name", "first_name", "infix", "email", "relation_type"]
    search_fields = ["first_name", "last_name", "email"]

    def target(self, obj: Person) -> User | None:
        return getattr(obj, "system_user", None)


@admin.register(User)
class UserAdmin(ManagedAdmin):
    list_display = ["username", "person", "is_active", "is_hidden", "is_staff", "login_count"]
    search_fields = ["username"]
    fields = ["username", "person", "is_active", "is_hidden", "is_staff", "is_superuser", "groups"]
    raw_id_fields = ["person"]
    # Rights are given by a superuser only: nobody raises their own.
    RIGHTS = ["is_staff", "is_superuser", "groups"]

    def target(self, obj: User) -> User | None:
        return obj

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if request.user.is_superuser else self.RIGHTS
