"""Portico settings.

Every knob is an environment variable with a documented default, read here once at
start-up; code that must honour a change at run time (tests, long-running workers)
reads ``django.conf.settings`` at call time, never at import time. The README's
settings table lists each variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import dj_email_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTICO_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


DEBUG = env_bool("DEBUG", False)
# The fallback key is for `make run` and the tests only; production sets SECRET_KEY
# (`manage.py check --deploy` refuses the fallback, see portico/core/checks.py).
DEVELOPMENT_SECRET_KEY = "portico-insecure-development-key-change-me-in-production"  # noqa: S105
SECRET_KEY = env("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
BASE_URL = env("BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "anymail",
    "django_tasks_db",
    "ninja",
    "portico.core",
    "portico.accounts",
    "portico.groups",
    "portico.projects",
    "portico.invitations",
    "portico.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portico.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before CSRF (which reads the body of a POST): see its docstring.
    "portico.core.middleware.UploadSizeLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portico.urls"
WSGI_APPLICATION = "portico.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portico" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portico.core.context_processors.platform",
            ],
        },
    },
]

# Database: an SQLite file by default, PostgreSQL (or any dj-database-url URL) otherwise.
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portico.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while the other writes; the timeout
    # waits for a writer instead of failing with "database is locked". A page cache of
    # up to 64 MB (SQLite's default is 2 MB) keeps the indexes of a large import in
    # memory while it is written; it is only allocated as pages are read.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["portico.accounts.backends.EmailBackend"]
LOGIN_URL = "accounts:sign-in"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "projects:list"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Languages: the platform's list, in the platform's spelling (`nl-BE`). Django keeps
# language codes in lower case internally; PORTICO_LANGUAGE_CODES maps back.
_LANGUAGE_NAMES = {
    "en": "English",
    "nl-be": "Nederlands (België)",
    "fr-be": "Français (Belgique)",
    "nl": "Nederlands",
    "fr": "Français",
    "de": "Deutsch",
}
PORTICO_LANGUAGE_CODES = [c.strip() for c in env("PORTICO_LANGUAGES", "en,nl-BE,fr-BE").split(",")]
PORTICO_LANGUAGE_CODES = [c for c in PORTICO_LANGUAGE_CODES if c]
LANGUAGES = [(c.lower(), _LANGUAGE_NAMES.get(c.lower(), c)) for c in PORTICO_LANGUAGE_CODES]
LANGUAGE_CODE = LANGUAGES[0][0]
LOCALE_PATHS = [BASE_DIR / "portico" / "locale"]
USE_I18N = True
TIME_ZONE = env("TIME_ZONE", "Europe/Brussels")
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "portico" / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it to exist
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Mail. EMAIL_URL chooses the transport: `capture://` (the default) keeps every message
# in the database for the dev mailbox; `smtp://host:port`, `submission://user:pass@host`
# and `smtps://...` deliver; `console://` prints.
EMAIL_URL = env("EMAIL_URL", "capture://")
if EMAIL_URL.startswith("capture:"):
    MAILERS = {"default": {"BACKEND": "portico.core.mail.CaptureBackend"}}
    PORTICO_MAILBOX = True
else:
    _email = dj_email_url.parse(EMAIL_URL)
    _options = {
        "host": _email["EMAIL_HOST"],
        "port": _email["EMAIL_PORT"],
        "username": _email["EMAIL_HOST_USER"],
        "password": _email["EMAIL_HOST_PASSWORD"],
        "use_tls": _email["EMAIL_USE_TLS"],
        "use_ssl": _email["EMAIL_USE_SSL"],
        "timeout": _email["EMAIL_TIMEOUT"] or 30,
    }
    _backend = _email["EMAIL_BACKEND"]
    if not _backend.endswith("smtp.EmailBackend"):
        _options = {}
    MAILERS = {"default": {"BACKEND": _backend, "OPTIONS": _options}}
    PORTICO_MAILBOX = False
PORTICO_PLATFORM_NAME = env("PORTICO_PLATFORM_NAME", "Portico")
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", f"{PORTICO_PLATFORM_NAME} <noreply@portico.localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Bounces that come back after the mail server accepted an email reach Portico through
# the provider's tracking webhook (django-anymail), at /anymail/<esp>/tracking/. The
# secret is the webhook's basic-auth "user:password"; empty turns the webhooks off (they
# answer 404), since anymail itself would accept unauthenticated posts.
# Any other anymail setting comes from the environment the same way, ANYMAIL_<NAME> for
# ANYMAIL["<NAME>"]: the signing key that Mailgun, MailerSend, Postal or Unisender Go
# webhooks need, e.g. ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY.
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_") and value
}
ANYMAIL["WEBHOOK_SECRET"] = env("ANYMAIL_WEBHOOK_SECRET", "")

# Background work: django.tasks with the database backend; the worker is
# `manage.py run_worker` (started by `make run`).
TASKS = {"default": {"BACKEND": env("TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}

# Cache, used by the rate limits. One process (`make run`) is fine with local memory;
# several web processes share limits through Redis (CACHE_URL=redis://127.0.0.1:6379/0).
CACHE_URL = env("CACHE_URL", "")
if CACHE_URL.startswith("redis"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Rate limits: "count/period" with period in s, m, h or d.
PORTICO_RATE_LIMITS = {
    "sign_in": env("PORTICO_RATE_SIGN_IN", "10/m"),
    "sign_up": env("PORTICO_RATE_SIGN_UP", "10/h"),
    "verification_resend": env("PORTICO_RATE_VERIFICATION_RESEND", "3/h"),
    "password_reset": env("PORTICO_RATE_PASSWORD_RESET", "5/h"),
    # Typing or opening a token (/invite, /api/v1/invites/...), per IP address.
    "token_lookup": env("PORTICO_RATE_TOKEN_LOOKUP", "30/m"),
    # "Send my invitation again" from the sign-up page, per address and per IP.
    "invitation_resend_address": env("PORTICO_RATE_INVITATION_RESEND_ADDRESS", "3/h"),
    "invitation_resend_ip": env("PORTICO_RATE_INVITATION_RESEND_IP", "10/h"),
}
# Behind a reverse proxy every request comes from the proxy's address, so the limits
# above would count the whole platform as one client. Name the request header in which
# the proxy passes the client's address, as a request.META key (HTTP_X_FORWARDED_FOR,
# HTTP_X_REAL_IP; the header name X-Forwarded-For works too). Only set it when every
# request passes through the proxy and the proxy itself sets that header: a client that
# reaches the server directly, or whose header the proxy forwards untouched, could then
# pick any address. From a list (X-Forwarded-For), the last address is the one used:
# the one the proxy added. Empty: the connection's address.
PORTICO_TRUSTED_PROXY_HEADER = env("PORTICO_TRUSTED_PROXY_HEADER", "").strip()
if PORTICO_TRUSTED_PROXY_HEADER:
    PORTICO_TRUSTED_PROXY_HEADER = PORTICO_TRUSTED_PROXY_HEADER.upper().replace("-", "_")
    if not PORTICO_TRUSTED_PROXY_HEADER.startswith("HTTP_"):
        PORTICO_TRUSTED_PROXY_HEADER = "HTTP_" + PORTICO_TRUSTED_PROXY_HEADER
PORTICO_EMAIL_VERIFICATION_TTL_DAYS = env_int("PORTICO_EMAIL_VERIFICATION_TTL_DAYS", 3)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = BASE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_tokens": {"()": "portico.core.logging.MaskTokensFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_tokens"],
        },
        # runserver's access log, as Django formats it, with tokens masked.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["mask_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}

# Invitations. Durations accept 30d, 72h, 15m or 90s.
PORTICO_INVITATION_TTL = env("PORTICO_INVITATION_TTL", "30d")
PORTICO_REMINDER_DELAY = env("PORTICO_REMINDER_DELAY", "3d")
PORTICO_REMINDERS = env_bool("PORTICO_REMINDERS", True)
PORTICO_MAX_INVITES = env_int("PORTICO_MAX_INVITES", 100_000)
# Letters (PDF, one page per pending invitation). A print is drawn by the worker, about
# 3 ms a letter, in constant memory: at most PORTICO_MAX_LETTERS letters in one PDF (as
# many as one import can hold). GET /api/v1/invitations/letters.pdf draws in the request,
# so it prints at most PORTICO_MAX_LETTERS_IN_REQUEST at once (in parts beyond). The
# worker deletes a print's PDF PORTICO_LETTERS_RETENTION after it was drawn.
PORTICO_MAX_LETTERS = env_int("PORTICO_MAX_LETTERS", 100_000)
PORTICO_MAX_LETTERS_IN_REQUEST = env_int("PORTICO_MAX_LETTERS_IN_REQUEST", 1_000)
PORTICO_LETTERS_RETENTION = env("PORTICO_LETTERS_RETENTION", "7d")
# The key that turns an invitation's stored nonce into its token. Changing it
# invalidates every outstanding token; defaults to SECRET_KEY.
PORTICO_TOKEN_KEY = env("PORTICO_TOKEN_KEY", "")
# Imports: uploads are read in a child process with these limits.
PORTICO_UPLOAD_MAX_MB = env_int("PORTICO_UPLOAD_MAX_MB", 20)
PORTICO_IMPORT_MEMORY_MB = env_int("PORTICO_IMPORT_MEMORY_MB", 1024)
PORTICO_IMPORT_CPU_SECONDS = env_int("PORTICO_IMPORT_CPU_SECONDS", 60)
PORTICO_IMPORT_TIMEOUT_SECONDS = env_int("PORTICO_IMPORT_TIMEOUT_SECONDS", 90)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "uploads")))
# How long an uploaded file is kept once its import is done, invalid or failed (the
# worker's sweep then deletes it; the import's figures and errors stay).
PORTICO_IMPORT_RETENTION = env("PORTICO_IMPORT_RETENTION", "7d")

# Outbox: how many times an email is tried before it is marked failed.
PORTICO_MAIL_MAX_ATTEMPTS = env_int("PORTICO_MAIL_MAX_ATTEMPTS", 8)

# How often (seconds) the worker runs its periodic sweeps (reminders, expiry).
PORTICO_SWEEP_INTERVAL = env_int("PORTICO_SWEEP_INTERVAL", 30)
