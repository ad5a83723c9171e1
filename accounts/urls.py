from django.urls import path

from . import password_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/change/", password_views.password_change, name="password_change"),
    path("password/forgot/", password_views.password_forgot, name="password_forgot"),
    path(
        "password/<str:kind>/<str:uidb64>/<str:token>/",
        password_views.password_link,
        name="password_link",
    ),
    path("persons/", views.person_list, name="person_list"),
    path("persons/new/", views.person_create, name="person_create"),
    path("persons/<int:pk>/", views.person_detail, name="person_detail"),
    path("persons/<int:pk>/edit/", views.person_update, name="person_update"),
    path("persons/<int:pk>/delete/", views.person_delete, name="person_delete"),
    path("persons/<int:pk>/system-user/", views.system_user_edit, name="system_user_edit"),
]
