"""The product's own error pages for the web UI (404 and 500), in debug mode too; the API and the event endpoint
answer in JSON.

Django in debug mode answers a 404 with its technical page, which lists every URL pattern of the site: the demo
runs in debug mode, so ``ErrorPagesMiddleware`` puts the product's page in its place (a 500 keeps Django's debug
page there: a developer's traceback is worth having). Without debug, ``handler404`` and ``handler500`` in
``klearly.urls`` serve the same pages.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404

JSON_PREFIXES = ("/api/", "/ingest/")


def _json(request: HttpRequest) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 page: the product's, with the reason a view gave ("No account you can see has this number.")."""
    if _json(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    message = ""
    if isinstance(exception, Http404) and not isinstance(exception, Resolver404) and exception.args:
        message = exception.args[0] if isinstance(exception.args[0], str) else ""
    response = render(request, "404.html", {"message": message}, status=404)
    response.klearly_page = True  # type: ignore[attr-defined]  # a mark on this response; Django's take any attribute
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page, rendered without a request context (the error may lie in what a context needs)."""
    if _json(request):
        return JsonResponse({"detail": "A server error occurred; it has been logged."}, status=500)
    return HttpResponseServerError(loader.get_template("500.html").render())


class ErrorPagesMiddleware:
    """In debug mode, the web UI's 404 is the product's page instead of Django's technical one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")  # an API's JSON 404 is left as it is
            and not getattr(response, "klearly_page", False)
        ):
            return page_not_found(request, getattr(request, "_klearly_not_found", None))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, Http404):  # kept for its message; Django still turns it into the response
            request._klearly_not_found = exception  # type: ignore[attr-defined]  # kept on this request for the 404 page
