from django.contrib.auth.views import LoginView
from django.template import engines
from django.urls import include, path
from two_factor.urls import urlpatterns as two_factor_urls

from livits.urls import urlpatterns

STOCK_TEMPLATE = engines["django"].from_string(
    '<form method="post">{% csrf_token %}{{ form }}<button>Log in</button></form>'
)


class StockLoginView(LoginView):
    """Django's own LoginView, password only."""

    def get_template_names(self):
        return []

    def render_to_response(self, context, **kwargs):
        from django.http import HttpResponse

        return HttpResponse(STOCK_TEMPLATE.render(context, self.request))


urlpatterns = [
    path("stock/login/", StockLoginView.as_view(), name="stock_login"),
    path("", include(two_factor_urls)),
    *urlpatterns,
]
