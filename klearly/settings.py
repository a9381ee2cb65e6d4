"""Klearly settings: one file, every value from an environment variable with a working default.

The embedded default (no variables set) is SQLite in ``var/`` and Celery tasks run eagerly in-process,
so ``manage.py runserver`` works on a machine that has only Python. Production sets DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY, DEBUG=false and ALLOWED_HOSTS.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from import_export.formats import base_formats

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
# Rotating SECRET_KEY: put the old one here (comma-separated) for as long as sessions and signed values made with it
# should stay valid; then remove it (docs/security.md).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

VAR_DIR = Path(env_str("KLEARLY_VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "import_export",
    "simple_history",
    "axes",
    "klearly",
    "accounts",
    "signals_app",
    "scoring",
    "playbooks",
]

MIDDLEWARE = [
    # Outermost: while PostgreSQL is unreachable every request gets a 503 with Retry-After (JSON for the API and
    # the event endpoint), wherever the error is raised (a view, the key lookup, a session save), never a 500.
    "klearly.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records who changed a scoring rule, weight or band, also outside the admin.
    "simple_history.middleware.HistoryRequestMiddleware",
    # The product's 404 page in debug mode too (never Django's list of URL patterns).
    "klearly.errors.ErrorPagesMiddleware",
    # Login throttling: turns a locked login into the page that says so (last, as django-axes asks).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "klearly.urls"
WSGI_APPLICATION = "klearly.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'klearly.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a command writes; a busy timeout instead of "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Login throttling (klearly/login_throttle.py, django-axes): a username is locked after KLEARLY_LOGIN_FAILURE_LIMIT
# failed logins from anywhere, a client address after KLEARLY_LOGIN_IP_FAILURE_LIMIT failures on any usernames (an
# office behind one address has several people), each for KLEARLY_LOGIN_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "klearly.login_throttle.LoginThrottleBackend",  # first: a locked login is refused before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
KLEARLY_LOGIN_FAILURE_LIMIT = env_int("KLEARLY_LOGIN_FAILURE_LIMIT", 5)
KLEARLY_LOGIN_IP_FAILURE_LIMIT = env_int("KLEARLY_LOGIN_IP_FAILURE_LIMIT", 20)
KLEARLY_LOGIN_COOLOFF_MINUTES = env_int("KLEARLY_LOGIN_COOLOFF_MINUTES", 15)
if min(KLEARLY_LOGIN_FAILURE_LIMIT, KLEARLY_LOGIN_IP_FAILURE_LIMIT, KLEARLY_LOGIN_COOLOFF_MINUTES) < 1:
    raise ImproperlyConfigured("KLEARLY_LOGIN_FAILURE_LIMIT, _IP_FAILURE_LIMIT and _COOLOFF_MINUTES must be 1 or more")
# Proxies in front of Klearly that append the client's address to X-Forwarded-For (0: none, REMOTE_ADDR is the
# client). Only a count the operator states is trusted: login throttling and the API's rate limits read it.
KLEARLY_TRUSTED_PROXY_COUNT = env_int("KLEARLY_TRUSTED_PROXY_COUNT", 0)
AXES_HANDLER = "klearly.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # the handler reads them in this order
AXES_FAILURE_LIMIT = KLEARLY_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=KLEARLY_LOGIN_COOLOFF_MINUTES)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lock ends when the page said it would
AXES_CLIENT_IP_CALLABLE = "klearly.login_throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "klearly.login_throttle.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # failures are kept (until the cool-off ends); successful logins are not logged
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# A shared cache (Redis) keeps rate limits and the rescoring debounce right across web and worker processes.
# Without CACHE_URL, a Redis broker is used as the cache too; with neither, each process has its own memory cache.
CACHE_URL = env_str("CACHE_URL", "") or (
    os.environ.get("CELERY_BROKER_URL", "") if os.environ.get("CELERY_BROKER_URL", "").startswith("redis") else ""
)
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "klearly",
            # A Redis that is down or unreachable fails fast: rate limits fail open and the rescore debounce falls
            # back to the beat sweep, so a request never waits on the cache (see klearly/outages.py).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
        if CACHE_URL.startswith(("redis://", "rediss://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# The web UI's own files (CSS, JS, the vendored htmx): served by WhiteNoise, never from a CDN.
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG  # the dev server serves app static files without collectstatic
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# The web UI's login page; the admin keeps its own at /admin/login/.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:inbox"
LOGOUT_REDIRECT_URL = "login"

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    # HSTS once TLS works for the host (docs/security.md); the proxy normally does the http -> https redirect.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Celery -------------------------------------------------------------------------------------
# No broker configured means the embedded default: tasks run eagerly, in the process that enqueued them.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
# Tasks are acknowledged when they end, so a worker killed half way leaves its message to be delivered again; every
# task is idempotent (rescores, imports and exports claim their job, webhooks dedupe), so running twice is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker that is down (at start or later) is waited for, forever, instead of the worker giving up after 100 tries.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Redis redelivers a message that was taken but never acknowledged (its worker was killed) after this many seconds.
# It must be longer than the longest task (a full rescore, a big import or export: minutes) and than the longest
# countdown (webhook retries: at most 8 minutes), or a running task is started twice; 15 minutes by default. Work lost
# in between is not waited for: a worker that starts, and beat every minute, queue a rescore when marks are left,
# and beat fails import/export jobs whose heartbeat stopped (KLEARLY_JOB_STALE_SECONDS).
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 15 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT, "socket_connect_timeout": 5}
# A request that queues a task while the broker is down gives up after about a second (the work is durable in
# PostgreSQL: rescore marks, queued jobs, pending deliveries; beat queues it again).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.3, "interval_max": 0.5}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "signals_app.tasks.*": {"queue": env_str("CELERY_INGEST_QUEUE", "default")},
    "scoring.tasks.*": {"queue": env_str("CELERY_SCORING_QUEUE", "default")},
    "playbooks.tasks.*": {"queue": env_str("CELERY_PLAYBOOKS_QUEUE", "default")},
}
CELERY_TIMEZONE = TIME_ZONE
# The one place for periodic work; each entry says why it exists.
CELERY_BEAT_SCHEDULE = {
    # Segment criteria can depend on time (tenure, "trial not expired"), so membership moves without writes.
    "evaluate-segments-hourly": {
        "task": "accounts.tasks.segments_evaluate_all",
        "schedule": crontab(minute=7),
    },
    # Decay and windows move engagement, trends and surging without new signals; a full rescore each night keeps
    # every account's scores true to today (marked accounts are rescored within seconds during the day).
    "rescore-all-nightly": {
        "task": "scoring.tasks.rescore_all",
        "schedule": crontab(hour=2, minute=23),
    },
    # Predictive models learn from stage movements, which arrive a few a day: weekly retraining follows new
    # behaviour without letting one odd week swing the models (each version is kept and can be rolled back).
    # Sunday night, after the nightly rescore, when nobody works the inbox.
    "train-models-weekly": {
        "task": "scoring.tasks.train_models",
        "schedule": crontab(day_of_week=0, hour=3, minute=41),
    },
    # A playbook's goal ("converted within 21 days") is settled when its deadline passes, without any event.
    "playbook-goals-hourly": {
        "task": "playbooks.tasks.playbook_goals_check",
        "schedule": crontab(minute=17),
    },
    # Snoozed tasks come back to the inbox when their date comes.
    "tasks-wake": {
        "task": "playbooks.tasks.tasks_wake",
        "schedule": crontab(minute="*/5"),
    },
    # Webhook deliveries whose task was lost (broker outage, worker killed) are sent again.
    "webhooks-sweep": {
        "task": "playbooks.tasks.webhooks_sweep",
        "schedule": crontab(minute="*/10"),
    },
    # Marks left behind (the broker was down when they were written, or a worker was killed mid-rescore and Redis
    # holds its message for the visibility timeout) are rescored within a minute or two, not an hour later.
    "rescore-marked-sweep": {
        "task": "scoring.tasks.rescore_marked_sweep",
        "schedule": 60.0,
    },
    # Import and export jobs: a job whose worker died is failed with the reason; a job whose message was lost (the
    # broker was down when it was uploaded) is queued again.
    "jobs-sweep": {
        "task": "signals_app.tasks.jobs_sweep",
        "schedule": 60.0,
    },
}

# --- REST framework -----------------------------------------------------------------------------
# The /api/v1/ viewsets set their own authentication (API keys, write keys, sessions), permissions, throttles,
# JSON parser and pagination in klearly.api.viewsets.ApiViewSetMixin, so other DRF views keep DRF's defaults.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Anonymous callers are told apart by address: REMOTE_ADDR, or X-Forwarded-For through the trusted proxies only.
    "NUM_PROXIES": KLEARLY_TRUSTED_PROXY_COUNT,
}


def env_rate(name: str, default: str) -> str:
    """A DRF rate such as "1200/min" (periods s, min, hour, day); an empty value turns the limit off."""
    value = env_str(name, default).strip()
    if value and not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate like 1200/min (periods: s, min, hour, day)")
    return value


# Requests per API key (or per logged-in operator) on /api/v1/; per write key on the event endpoint and
# POST /api/v1/signals/ together, one budget (klearly.rate_limits). KLEARLY_EVENTS_REQUESTS_PER_MINUTE, the event
# endpoint's older setting (a number per minute, 0: no limit), is read when KLEARLY_INGEST_RATE is not set.
KLEARLY_API_RATE = env_rate("KLEARLY_API_RATE", "1200/min")
_EVENTS_PER_MINUTE = env_int("KLEARLY_EVENTS_REQUESTS_PER_MINUTE", 6000)
KLEARLY_INGEST_RATE = env_rate("KLEARLY_INGEST_RATE", f"{_EVENTS_PER_MINUTE}/min" if _EVENTS_PER_MINUTE > 0 else "")
# Playbook webhooks: seconds per attempt, attempts before giving up, first retry delay (doubled each time).
KLEARLY_WEBHOOK_TIMEOUT = env_int("KLEARLY_WEBHOOK_TIMEOUT", 5)
KLEARLY_WEBHOOK_MAX_ATTEMPTS = env_int("KLEARLY_WEBHOOK_MAX_ATTEMPTS", 6)
KLEARLY_WEBHOOK_BACKOFF_SECONDS = env_int("KLEARLY_WEBHOOK_BACKOFF_SECONDS", 30)


def env_hosts(name: str) -> list[str]:
    """Host names (``hooks.corp``; ``.corp`` for its subdomains) and addresses or networks (``10.20.0.0/16``)."""
    items = env_list(name, "")
    for item in items:
        try:
            ipaddress.ip_network(item.strip("[]"), strict=False)
        except ValueError:
            if not re.fullmatch(r"\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?", item):
                raise ImproperlyConfigured(f"{name}: {item!r} is not a host name, an address or a network") from None
    return items


# Webhooks call public addresses only; internal receivers the operator trusts are named here (comma-separated).
KLEARLY_WEBHOOK_ALLOWED_HOSTS = env_hosts("KLEARLY_WEBHOOK_ALLOWED_HOSTS")
SPECTACULAR_SETTINGS = {
    "TITLE": "Klearly API",
    "DESCRIPTION": (
        "Revenue signals in; measures, scores, reasons and tasks out.\n\n"
        "Authenticate with `Authorization: Bearer <key>`: an API key (admin, API keys) with the `read` scope "
        "(every GET) or the `admin` scope (everything), or a write key of an ingestion source, which may only "
        "`POST /api/v1/signals/` (also as HTTP Basic with the key as username, as Segment's libraries send it). "
        "Logged-in operators use their session and their Django permissions. Rate limits answer `429` with "
        "`Retry-After`. Accounts and contacts are addressed by external id; types, topics and stages by key."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "PREPROCESSING_HOOKS": ["klearly.api.schema.only_api_v1"],
    "ENUM_NAME_OVERRIDES": {
        "DirectionEnum": "signals_app.choices.Direction",
        "SignalSourceEnum": "signals_app.choices.SignalSource",
        "SignalCategoryEnum": "signals_app.choices.SignalCategory",
        "StageKindEnum": "accounts.choices.StageKind",
        "MovementEnum": "accounts.choices.Movement",
        "PredictiveOutcomeEnum": "scoring.choices.Outcome",
        "TaskOutcomeEnum": "playbooks.choices.TaskOutcome",
    },
    # Swagger UI's files come from the drf-spectacular-sidecar package: /api/docs/ works without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
INSTALLED_APPS.append("drf_spectacular_sidecar")

# --- Import / export ----------------------------------------------------------------------------
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = True
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"

# --- Klearly ------------------------------------------------------------------------------------
# Rows per batch for the streaming CSV importer (import_csv command and background import jobs).
KLEARLY_IMPORT_BATCH_SIZE = env_int("KLEARLY_IMPORT_BATCH_SIZE", 5000)
# The admin's import and export pages work inline (with a preview) up to these sizes; bigger files and tables become
# background jobs on a worker, with progress in the admin (a 200,000-row import or a 300,000-row export takes longer
# than a web worker's timeout).
KLEARLY_ADMIN_IMPORT_INLINE_MAX_BYTES = env_int("KLEARLY_ADMIN_IMPORT_INLINE_MAX_BYTES", 2 * 1024 * 1024)
KLEARLY_ADMIN_EXPORT_INLINE_MAX_ROWS = env_int("KLEARLY_ADMIN_EXPORT_INLINE_MAX_ROWS", 20_000)
# A running import or export job whose heartbeat is older than this is failed by the sweep (its worker died).
KLEARLY_JOB_STALE_SECONDS = env_int("KLEARLY_JOB_STALE_SECONDS", 5 * 60)
# CSV is the documented import format (DESIGN.md); exports add JSON for other tools.
IMPORT_FORMATS = [base_formats.CSV]
EXPORT_FORMATS = [base_formats.CSV, base_formats.JSON]
# Signal property names that hold personal data (besides the built-in email, ip, name, phone, user agent...): removed
# from a forgotten person's signals when they are kept anonymous (signals_app.privacy). Comma-separated.
KLEARLY_PERSONAL_PROPERTIES = env_list("KLEARLY_PERSONAL_PROPERTIES", "")

# The signals' covering index includes columns PostgreSQL reads from the index alone; SQLite builds it as a plain
# index and says so on every command (models.W040): nothing to act on there.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
