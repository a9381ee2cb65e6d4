"""Top-level URLs: the web UI (inbox, account pages, lists), login, the admin, the API and its docs, a health check."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and the test harness."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


admin.site.site_header = "Klearly administration"
admin.site.site_title = "Klearly"
admin.site.index_title = "Signals, scores and playbooks"

urlpatterns = [
    path("", include("playbooks.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("klearly.api.urls")),
    path("ingest/", include("signals_app.ingest_urls")),
    path("healthz", healthz, name="healthz"),
]

# The product's own error pages (JSON under /api/ and /ingest/); in debug mode klearly.errors.ErrorPagesMiddleware
# serves the same 404 page instead of Django's technical one.
handler404 = "klearly.errors.page_not_found"
handler500 = "klearly.errors.server_error"
