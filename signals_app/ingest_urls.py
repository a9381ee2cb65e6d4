from django.urls import path

from .ingest_views import ingest

app_name = "ingest"
urlpatterns = [
    path("v1/batch", ingest, {"kind": "batch"}, name="batch"),
    path("v1/import", ingest, {"kind": "batch"}, name="import"),  # Segment's historical-import alias
    *[
        path(f"v1/{kind}", ingest, {"kind": kind}, name=kind)
        for kind in ("identify", "track", "group", "page", "screen", "alias")
    ],
]
