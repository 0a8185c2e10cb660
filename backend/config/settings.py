"""gridline settings: one module, configured from the environment.

Development defaults run embedded (SpatiaLite file, in-memory channel layer). Production sets
GRIDLINE_ENV=production, SECRET_KEY, FIELD_ENCRYPTION_KEYS, PII_DIGEST_KEY, ALLOWED_HOSTS,
DATABASE_URL=postgis://... and REDIS_URL, and then passes `manage.py check --deploy` cleanly.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ENV = os.environ.get("GRIDLINE_ENV", "development")
PRODUCTION = ENV == "production"


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Set the {name} environment variable.")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789-abcdefghijklmnop"  # noqa: S105
SECRET_KEY = env("SECRET_KEY", None if PRODUCTION else _DEV_SECRET)
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
# Fernet keys for personal data at rest (ID numbers, health notes), newest first; older keys
# stay listed until every row is re-encrypted. Generate one with
#   python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWdyaWRsaW5lLTAwMDA="  # dev only, not secret
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "" if PRODUCTION else _DEV_FIELD_KEY)
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("Set FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys).")
DEBUG = env("DEBUG", "0" if PRODUCTION else "1") == "1"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Reverse proxies (addresses or CIDR) whose X-Forwarded-For the audit trail believes; from
# anyone else the peer address is where the request came from (backend/audit/actions.py).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

INSTALLED_APPS = [
    "backend.config.apps.GridlineAdminConfig",  # the admin behind the board's log-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "channels",
    "ninja",  # Swagger UI and ReDoc from its own static files (no CDN)
    "leaflet",
    "django_otp",
    "backend.core",
    "backend.territory",
    "backend.people",
    "backend.accounts",
    "backend.audit",
    "backend.notify",
    "backend.alerts",
    "backend.photos",
    "board",
    "alarm_receiver",
    "backend.visits",
    "backend.servicedesk",
    "backend.reassurance",
    "backend.assessment",
    "backend.community",
    "backend.demo",
]

MIDDLEWARE = [
    # Request id and request latency (backend/core/observe.py); sync and async, so first costs
    # no thread hop.
    "backend.core.observe.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "backend.core.headers.security_headers",  # Content-Security-Policy on every response
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "backend.audit.middleware.audit_writes",  # one audit row per write request
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # WhiteNoise is sync-only. Under ASGI every switch between async and sync middleware is a
    # thread hop; last in the chain, it shares the one hop the sync views take anyway (first,
    # as its docs suggest, it cost every API request two more). Static files are served the
    # same, after a few cheap middleware.
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

# Pages whose inline scripts we do not write (the admin's map widget, ReDoc) may run inline
# scripts; every other page runs only our own files (backend/core/headers.py).
CSP_INLINE_SCRIPT_PATHS = ["/admin/", "/api/v1/redoc", "/board/api/redoc"]
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

ROOT_URLCONF = "backend.config.urls"
ASGI_APPLICATION = "backend.config.asgi.application"
WSGI_APPLICATION = "backend.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# Database: SpatiaLite file by default, PostGIS when DATABASE_URL=postgis://...
DATA_DIR = Path(env("GRIDLINE_DATA_DIR", str(BASE_DIR / "var")))
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"spatialite:///{DATA_DIR / 'gridline.sqlite3'}"),
        conn_max_age=int(env("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.contrib.gis.db.backends.spatialite":
    # SQLite has one writer at a time. WAL lets readers go on while it writes; IMMEDIATE
    # takes the write lock when a transaction begins, so a transaction that read first never
    # has to upgrade (an upgrade that meets another writer fails at once, busy timeout or
    # not); `timeout` is how long a writer waits for the lock. WAL is stored in the file, so
    # setting it on every connection costs nothing after the first. The engine is Django's
    # SpatiaLite one whose writers of this process take turns (backend/core/spatialite).
    DATABASES["default"]["ENGINE"] = "backend.core.spatialite"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL",
    )
elif env("DB_POOL", "1") == "1":
    # psycopg's connection pool (Django 5.1+): a request borrows a connection instead of
    # opening one, and a burst waits for a free connection (up to DB_POOL_TIMEOUT) instead of
    # exhausting the server's max_connections. Size it for processes × DB_POOL_MAX_SIZE.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(env("DB_POOL_MIN_SIZE", "2")),
        "max_size": int(env("DB_POOL_MAX_SIZE", "20")),
        "timeout": float(env("DB_POOL_TIMEOUT", "30")),
    }
# Worker threads per ASGI process for the device press and heartbeat (mobile_api/alerts/
# device_asgi.py): each holds at most one database connection, so keep it under the pool size.
DEVICE_THREADS = int(env("DEVICE_THREADS", "8"))
# The same for the sockets' database work (ticket, presence, replay: realtime/db.py).
REALTIME_DB_THREADS = int(env("REALTIME_DB_THREADS", "4"))
# A streaming replica for reads that tolerate lag (issue 15; backend/core/routing.py): the same
# engine and pool options as the primary; tests mirror it to the primary's test database.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **dj_database_url.parse(DATABASE_REPLICA_URL),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["backend.core.routing.ReplicaRouter"]
# GET/HEAD paths whose reads may lag the primary by a moment (regular expressions on the path).
REPLICA_READ_PATHS = env_list(
    "REPLICA_READ_PATHS",
    r"^/board/api/(state|panels|grids|households)$,^/api/v1/alerts$,^/api/v1/cases$,"
    r"^/open311/v2/(discovery|services|requests)\.(json|xml)$",
)
SPATIALITE_LIBRARY_PATH = os.environ.get("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Rate limits (backend/core/ratelimit.py), "count/period" per window: 429 with Retry-After.
RATE_LIMITS = {
    "login_ip": env("RATE_LOGIN_PER_IP", "30/m"),  # log-ins per client address
    "cases": env("RATE_CASES", "10/m"),  # cases (tickets) filed per account
    "search": env("RATE_SEARCH", "60/m"),  # name/address searches per account
    "export": env("RATE_EXPORT", "10/h"),  # exports of people's data per account
}
RATELIMIT_ENABLE = True
RATE_LIMIT_SCOPE = ""  # a prefix of the counters' keys (the tests give each test its own)

# Redis: one address (REDIS_URL), or Redis Sentinel (issue 15) for the channel layer and the
# cache alike: REDIS_SENTINELS=host:26379,host2:26379 with REDIS_SENTINEL_MASTER=<name> and
# REDIS_DB, or the same as one URL, REDIS_SENTINEL_URL=redis+sentinel://host:26379,host2:26379/
# <name>/<db>. The clients ask the sentinels for the master on every reconnect.
REDIS_URL = os.environ.get("REDIS_URL", "")


def sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int]:
    """redis+sentinel://h1:26379,h2:26379/<master>/<db> -> (sentinels, master, db); a host
    without a port is 26379, no db is 0."""
    scheme, _, rest = url.partition("://")
    netloc, _, path = rest.partition("/")
    master, _, db = path.strip("/").partition("/")
    if scheme != "redis+sentinel" or not netloc or not master:
        raise ImproperlyConfigured(
            "REDIS_SENTINEL_URL must be redis+sentinel://host:port[,host:port]/<master>[/<db>]"
        )
    hosts = [(h, int(p or 26379)) for h, _, p in (i.partition(":") for i in netloc.split(","))]
    return hosts, master, int(db or 0)


if os.environ.get("REDIS_SENTINEL_URL"):
    REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_DB = sentinel_url(env("REDIS_SENTINEL_URL"))
else:
    REDIS_SENTINELS = [
        (host, int(port))
        for host, _, port in (item.rpartition(":") for item in env_list("REDIS_SENTINELS"))
    ]
    REDIS_SENTINEL_MASTER = env("REDIS_SENTINEL_MASTER", "gridline")
    REDIS_DB = int(env("REDIS_DB", "0"))

# Cache (rate-limit counters): Redis when REDIS_URL is set, shared by every process; through
# the sentinels with django-redis's Sentinel connection factory (every command to the master:
# a counter is read right after it is written); the process's memory on the embedded default
# (one process).
if REDIS_SENTINELS:
    _CACHE: dict[str, object] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://{REDIS_SENTINEL_MASTER}/{REDIS_DB}",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": REDIS_SENTINELS,
            "SENTINEL_KWARGS": {"socket_timeout": 3},
            "SOCKET_CONNECT_TIMEOUT": 3,
            "SOCKET_TIMEOUT": 5,
        },
    }
elif REDIS_URL:
    _CACHE = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
else:
    _CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
CACHES = {"default": _CACHE}

# Channel layer: Redis when REDIS_URL (or the sentinels) is set, in-memory (one process only)
# otherwise.
# health_check_interval: the subscription PINGs when idle, so a silent partition (no RST) is
# noticed and the sockets are told to resume once Redis is back (realtime/layers.py).
_REDIS_TIMEOUTS = {"socket_timeout": 15, "socket_connect_timeout": 3, "health_check_interval": 5}
_REDIS_HOST: dict[str, object] = (
    {
        "sentinels": REDIS_SENTINELS,
        "master_name": REDIS_SENTINEL_MASTER,
        "db": REDIS_DB,
        "sentinel_kwargs": {"socket_timeout": 3},
        **_REDIS_TIMEOUTS,
    }
    if REDIS_SENTINELS
    else {"address": REDIS_URL, **_REDIS_TIMEOUTS}
)
if REDIS_URL or REDIS_SENTINELS:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's pub/sub layer (one PUBLISH per ring), telling sockets to read
            # their gap after a broken connection: see realtime/layers.py.
            "BACKEND": "realtime.layers.ResumingPubSubChannelLayer",
            "CONFIG": {
                "hosts": [_REDIS_HOST],
                "prefix": env("CHANNEL_PREFIX", "gridline"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
# Password policy (MLPS 2.0): 12+ characters of 3 classes, not like the phone or name, not
# common, not all digits. Applies wherever a password is set (admin, changepassword).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": int(env("PASSWORD_MIN_LENGTH", "12"))},
    },
    {"NAME": "backend.accounts.passwords.CharacterClassesValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("phone", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env_list(
    "PASSWORD_HASHERS",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
)

# Lock-out (MLPS 2.0 level 3): 5 failures lock the account for 15 minutes, counted atomically
# before each password check (backend/accounts/lockout.py). Per account, not per IP address:
# the IP would lock a whole community office behind one NAT address after five typos.
LOGIN_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_COOLOFF = timedelta(minutes=int(env("LOGIN_COOLOFF_MINUTES", "15")))

# Audit trail (MLPS 2.0 level 3): kept at least 180 days, then archived to files here.
AUDIT_RETENTION_DAYS = max(180, int(env("AUDIT_RETENTION_DAYS", "180")))
AUDIT_ARCHIVE_DIR = Path(env("AUDIT_ARCHIVE_DIR", str(DATA_DIR / "audit-archive")))

# PIPL retention per kind of personal data (the dispatcher's housekeeping deletes past it).
POSITION_RETENTION_DAYS = int(env("POSITION_RETENTION_DAYS", "30"))  # workers' positions

# The supervisors' board (/board/): Django sessions plus a TOTP second factor (django-otp).
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "gridline")
# Idle timeout (MLPS 2.0) of the board and the admin: a browser session ends after this many
# minutes without a request (each request moves the expiry; an open board page polls, so a
# board on screen stays in; a closed or abandoned one does not).
IDLE_TIMEOUT_MINUTES = int(env("IDLE_TIMEOUT_MINUTES", "15"))
SESSION_COOKIE_AGE = IDLE_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True

# Mobile tokens.
ACCESS_TOKEN_LIFETIME = timedelta(minutes=int(env("ACCESS_TOKEN_MINUTES", "15")))
REFRESH_TOKEN_LIFETIME = timedelta(days=int(env("REFRESH_TOKEN_DAYS", "30")))
JWT_SIGNING_KEY = env("JWT_SIGNING_KEY", SECRET_KEY)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(DATA_DIR / "static")))  # the image bakes them in
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(DATA_DIR / "media")))

# Request bodies: backend/core/bodylimit.py answers 413 to a bigger one before reading it.
# First matching path pattern wins; everything else (JSON, device, Open311, board) gets the
# default. Photos are the photo pipeline's 15 MB plus the multipart envelope; a visit sync
# batch of 200 generous records (500-character notes, full checklist, 3 findings, 10 photo
# ids) measures 1.3 MB in UTF-8 and 2.4 MB with \u-escaped JSON.
PHOTO_UPLOAD_LIMIT = 15 * 1024 * 1024 + 64 * 1024
VISIT_SYNC_LIMIT = 4 * 1024 * 1024
REQUEST_BODY_LIMIT_DEFAULT = 64 * 1024
REQUEST_BODY_LIMITS = [
    (r"^/api/v1/households/\d+/visits/[^/]+/photos$", PHOTO_UPLOAD_LIMIT),
    (r"^/api/v1/cases/\d+/documents$", PHOTO_UPLOAD_LIMIT),
    (r"^/api/v1/community/notices/\d+/attachments$", PHOTO_UPLOAD_LIMIT),
    (r"^/api/v1/community/polls/\d+/door-votes$", PHOTO_UPLOAD_LIMIT),
    (r"^/api/v1/visits/sync$", VISIT_SYNC_LIMIT),
    (r"^/api/v1/device/", 8 * 1024),  # a press or heartbeat is a few hundred bytes
    (r"^/admin/", 1024 * 1024),  # change forms with inlines
]
# Django's own cap on a non-file body: the largest limit above that is not a file upload, so
# that the two never disagree (file parts are streamed to disk and not counted by Django).
DATA_UPLOAD_MAX_MEMORY_SIZE = VISIT_SYNC_LIMIT

# Map: Leaflet is shipped with django-leaflet; no CDN. Tiles only when a URL is configured.
TILE_URL = os.environ.get("TILE_URL", "")
TILE_ATTRIBUTION = os.environ.get("TILE_ATTRIBUTION", "")
BOARD_CENTER = [30.93, 117.81]  # where the board's map starts before the grids are fitted
LEAFLET_CONFIG = {
    "DEFAULT_CENTER": tuple(BOARD_CENTER),
    "DEFAULT_ZOOM": 13,
    "TILES": [("tiles", TILE_URL, {"attribution": TILE_ATTRIBUTION})] if TILE_URL else [],
    "RESET_VIEW": False,
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Logs: one JSON object a line in production (LOG_FORMAT=json; text in development), each
# with the request id and the alert/case id it concerns (backend/core/observe.py).
LOG_FORMAT = env("LOG_FORMAT", "json" if PRODUCTION else "text")
_LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(alert_id)s"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "backend.core.observe.LogContext"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": _LOG_FIELDS + " %(case_id)s %(timer)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # uvicorn's own lines in the same format (its CLI configured them before Django).
        "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Off, as --no-access-log (infra/entrypoint.sh) wants: request ids and /metrics instead.
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}

# Keyed digest of ID numbers for look-up; changing it needs a re-digest of every resident.
PII_DIGEST_KEY = env("PII_DIGEST_KEY", None if PRODUCTION else "dev-only-pii-digest-key")

SILENCED_SYSTEM_CHECKS = [
    # Debian 12 ships GDAL 3.6. We never parse spatial reference strings from callers
    # (every geometry is SRID 4326, fixed in code), which is what GDAL 3.9's blocking guards.
    "gis.W001",
]

# Run the dispatcher inside the ASGI process (the embedded default); with Redis, run
# `manage.py dispatcher` processes instead.
EMBEDDED_DISPATCHER = (
    env("EMBEDDED_DISPATCHER", "0" if REDIS_URL or REDIS_SENTINELS else "1") == "1"
)

# The board lists open alerts per grid (a count each) above the list when more are open.
BOARD_GRID_COUNTS_OVER = int(env("BOARD_GRID_COUNTS_OVER", "20"))

# The SIA DC-09 alarm receiver (alarm_receiver/): `manage.py alarm_receiver`, or inside the
# ASGI process with ALARM_RECEIVER_EMBEDDED=1 (what `make run` does). A port of 0 is off.
ALARM_RECEIVER_EMBEDDED = env("ALARM_RECEIVER_EMBEDDED", "0") == "1"
ALARM_RECEIVER_HOST = env("ALARM_RECEIVER_HOST", "127.0.0.1")
ALARM_RECEIVER_TCP_PORT = int(env("ALARM_RECEIVER_TCP_PORT", "7780"))
ALARM_RECEIVER_UDP_PORT = int(env("ALARM_RECEIVER_UDP_PORT", "7780"))
# The timestamp window (DC-09: 40 s behind, 20 s ahead of the receiver's clock); messages
# outside it are NAKed with the receiver's time so the panel can correct its clock.
ALARM_RECEIVER_TIMEBAND = tuple(int(s) for s in env_list("ALARM_RECEIVER_TIMEBAND", "40,20"))
ALARM_RECEIVER_WORKERS = int(env("ALARM_RECEIVER_WORKERS", "4"))  # messages worked at once

# Push, SMS and voice (backend/notify, README "Reaching people"): FCM through firebase-admin
# when credentials are configured; JPush when JPUSH_APP_KEY is set; console SMS and voice
# unless a vendor backend is named.
SMS_BACKEND = env("SMS_BACKEND", "backend.notify.sms.ConsoleBackend")
VOICE_BACKEND = env("VOICE_BACKEND", "backend.notify.voice.ConsoleVoiceBackend")


def env_map(name: str) -> dict[str, str]:
    """ "a=1,b=2" -> {"a": "1", "b": "2"} (template names to the vendor's approved codes)."""
    pairs = (item.split("=", 1) for item in env_list(name) if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


SMS_SIGN_NAME = env("SMS_SIGN_NAME", "社区一键通")
SMS_TEMPLATE_CODES = env_map("SMS_TEMPLATE_CODES")
VOICE_TEMPLATE_CODES = env_map("VOICE_TEMPLATE_CODES")
JPUSH_APP_KEY = env("JPUSH_APP_KEY", "")
JPUSH_MASTER_SECRET = env("JPUSH_MASTER_SECRET", "")
JPUSH_APNS_PRODUCTION = env("JPUSH_APNS_PRODUCTION", "1" if PRODUCTION else "0") == "1"
JPUSH_XIAOMI_CHANNEL_ID = env("JPUSH_XIAOMI_CHANNEL_ID", "")
JPUSH_OPPO_CHANNEL_ID = env("JPUSH_OPPO_CHANNEL_ID", "")
ALIYUN_ACCESS_KEY_ID = env("ALIYUN_ACCESS_KEY_ID", "")
ALIYUN_ACCESS_KEY_SECRET = env("ALIYUN_ACCESS_KEY_SECRET", "")
ALIYUN_PROTOCOL = env("ALIYUN_PROTOCOL", "https")
ALIYUN_SMS_ENDPOINT = env("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com")
ALIYUN_VOICE_ENDPOINT = env("ALIYUN_VOICE_ENDPOINT", "dyvmsapi.aliyuncs.com")
ALIYUN_VOICE_SHOW_NUMBER = env("ALIYUN_VOICE_SHOW_NUMBER", "")
TENCENT_SECRET_ID = env("TENCENT_SECRET_ID", "")
TENCENT_SECRET_KEY = env("TENCENT_SECRET_KEY", "")
TENCENT_SMS_SDK_APP_ID = env("TENCENT_SMS_SDK_APP_ID", "")
TENCENT_SMS_REGION = env("TENCENT_SMS_REGION", "ap-guangzhou")
TENCENT_SMS_ENDPOINT = env("TENCENT_SMS_ENDPOINT", "sms.tencentcloudapi.com")
TENCENT_PROTOCOL = env("TENCENT_PROTOCOL", "https")
# The secret each provider's callback URL carries (?token=...): Aliyun's and Tencent's HTTP
# receipts are not signed, so the URL you register in their console is the credential.
NOTIFY_CALLBACK_TOKENS = env_map("NOTIFY_CALLBACK_TOKENS")
# An SMS reply answers the latest message sent to its number within this many days
# (backend/notify/replies.py); older ones are kept, unmatched.
SMS_REPLY_WINDOW_DAYS = float(env("SMS_REPLY_WINDOW_DAYS", "30"))
# The community duty phone the emergency contacts' SMS gives when a community has none.
DUTY_PHONE = env("DUTY_PHONE", "12345")
# Seconds a process keeps an escalation or ladder policy it read (a saved change reaches the
# other processes within this long; the saving process drops its copy at once).
POLICY_CACHE_S = float(env("POLICY_CACHE_S", "5"))
OUTBOX_MAX_ATTEMPTS = int(env("OUTBOX_MAX_ATTEMPTS", "5"))
OUTBOX_BACKOFF_BASE_S = float(env("OUTBOX_BACKOFF_BASE_S", "1"))
# How long a dispatcher's claim on an outbox row holds before another may take it again.
OUTBOX_LEASE_S = float(env("OUTBOX_LEASE_S", "30"))
# Fault tests only: seconds a dispatcher waits between claiming outbox rows and sending them,
# and between a provider's answer and recording it.
OUTBOX_PAUSE_AFTER_CLAIM_S = float(env("OUTBOX_PAUSE_AFTER_CLAIM_S", "0"))
OUTBOX_PAUSE_AFTER_SEND_S = float(env("OUTBOX_PAUSE_AFTER_SEND_S", "0"))

# --- Operations (issue 15): metrics, probes (infra/, docs/operations.md) --------------------
# /metrics (backend/core/metrics.py): Bearer METRICS_TOKEN when set, else only these networks.
METRICS_TOKEN = env("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")
# `manage.py dispatcher` serves its own process metrics on this port when set (0: off).
DISPATCHER_METRICS_PORT = int(env("DISPATCHER_METRICS_PORT", "0"))
# Touched by every dispatcher round; the container's liveness probe reads its age.
DISPATCHER_HEARTBEAT_FILE = env("DISPATCHER_HEARTBEAT_FILE", "")
# An open alert at a tier above this counts as "nobody accepted" for the alert rules.
ALERT_UNACCEPTED_TIERS = int(env("ALERT_UNACCEPTED_TIERS", "2"))
# The longest a commit waits to ring its sockets; what is not rung by then the relay rings.
STREAM_PUBLISH_TIMEOUT = float(env("STREAM_PUBLISH_TIMEOUT", "2"))

# The assessment's PDFs embed this TrueType/TTC font (Chinese glyphs; Debian fonts-wqy-microhei).
ASSESSMENT_PDF_FONT = env("ASSESSMENT_PDF_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

# Community life (backend/community): the catalog item objections to a notice are filed as,
# the base of the SMS links (/n/<token>), and the font embedded in printed notices.
COMMUNITY_OBJECTION_ITEM = env("COMMUNITY_OBJECTION_ITEM", "community-objection")
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
NOTICE_PDF_FONT = env("NOTICE_PDF_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
