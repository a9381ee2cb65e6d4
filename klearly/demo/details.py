"""What each simulated signal carries besides its type and time: topic, detail, properties and anonymous id."""

from __future__ import annotations

from typing import Any

import numpy as np

from klearly.demo.catalog import CAMPAIGNS, INDUSTRIES, TOPIC_INDEX, TOPIC_PATHS, TOPICS, TYPES


def signal_details(  # noqa: C901, PLR0912 — one branch per signal type's details, in the simulation's order
    rng: np.random.Generator,
    s_account: np.ndarray,
    s_type: np.ndarray,
    s_contact: np.ndarray,
    s_detail_code: np.ndarray,
    ev_details: list[str],
    ev_props: list[dict[str, Any]],
    industry: np.ndarray,
    health: np.ndarray,
) -> tuple[np.ndarray, list[str], list[dict[str, Any]], list[str]]:
    """Topic, detail, properties and anonymous id of each signal."""
    m = len(s_type)
    topic = np.full(m, -1, dtype=np.int64)
    u_topic, u_pick, u_industry = rng.random(m), rng.random(m), rng.random(m)
    industry_topic = np.array([TOPIC_INDEX.get(f"industry--{row[0].lower()}", -1) for row in INDUSTRIES])
    for t, spec in enumerate(TYPES):
        if not spec.topics:
            continue
        rows = np.flatnonzero((s_type == t) & (u_topic < spec.topic_share))
        choices = np.array([TOPIC_INDEX[k] for k in spec.topics])
        topic[rows] = choices[np.floor(u_pick[rows] * len(choices)).astype(np.int64)]
        if "industry--fintech" in spec.topics:
            # content about the reader's own industry, when there is some
            own = industry_topic[industry[s_account[rows]]]
            use_own = (own >= 0) & (u_industry[rows] < 0.4)
            topic[rows[use_own]] = own[use_own]
    small_int = rng.integers(0, 1_000_000, m)
    visitor = rng.integers(0, 4, m)
    keys = [spec.key for spec in TYPES]
    topic_keys = [key for key, _label, _parent in TOPICS]
    details: list[str] = []
    properties: list[dict[str, Any]] = []
    anonymous: list[str] = []
    for i, (t, a, c, tp, code, r) in enumerate(
        zip(
            s_type.tolist(),
            s_account.tolist(),
            s_contact.tolist(),
            topic.tolist(),
            s_detail_code.tolist(),
            small_int.tolist(),
            strict=True,
        )
    ):
        key = keys[t]
        detail, props = "", {}
        if code:
            detail, props = ev_details[code], ev_props[code]
        elif key == "page-view":
            props = {"path": TOPIC_PATHS.get(topic_keys[tp], "/") if tp >= 0 else ("/", "/blog", "/customers")[r % 3]}
        elif key == "pricing-page-view":
            props = {"path": "/pricing"}
        elif key == "docs-page-view":
            props = {"path": "/docs" + TOPIC_PATHS.get(topic_keys[tp], "/getting-started") if tp >= 0 else "/docs"}
        elif key in ("email-sent", "email-open", "email-click"):
            props = {"campaign": CAMPAIGNS[r % len(CAMPAIGNS)]}
            detail = ("newsletter", "nurture", "product-update")[r % 3]
        elif key == "ad-click":
            props = {"utm_source": ("linkedin", "google", "capterra")[r % 3], "utm_campaign": CAMPAIGNS[r % 5]}
        elif key in ("sales-call", "cs-check-in"):
            props = {"duration_min": 10 + r % 50}
            detail = ("discovery", "follow-up", "negotiation")[r % 3] if key == "sales-call" else "check-in"
        elif key == "support-ticket-opened":
            high = health[a] < -0.8
            props = {"priority": ("high" if high or r % 7 == 0 else ("normal", "low")[r % 2])}
        elif key == "nps-response":
            score = int(np.clip(round(7.5 + 1.8 * health[a] + (r % 5 - 2) * 0.6), 0, 10))
            props = {"score": score}
        elif key == "video-watched":
            props = {"seconds": 20 + r % 600}
        elif key == "webinar-attended":
            props = {"webinar": CAMPAIGNS[r % len(CAMPAIGNS)]}
        elif key == "integration-connected":
            props = {
                "provider": "salesforce" if topic_keys[tp] == "integrations--crm" else ("snowflake", "bigquery")[r % 2]
            }
        details.append(detail)
        properties.append(props)
        anonymous.append(
            f"anon-{a:05d}-{visitor[i]}"
            if c < 0 and key in ("page-view", "pricing-page-view", "cta-click", "ad-click")
            else ""
        )
    return topic, details, properties, anonymous
