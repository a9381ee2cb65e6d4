"""The default scorecard: engagement rules for the signal types Klearly knows (see ``klearly/demo/catalog.py``)."""

from __future__ import annotations

# Signal type key: (points, half-life days, window days, cap). High-intent evaluation signals weigh most and fade in
# weeks; product milestones count within a window; newsletters and page views barely count.
DEFAULT_ENGAGEMENT_RULES: dict[str, tuple[float, float | None, int | None, float | None]] = {
    "pricing-page-view": (5, 14, None, 30),
    "demo-request": (15, 30, None, 30),
    "quote-requested": (15, 30, None, 30),
    "whitepaper-download": (8, 30, None, 24),
    "case-study-download": (6, 30, None, 18),
    "video-watched": (6, 21, None, 18),
    "webinar-attended": (8, 30, None, 24),
    "virtual-event-joined": (5, 30, None, 15),
    "email-click": (2, 14, None, 10),
    "email-open": (0.5, 7, None, 5),
    "page-view": (0.5, 7, None, 10),
    "cta-click": (3, 14, None, 12),
    "trial-started": (10, 30, None, 10),
    "invite-user": (4, None, 30, 20),
    "integration-connected": (8, 60, None, 16),
    "dashboard-created": (2, None, 30, 10),
}
