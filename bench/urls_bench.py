from django.contrib.auth.views import LoginView
from django.urls import include, path
from two_factor.urls import urlpatterns as two_factor_urls

from livits.urls import urlpatterns


class StockLoginView(LoginView):
    """Django's own LoginView, password only, rendering the same login page as ours (base
    layout, fields, language switch), so that the two differ only in what they decide."""

    template_name = "accounts/login.html"


urlpatterns = [
    path("stock/login/", StockLoginView.as_view(), name="stock_login"),
    path("", include(two_factor_urls)),
    *urlpatterns,
]
