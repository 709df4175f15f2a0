"""Project settings, read from the environment in this one place.

With no environment set, everything runs on one machine: SQLite, an in-process channel layer, a
local-memory cache and Celery tasks run eagerly. A deployment sets DATABASE_URL (PostgreSQL) and
REDIS_URL (cache, Celery broker, channel layer) and the secrets below.
See https://docs.djangoproject.com/en/5.2/ref/settings/ for each setting.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from redis.connection import parse_url as parse_redis_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "dev-insecure-secret-key-change-me-in-every-deployment-0123456789"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or not os.environ.get("DATABASE_URL"):
        # The embedded default (no DATABASE_URL) and DEBUG runs may use a development key.
        SECRET_KEY = _DEV_SECRET
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set and DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "channels",
    "django_htmx",
    "axes",
    "accounts",
    "cases",
    "mediation",
    "arbitration",
    "notifications",
    "oversight",
]

MIDDLEWARE = [
    "odr.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "odr.middleware.UserLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns locked-out log-in attempts into its lock-out answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "odr.urls"
WSGI_APPLICATION = "odr.wsgi.application"
ASGI_APPLICATION = "odr.asgi.application"

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
                "django.template.context_processors.i18n",
                "notifications.context_processors.unread",
            ],
        },
    },
]

# --- Database: DATABASE_URL, SQLite file by default --------------------------------------------
# Each service opens its own transaction (STYLE.md rule 2), so ATOMIC_REQUESTS stays off.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("ODR_DB_POOL", False):
    # The web process (odr/asgi.py turns this on): Django runs each request's sync code in a thread of its
    # own, so a persistent connection per thread would pile up idle sessions; a pool per process instead.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("ODR_DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("ODR_DB_POOL_MAX", "20")),
        "timeout": float(os.environ.get("ODR_DB_POOL_TIMEOUT", "10")),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing at once ("database is locked").
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker and channel layer ---------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
ODR_CACHE_PREFIX = os.environ.get("ODR_CACHE_PREFIX", "odr")  # keys of this deployment in a shared Redis
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": ODR_CACHE_PREFIX,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group message is one PUBLISH, which Redis hands once to each ASGI process with
            # members in the group, and the process to its connections there (the list-based layer,
            # channels_redis.core, pushes one copy per connection and each is popped by its own round trip:
            # 4-5 times slower in bench_chat, and its pool ran dry when a room of 100 left at once).
            # Memberships last as long as their connections; a process that falls behind by more than
            # Redis's ``client-output-buffer-limit pubsub`` is disconnected and resubscribes, losing what
            # it missed (the chat's clients read the room's history again on reconnecting). Reads on the
            # layer's connections never time out (redis-py 8 would time an idle one out at 5 s).
            # odr.channel_layer: that layer with each connection's backlog bounded (ODR_CHANNEL_CAPACITY).
            "BACKEND": "odr.channel_layer.PubSubChannelLayer",
            "CONFIG": {
                "capacity": int(os.environ.get("ODR_CHANNEL_CAPACITY", "1000")),
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                # PUBLISH and SUBSCRIBE ignore Redis's database number: the default prefix carries it, so
                # two deployments (or a test run and a dev server) on one Redis's databases never cross.
                "prefix": os.environ.get("ODR_CHANNEL_PREFIX", f"odr{parse_redis_url(REDIS_URL).get('db', 0)}"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery (https://docs.celeryq.dev/en/stable/userguide/configuration.html) -------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With acks_late, a task whose worker died is handed out again after this many seconds (Redis broker);
# every task here is short (time limits of at most 5 minutes) and idempotent.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("ODR_BROKER_VISIBILITY_TIMEOUT", "900"))}
# Beat: the deadline sweep every 30 s (deadlines are rows, never long ETAs; ARCHITECTURE.md design 3).
CELERY_BEAT_SCHEDULE = {
    "deadline-sweep": {"task": "cases.deadline_sweep", "schedule": float(os.environ.get("ODR_SWEEP_SECONDS", "30"))},
    "delivery-retries": {
        "task": "notifications.retry_sweep",
        "schedule": float(os.environ.get("ODR_SWEEP_SECONDS", "30")),
    },
    "risk-scan": {"task": "oversight.risk_scan", "schedule": float(os.environ.get("ODR_RISK_SCAN_SECONDS", "3600"))},
}
#: Pages open a websocket for live notices (the bell); off only where no ASGI server runs.
ODR_LIVE_UPDATES = env_bool("ODR_LIVE_UPDATES", True)
#: The address of the site, for links in e-mails.
ODR_BASE_URL = os.environ.get("ODR_BASE_URL", "http://127.0.0.1:8000")
#: Webhooks to loopback or private addresses: allowed only in development (DEBUG) or when set.
ODR_WEBHOOK_ALLOW_PRIVATE = env_bool("ODR_WEBHOOK_ALLOW_PRIVATE", DEBUG or not os.environ.get("DATABASE_URL"))
#: With no REDIS_URL (one machine), ``make run`` sweeps in a thread of the web process instead of beat.
ODR_EMBEDDED_SWEEP = env_bool("ODR_EMBEDDED_SWEEP", False)
ODR_SWEEP_SECONDS = float(os.environ.get("ODR_SWEEP_SECONDS", "30"))

# --- Auth --------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses log-ins for an account or address that failed too often.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Log-in attempt limits (django-axes, https://django-axes.readthedocs.io/) -------------------
AXES_FAILURE_LIMIT = int(os.environ.get("ODR_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("ODR_LOGIN_COOLOFF_HOURS", "0.25"))  # hours
# Lock the account (whatever the address) and, separately, the address (whatever the account).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
# The client address by the same rule as the API throttles (ODR_NUM_PROXIES trusted proxies).
AXES_CLIENT_IP_CALLABLE = "odr.net.client_ip"
AXES_ENABLE_ACCESS_FAILURE_LOG = False  # attempts are counted, not logged with their usernames
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"

# --- E-mail (password reset now; notices with the notifications work) --------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ODR platform <no-reply@localhost>")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))  # filebased backend

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders only in DEBUG; otherwise from STATIC_ROOT after
# collectstatic (make run does it). Scanning the finders costs ~50 ms per middleware instance.
WHITENOISE_USE_FINDERS = DEBUG

# --- Security ----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and bool(os.environ.get("DATABASE_URL")))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
#: Served over HTTPS behind a TLS-terminating proxy (the deployment's setting, see deploy/): redirect plain
#: HTTP, trust the proxy's X-Forwarded-Proto, and send HSTS. The health check stays reachable over HTTP
#: for the orchestrator's probe.
ODR_HTTPS = env_bool("ODR_HTTPS", False)
if ODR_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("ODR_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("ODR_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("ODR_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Content-Security-Policy (django-csp): no inline scripts or styles, nothing from other origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- REST API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "odr.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "odr.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "odr.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        # DRF's "N/period" form; period is s, m, h or d.
        "anon": os.environ.get("ODR_THROTTLE_ANON", "30/min"),
        "user": os.environ.get("ODR_THROTTLE_USER", "1200/min"),
        "filing": os.environ.get("ODR_THROTTLE_FILING", "20/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Behind N reverse proxies, the client address for anonymous throttling is N from the right of
    # X-Forwarded-For; 0 (default) trusts only the socket's peer address.
    "NUM_PROXIES": int(os.environ.get("ODR_NUM_PROXIES", "0")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ODR platform API",
    "DESCRIPTION": "Online dispute resolution for cross-border e-commerce: the public REST API v1.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from this project's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Domain settings ---------------------------------------------------------------------------
ODR_MAX_TEXT_LENGTH = int(os.environ.get("ODR_MAX_TEXT_LENGTH", "10000"))

# --- Evidence vault (cases/evidence/) ------------------------------------------------------------
# Files are encrypted at rest under their own keys, wrapped by these master keys:
# "id:base64-of-32-bytes" separated by commas, the first used for new files (manage.py
# rotate_evidence_keys --new-key prints one). Production refuses to start without them; the embedded
# default and DEBUG runs keep a generated key in ODR_EVIDENCE_DEV_KEY_FILE instead.
ODR_EVIDENCE_DIR = Path(os.environ.get("ODR_EVIDENCE_DIR", BASE_DIR / "var" / "evidence"))
ODR_EVIDENCE_KEYS = os.environ.get("ODR_EVIDENCE_KEYS", "")
ODR_EVIDENCE_DEV_KEY_FILE = Path(os.environ.get("ODR_EVIDENCE_DEV_KEY_FILE", BASE_DIR / "var" / "evidence-dev.key"))
ODR_EVIDENCE_MAX_BYTES = int(os.environ.get("ODR_EVIDENCE_MAX_BYTES", str(20 * 1024 * 1024)))
ODR_EVIDENCE_MAX_FILES = int(os.environ.get("ODR_EVIDENCE_MAX_FILES", "50"))
if not ODR_EVIDENCE_KEYS and not DEBUG and os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured("ODR_EVIDENCE_KEYS must be set when DATABASE_URL is set and DEBUG is off.")
ODR_IDEMPOTENCY_TTL_HOURS = int(os.environ.get("ODR_IDEMPOTENCY_TTL_HOURS", "24"))

# --- Negotiation and mediation (mediation/) -------------------------------------------------------
ODR_BLIND_BID_GAP = os.environ.get("ODR_BLIND_BID_GAP", "0.10")  # settles within this share of the demand
ODR_BLIND_BID_ROUNDS = int(os.environ.get("ODR_BLIND_BID_ROUNDS", "3"))
ODR_CHALLENGE_DAYS = int(os.environ.get("ODR_CHALLENGE_DAYS", "5"))  # the parties' window to challenge a neutral
ODR_SESSION_REMINDER_MINUTES = int(os.environ.get("ODR_SESSION_REMINDER_MINUTES", "60"))
ODR_CHAT_MAX_LENGTH = int(os.environ.get("ODR_CHAT_MAX_LENGTH", "2000"))
ODR_CHAT_RATE = int(os.environ.get("ODR_CHAT_RATE", "20"))  # messages a user may send ...
ODR_CHAT_RATE_SECONDS = int(os.environ.get("ODR_CHAT_RATE_SECONDS", "10"))  # ... in this many seconds
# Each ASGI process asks again this often, in one trip for all its chat connections, whether their users
# still belong in their rooms (besides every change of a case, which the lifecycle announces).
ODR_CHAT_RECHECK_SECONDS = float(os.environ.get("ODR_CHAT_RECHECK_SECONDS", "60"))
ODR_WS_TICKET_SECONDS = int(os.environ.get("ODR_WS_TICKET_SECONDS", "60"))

# Arbitration, compliance and payments (arbitration/, cases/services/compliance.py, cases/payments/).
ODR_PLATFORM_NAME = os.environ.get("ODR_PLATFORM_NAME", "Open ODR")  # printed on award documents
ODR_AWARD_CORRECTION_DAYS = int(os.environ.get("ODR_AWARD_CORRECTION_DAYS", "30"))  # an award may be corrected
ODR_TIMETABLE_MAX_DAYS = int(os.environ.get("ODR_TIMETABLE_MAX_DAYS", "60"))  # furthest submissions date
ODR_PAYMENT_PROVIDER = os.environ.get("ODR_PAYMENT_PROVIDER", "cases.payments.sandbox.SandboxProvider")
# A date to comply that passes while a refund started by then is pending waits this long after it for the answer.
ODR_COMPLIANCE_REFUND_WAIT_HOURS = float(os.environ.get("ODR_COMPLIANCE_REFUND_WAIT_HOURS", "24"))
ODR_PAYMENT_SANDBOX_LIMIT = os.environ.get("ODR_PAYMENT_SANDBOX_LIMIT", "10000")  # the sandbox declines above
# Risk alerts (oversight.risk documents the tests): how often the scan runs, and its thresholds.
ODR_RISK_SCAN_SECONDS = float(os.environ.get("ODR_RISK_SCAN_SECONDS", "3600"))
ODR_ALERT_P_VALUE = float(os.environ.get("ODR_ALERT_P_VALUE", "0.001"))
ODR_ALERT_MIN_Z = float(os.environ.get("ODR_ALERT_MIN_Z", "3.5"))
ODR_ALERT_MIN_COUNT = int(os.environ.get("ODR_ALERT_MIN_COUNT", "5"))

# --- Logging: requests and errors, never bodies, tokens or passwords ---------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per successful task is noise (and eager tasks run on every request without Redis).
        "celery.app.trace": {"level": "WARNING"},
        # Subsetting the award PDFs' fonts logs every table it prunes.
        "fontTools": {"level": "WARNING"},
    },
}
