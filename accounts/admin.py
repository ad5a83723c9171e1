from django.contrib import admin
from django.contrib.auth.views import redirect_to_login

from .models import Person, User

# The Django admin has no login of its own: everyone comes in through the
# backoffice login, so no path skips the access code.
admin.site.login = lambda request, extra_context=None: redirect_to_login(request.get_full_path())
admin.site.site_header = "Livits"


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["id", "last_name", "first_name", "infix", "email", "relation_type"]
    search_fields = ["first_name", "last_name", "email"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["username", "person", "is_active", "is_hidden", "is_staff", "login_count"]
    search_fields = ["username"]
    fields = ["username", "person", "is_active", "is_hidden", "is_staff", "is_superuser", "groups"]
    raw_id_fields = ["person"]
