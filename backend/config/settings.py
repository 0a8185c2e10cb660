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

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "channels",
    "ninja",  # Swagger UI and ReDoc from its own static files (no CDN)
    "leaflet",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "backend.core",
    "backend.territory",
    "backend.people",
    "backend.accounts",
    "backend.audit",
    "backend.notify",
    "backend.alerts",
    "backend.photos",
    "board",
    "backend.visits",
    "backend.servicedesk",
    "backend.community",
    "backend.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # WhiteNoise is sync-only. Under ASGI every switch between async and sync middleware is a
    # thread hop; last in the chain, it shares the one hop the sync views take anyway (first,
    # as its docs suggest, it cost every API request two more). Static files are served the
    # same, after a few cheap middleware.
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

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
SPATIALITE_LIBRARY_PATH = os.environ.get("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: Redis when REDIS_URL is set, in-memory (one process only) otherwise.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's pub/sub layer (one PUBLISH per ring), telling sockets to read
            # their gap after a broken connection: see realtime/layers.py.
            "BACKEND": "realtime.layers.ResumingPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "socket_connect_timeout": 3,
                    }
                ],
                "prefix": env("CHANNEL_PREFIX", "gridline"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env_list(
    "PASSWORD_HASHERS",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
)

# Lock-out (MLPS 2.0 level 3): 5 failures lock the account for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "phone"
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "backend.accounts.lockout.locked_out"

# The supervisors' board (/board/): Django sessions plus a TOTP second factor (django-otp).
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "gridline")
SESSION_COOKIE_AGE = int(env("SESSION_COOKIE_SECONDS", str(12 * 3600)))  # one duty shift

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
STATIC_ROOT = DATA_DIR / "static"
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Keyed digest of ID numbers for look-up; changing it needs a re-digest of every resident.
PII_DIGEST_KEY = env("PII_DIGEST_KEY", None if PRODUCTION else "dev-only-pii-digest-key")

SILENCED_SYSTEM_CHECKS = [
    # Lock-out is per account (MLPS 2.0: lock the account). Adding the IP would lock a whole
    # community office behind one NAT address after five typos; see docs/decisions.
    "axes.W006",
    # Debian 12 ships GDAL 3.6. We never parse spatial reference strings from callers
    # (every geometry is SRID 4326, fixed in code), which is what GDAL 3.9's blocking guards.
    "gis.W001",
]

# Run the dispatcher inside the ASGI process (the embedded default); with Redis, run
# `manage.py dispatcher` processes instead.
EMBEDDED_DISPATCHER = env("EMBEDDED_DISPATCHER", "0" if REDIS_URL else "1") == "1"

# Push and SMS (backend/notify): FCM through firebase-admin when credentials are configured.
SMS_BACKEND = env("SMS_BACKEND", "backend.notify.sms.ConsoleBackend")

# Community life (backend/community): the catalog item objections to a notice are filed as,
# the base of the SMS links (/n/<token>), and the font embedded in printed notices.
COMMUNITY_OBJECTION_ITEM = env("COMMUNITY_OBJECTION_ITEM", "community-objection")
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
NOTICE_PDF_FONT = env("NOTICE_PDF_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
