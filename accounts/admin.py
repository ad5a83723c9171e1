from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth.views import PasswordChangeView, redirect_to_login
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from mfa.middleware import session_keep
from mfa.network import client_ip

from . import services
from .forms import UsernameForm
from .models import Person, User
from .services import may_manage

# The Django admin has no login of its own: everyone comes in through the
# backoffice login, so no path skips the access code.
admin.site.login = lambda request, extra_context=None: redirect_to_login(  # type: ignore[method-assign]
    request.get_full_path()
)
admin.site.site_header = "Livits"


class AuditedPasswordChangeView(PasswordChangeView):
    """The admin's "Change password" of one's own account, through the audited service."""

    form_class = AdminPasswordChangeForm

    def form_valid(self, form: Any) -> HttpResponse:
        services.password_set(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            by=self.request.user,  # type: ignore[arg-type]
            ip=client_ip(self.request),
        )
        session_keep(self.request)  # type: ignore[arg-type]  # this session goes on, on a new key
        return HttpResponseRedirect(self.get_success_url())


def password_change(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
    """AdminSite.password_change with the audited view (Django gives no hook for it)."""
    request.current_app = admin.site.name
    return AuditedPasswordChangeView.as_view(
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context={**admin.site.each_context(request), **(extra_context or {})},
    )(request)


admin.site.password_change = password_change  # type: ignore[method-assign]


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
    form = UsernameForm
    fields = ["username", "person", "is_active", "is_hidden", "is_staff", "is_superuser", "groups"]
    raw_id_fields = ["person"]
    # Rights are given by a superuser only: nobody raises their own.
    RIGHTS = ["is_staff", "is_superuser", "groups"]

    def target(self, obj: User) -> User | None:
        return obj

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if request.user.is_superuser else self.RIGHTS

    def save_model(
        self, request: HttpRequest, obj: User, form: ModelForm[User], change: bool
    ) -> None:
        # Saves the groups too, so that the audit record holds them.
        services.system_user_save(form=form, by=request.user, ip=client_ip(request))  # type: ignore[arg-type]

    def save_related(
        self,
        request: HttpRequest,
        form: ModelForm[User],
        formsets: list[BaseFormSet[Any]],
        change: bool,
    ) -> None:
        for formset in formsets:  # the form itself was saved, groups and all, by save_model
            self.save_formset(request, form, formset, change=change)
