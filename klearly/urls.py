"""Top-level URLs: the web UI (inbox, account pages, lists), login, the admin, the API and its docs, a health check."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from klearly.outages import dependencies_check


def healthz(request: HttpRequest) -> JsonResponse:
    """Which dependencies answer, as JSON ({"status", "database", "cache", "broker"}): 200 when all do, else 503.

    ``?only=database`` (a comma-separated list) judges only those: a load balancer should not take web servers out
    when only Redis is down, since ingestion goes on without it."""
    states = dependencies_check()
    only = {name.strip() for name in request.GET.get("only", "").split(",") if name.strip()}
    healthy = all(state != "down" for name, state in states.items() if not only or name in only)
    return JsonResponse({"status": "ok" if healthy else "unavailable", **states}, status=200 if healthy else 503)


admin.site.site_header = "Klearly administration"
admin.site.site_title = "Klearly"
admin.site.index_title = "Signals, scores and playbooks"

urlpatterns = [
    path("", include("klearly.web.urls")),
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
