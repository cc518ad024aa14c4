"""Porchlight settings, read from the environment.

Every project variable is prefixed ``PORCHLIGHT_``; secrets may also be given as a path in
``<NAME>_FILE``. The embedded defaults run on a laptop (SQLite under ``var/``, a generated
secret key); with debug off and a non-loopback issuer, a missing secret key stops start-up.
"""

import base64
import hashlib
import importlib.util
import ipaddress
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, TypedDict, overload
from urllib.parse import urlsplit

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from ground.rates import Rate, parse_rate

# Django's generic classes (ModelAdmin, ModelForm, ...) as django-stubs declares them, so that
# `admin.ModelAdmin[Client]` also works at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORCHLIGHT_VAR_DIR", BASE_DIR / "var"))

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@overload
def env(name: str) -> str | None: ...
@overload
def env(name: str, default: str) -> str: ...


def env(name: str, default: str | None = None) -> str | None:
    """Return ``name`` from the environment, or the contents of the file named by ``name_FILE``."""
    value = os.environ.get(name)
    if value is not None and value != "":
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc
    return default


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int, *, minimum: int = 1, maximum: int | None = None) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from exc
    if number < minimum or (maximum is not None and number > maximum):
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum or 'any'}, not {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = env(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("PORCHLIGHT_DEBUG", False)

ISSUER = (env("PORCHLIGHT_ISSUER") or "http://127.0.0.1:8000").rstrip("/")
_issuer = urlsplit(ISSUER)
if _issuer.scheme not in {"http", "https"} or not _issuer.hostname or _issuer.query or _issuer.fragment:
    # OIDC Discovery 1.0 §3: the issuer is an https URL with no query or fragment.
    raise ImproperlyConfigured(f"PORCHLIGHT_ISSUER must be an absolute http(s) URL, not {ISSUER!r}")
ISSUER_IS_LOOPBACK = _issuer.hostname in LOOPBACK_HOSTS
if _issuer.scheme != "https" and not (ISSUER_IS_LOOPBACK or DEBUG):
    raise ImproperlyConfigured("PORCHLIGHT_ISSUER must use https outside loopback (OIDC Discovery 1.0 §3)")


def _secret_key() -> str:
    configured = env("PORCHLIGHT_SECRET_KEY")
    if configured:
        return configured
    if not (DEBUG or ISSUER_IS_LOOPBACK):
        raise ImproperlyConfigured(
            "PORCHLIGHT_SECRET_KEY (or PORCHLIGHT_SECRET_KEY_FILE) must be set when "
            "PORCHLIGHT_DEBUG is off and the issuer is not a loopback address"
        )
    # Development only: one random key kept under var/ so sessions survive restarts.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("PORCHLIGHT_ALLOWED_HOSTS", sorted({_issuer.hostname, "127.0.0.1", "localhost"}))
CSRF_TRUSTED_ORIGINS = [f"{_issuer.scheme}://{_issuer.netloc}"]

INSTALLED_APPS = [
    # Django's admin on Porchlight's sign-in, second factor and lockout (accounts/admin_site.py).
    "accounts.apps.PorchlightAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # django-otp without its otp_totp and otp_static plugins: Porchlight's own devices
    # (accounts/mfa/models.py) are the only ones its second-factor checks use.
    "django_otp",
    "django_otp_webauthn",
    "oauth2_provider",
    # Background work (back-channel logout deliveries): django-tasks with its database backend,
    # run by `manage.py db_worker` as its own process.
    "django_tasks",
    "django_tasks_db",
    "audit",
    "accounts",
    # Directory sign-in (LDAP, Active Directory): which accounts are the directory's.
    "directory",
    "oidc_provider",
    # SCIM 2.0 provisioning at /scim/v2/ (scim/): it imports the apps above, none imports it.
    "scim",
    # Sign-in with upstream identity providers (OpenID Connect, GitHub); it imports the apps above.
    "upstream",
    # Probes, metrics, request logs and the middleware of ops/; it imports the apps above.
    "ops",
]

MIDDLEWARE = [
    # Protocol endpoints continue down PROTOCOL_MIDDLEWARE below (ops/lean_path.py).
    "ops.lean_path.ProtocolPathMiddleware",
    # First, and on every path (the lean protocol path too): each is a few microseconds
    # (ops/request_log.py, ops/metrics.py).
    "ops.request_log.RequestIdMiddleware",
    "ops.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (settings below).
    "ops.headers.CSPMiddleware",
    "ops.headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ops.malformed_requests.MalformedRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.sessions.LastSeenMiddleware",
    # The page's language: ui_locales, the account's locale, the switcher, Accept-Language.
    "accounts.languages.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Middleware for people's pages only: token, UserInfo, introspection, revocation, device
# authorization, JWKS and discovery skip these. Anything else added to MIDDLEWARE (request ids,
# metrics, security headers such as CSP) runs on the protocol endpoints too; a new middleware that
# needs a session or request.user must be listed here as well.
BROWSER_MIDDLEWARE = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.sessions.LastSeenMiddleware",
    "accounts.languages.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
}
# On the protocol paths, Django's security and frame headers come from the same middleware with
# the headers encoded once per process, and CommonMiddleware's steps as a plain call
# (ops/headers.py); pages keep Django's own, which its deployment checks look for by name.
PROTOCOL_EQUIVALENTS = {
    "django.middleware.security.SecurityMiddleware": "ops.headers.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "ops.headers.FrameOptionsMiddleware",
    "django.middleware.common.CommonMiddleware": "ops.headers.CommonMiddleware",
}
PROTOCOL_MIDDLEWARE = [
    PROTOCOL_EQUIVALENTS.get(name, name)
    for name in MIDDLEWARE
    if name not in BROWSER_MIDDLEWARE and name != MIDDLEWARE[0]
]

ROOT_URLCONF = "porchlight.urls"
WSGI_APPLICATION = "porchlight.wsgi.application"

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
                "ops.context_processors.language_switcher",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'porchlight.sqlite3'}",
        conn_max_age=env_int("PORCHLIGHT_DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that polls the socket before it sends SELECT 1, and
    # the protocol endpoints' lookups prepared once per kept connection (ground/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "ground.postgresql"
    if DATABASES["default"]["CONN_MAX_AGE"]:
        # psycopg's default; only ground.postgresql's prepared cursor prepares (every other
        # cursor binds on the client). 0 keeps a connection per request, as poolers need: none.
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writes from several gunicorn workers wait for the lock instead of failing at once. Each
    # worker keeps its connection (PORCHLIGHT_DB_CONN_MAX_AGE), so the PRAGMA runs once per
    # connection rather than once per request.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# MFA (accounts/mfa/). Authenticator apps and passkey prompts show the service under this name.
SITE_NAME = env("PORCHLIGHT_SITE_NAME", "Porchlight")
# Branding: a logo (an absolute URL, or a path under the site such as /static/logo.svg) shown
# beside the name, and an accent colour (#rgb or #rrggbb) for links and primary buttons.
LOGO_URL = env("PORCHLIGHT_LOGO_URL") or ""
if LOGO_URL and not re.fullmatch(r"(https://|/(?!/))[^\s\"'<>]*", LOGO_URL):
    raise ImproperlyConfigured("PORCHLIGHT_LOGO_URL must be an https:// URL or a path starting with /")
ACCENT_COLOR = env("PORCHLIGHT_ACCENT_COLOR") or ""
if ACCENT_COLOR and not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", ACCENT_COLOR):
    raise ImproperlyConfigured("PORCHLIGHT_ACCENT_COLOR must be a colour such as #0b5cad")
OTP_TOTP_ISSUER = SITE_NAME
# Passkeys (WebAuthn) are bound to a host name (the RP ID), the issuer's unless told otherwise,
# and work only on pages of the issuer's origin. Browsers refuse an IP address as RP ID, so a
# loopback issuer offers passkeys at http://localhost:<port> (WebAuthn Level 3 §5.1.3).
_passkey_host = "localhost" if ISSUER_IS_LOOPBACK else _issuer.hostname
OTP_WEBAUTHN_RP_ID = env("PORCHLIGHT_WEBAUTHN_RP_ID", _passkey_host)
OTP_WEBAUTHN_RP_NAME = SITE_NAME
OTP_WEBAUTHN_HELPER_CLASS = "accounts.mfa.passkeys.PasskeyHelper"
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    f"{_issuer.scheme}://{_passkey_host if ISSUER_IS_LOOPBACK else _issuer.netloc}"
    + (f":{_issuer.port}" if ISSUER_IS_LOOPBACK and _issuer.port else "")
]
# Staff can see and remove users' devices in the admin, never their keys or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    # Client secrets only: generated secrets have 256+ bits of entropy, so a fast keyed
    # hash is safe and keeps client authentication cheap (see oidc_provider/hashers.py).
    "oidc_provider.hashers.ClientSecretHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A local list of breached passwords (accounts/passwords.py): SHA-1 hashes in hex, sorted, one a
# line (optionally ":count" after each, as Have I Been Pwned's "ordered by hash" download has it).
# Every new password is looked up in it by binary search, so the file is never read into memory.
BREACHED_PASSWORDS_FILE = env("PORCHLIGHT_BREACHED_PASSWORDS_FILE") or ""
if BREACHED_PASSWORDS_FILE:
    AUTH_PASSWORD_VALIDATORS.append(
        {
            "NAME": "accounts.passwords.BreachedPasswordValidator",
            "OPTIONS": {"path": BREACHED_PASSWORDS_FILE},
        }
    )

# The languages Porchlight ships catalogs for (locale/<code>/LC_MESSAGES/django.po, docs/languages.md).
# Discovery's ui_locales_supported lists exactly these (oidc_provider/metadata.py); a page's language
# is chosen by accounts/languages.py.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("fr", "Français"),
    ("nl", "Nederlands"),
    ("pt-br", "Português (Brasil)"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_NAME = "porchlight_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("PORCHLIGHT_SESSION_LIFETIME", 60 * 60 * 12)

# Tasks are rows in the database, written in the transaction that causes them, and run by
# `manage.py db_worker` (DESIGN: background work).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Back-channel logout (oidc_provider/logout.py): seconds per POST, how many tries in all, and the
# first retry's delay (doubling each time: 10 s, 20 s, 40 s, ...).
PORCHLIGHT_LOGOUT_TIMEOUT = env_int("PORCHLIGHT_LOGOUT_TIMEOUT", 5, minimum=1)
PORCHLIGHT_LOGOUT_ATTEMPTS = env_int("PORCHLIGHT_LOGOUT_ATTEMPTS", 8, minimum=1)
PORCHLIGHT_LOGOUT_RETRY_DELAY = env_int("PORCHLIGHT_LOGOUT_RETRY_DELAY", 10, minimum=1)
SESSION_COOKIE_SECURE = _issuer.scheme == "https"
CSRF_COOKIE_SECURE = _issuer.scheme == "https"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# With PORCHLIGHT_PROXY_HEADERS=forwarded, ops/wsgi_environ.py writes a trusted proxy's RFC 7239
# Forwarded into these variables (and removes any a client sent), so both spellings are read here.
if env_bool("PORCHLIGHT_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# RFC 6797: with an https issuer, browsers must never reach it over plain http. Django sends HSTS
# on secure requests only, so behind a TLS-terminating proxy set PORCHLIGHT_BEHIND_PROXY.
_https = _issuer.scheme == "https"
SECURE_HSTS_SECONDS = env_int("PORCHLIGHT_HSTS_SECONDS", 60 * 60 * 24 * 365 if _https else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("PORCHLIGHT_HSTS_INCLUDE_SUBDOMAINS", _https)
SECURE_HSTS_PRELOAD = env_bool("PORCHLIGHT_HSTS_PRELOAD", _https)
SECURE_SSL_REDIRECT = env_bool("PORCHLIGHT_SSL_REDIRECT", _https)
# Load balancers probe over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# CSP Level 3: pages load scripts, styles, fonts and images from this origin only; no inline
# script runs (the form_post page sets its own policy with the hash of its one script). The
# accent colour is the only inline style, allowed by its hash (templates/branding/head.html).
_csp_styles = ["'self'"]
if ACCENT_COLOR:
    _accent_css = f":root {{ --accent: {ACCENT_COLOR}; }}"
    _csp_styles.append(f"'sha256-{base64.b64encode(hashlib.sha256(_accent_css.encode()).digest()).decode()}'")
_csp_images = ["'self'", "data:"]
if LOGO_URL.startswith("https://"):
    _csp_images.append("{0.scheme}://{0.netloc}".format(urlsplit(LOGO_URL)))
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": _csp_styles,
        "img-src": _csp_images,
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        # No form-action: Chrome applies it to the redirect after the consent form, which goes to
        # the client's redirect URI on another origin.
    }
}
# Browser features no page needs; WebAuthn (passkeys) only from this origin.
PERMISSIONS_POLICY = {
    "camera": "()",
    "microphone": "()",
    "geolocation": "()",
    "payment": "()",
    "usb": "()",
    "publickey-credentials-create": "(self)",
    "publickey-credentials-get": "(self)",
}

# Mail (password reset): printed to the console unless an SMTP host is configured.
EMAIL_HOST = env("PORCHLIGHT_EMAIL_HOST") or ""
EMAIL_BACKEND = env(
    "PORCHLIGHT_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("PORCHLIGHT_EMAIL_PORT", 587, maximum=65535)
EMAIL_HOST_USER = env("PORCHLIGHT_EMAIL_USER") or ""
EMAIL_HOST_PASSWORD = env("PORCHLIGHT_EMAIL_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("PORCHLIGHT_EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("PORCHLIGHT_FROM_EMAIL", "porchlight@localhost")
PASSWORD_RESET_TIMEOUT = env_int("PORCHLIGHT_PASSWORD_RESET_LIFETIME", 60 * 60, maximum=60 * 60 * 24 * 3)

# Scale-out: with PORCHLIGHT_CACHE_URL (redis://...) every node shares one cache through Django's
# own Redis backend; without it each process keeps its own and the database holds shared state.
CACHE_URL = env("PORCHLIGHT_CACHE_URL") or ""
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"PORCHLIGHT_CACHE_URL must be a redis:// URL, not {CACHE_URL!r}")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "porchlight",
        }
    }
    if env_bool("PORCHLIGHT_CACHE_SESSIONS", False):
        # Sessions read from Redis and written through to the database, so none is lost with it.
        SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "porchlight",
        }
    }
# Login and password-reset failure counts in Redis as well (accounts/throttling.py): no row
# written per failed login. Lockouts stay rows in the database, where staff see and clear them.
CACHE_THROTTLE = env_bool("PORCHLIGHT_CACHE_THROTTLE", False)
if CACHE_THROTTLE and not CACHE_URL:
    # Each process's own cache would give every worker its own count: an attacker many more tries.
    raise ImproperlyConfigured(
        "PORCHLIGHT_CACHE_THROTTLE needs PORCHLIGHT_CACHE_URL (a redis:// URL every node shares)"
    )


def _client_rate_limit() -> Rate | None:
    """Read PORCHLIGHT_CLIENT_RATE_LIMIT: REQUESTS/SECONDS, or unlimited (ground/rates.py)."""
    try:
        return parse_rate(env("PORCHLIGHT_CLIENT_RATE_LIMIT", "600/60"))
    except ValueError as exc:
        raise ImproperlyConfigured(f"PORCHLIGHT_CLIENT_RATE_LIMIT: {exc}") from exc


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Password-reset links carry their token in the path (ops/log_redaction.py).
    "filters": {
        "secret_paths": {"()": "ops.log_redaction.SecretPathFilter"},
        "request_id": {"()": "ops.request_log.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "ops.request_log.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # PORCHLIGHT_LOG_FORMAT=json: one JSON object per line (gunicorn's access log too).
            "formatter": "json" if env("PORCHLIGHT_LOG_FORMAT", "plain") == "json" else "plain",
            "filters": ["secret_paths", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("PORCHLIGHT_LOG_LEVEL", "WARNING")},
    "loggers": {
        # oauthlib logs request bodies (client secrets, codes) at DEBUG.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
        # These log the path of 4xx responses and CSRF failures; filtered where they are logged,
        # so every handler (Django's own included) gets the redacted message.
        "django.request": {"filters": ["secret_paths"]},
        "django.security.csrf": {"filters": ["secret_paths"]},
    },
}

# --- Porchlight protocol settings -------------------------------------------------------------


def _key_encryption_key() -> str:
    configured = env("PORCHLIGHT_KEY_ENCRYPTION_KEY")
    if configured:
        return configured
    if not (DEBUG or ISSUER_IS_LOOPBACK):
        raise ImproperlyConfigured(
            "PORCHLIGHT_KEY_ENCRYPTION_KEY (or PORCHLIGHT_KEY_ENCRYPTION_KEY_FILE) must be set when "
            "PORCHLIGHT_DEBUG is off and the issuer is not a loopback address"
        )
    # Development only, and documented as such: keys encrypted with it are not protected.
    return "porchlight-development-key-encryption-key-do-not-use-in-production"


def _key_encryption_key_fallbacks() -> list[str]:
    # Older keys, still accepted for decryption until `manage.py reencrypt` has moved every value
    # to the newest; comma- or newline-separated, so a _FILE can hold one per line.
    value = env("PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS") or ""
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    # Unset or empty: a proxy on the same host (loopback) is the only one trusted.
    networks = env_list("PORCHLIGHT_TRUSTED_PROXIES", []) or ["127.0.0.0/8", "::1/128"]
    try:
        return [ipaddress.ip_network(item, strict=False) for item in networks]
    except ValueError as exc:
        raise ImproperlyConfigured(f"PORCHLIGHT_TRUSTED_PROXIES: {exc}") from exc


def _proxy_headers() -> str:
    # Granian maps a header spelled X_Forwarded_For to the variable X-Forwarded-For becomes, and
    # gunicorn drops it: under Granian the forwarded headers are RFC 7239's Forwarded by default,
    # whose name no underscore spelling can imitate (ops/wsgi_environ.py, ops/checks.py).
    default = "forwarded" if _server == "granian" else "x-forwarded"
    value = (env("PORCHLIGHT_PROXY_HEADERS") or default).strip().lower()
    if value not in {"x-forwarded", "forwarded"}:
        raise ImproperlyConfigured(
            f"PORCHLIGHT_PROXY_HEADERS must be x-forwarded or forwarded, not {value!r}"
        )
    return value


def _networks(name: str, default: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(item, strict=False) for item in env_list(name, default)]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc


# manage.py serve starts the server this names (ops/management/commands/serve.py checks the name).
_server = (env("PORCHLIGHT_SERVER") or "gunicorn").strip().lower()
_login_lockout = env_int("PORCHLIGHT_LOGIN_LOCKOUT", 300, maximum=86400)


def _subject_format() -> str:
    # accounts/subjects.py: the format of the sub new accounts get; existing ones keep theirs.
    value = (env("PORCHLIGHT_SUBJECT_FORMAT") or "uuid").strip().lower()
    if value not in {"uuid", "proquint"}:
        raise ImproperlyConfigured(f"PORCHLIGHT_SUBJECT_FORMAT must be uuid or proquint, not {value!r}")
    return value


def _signup() -> str:
    # accounts/signup/: who may create an account. off: staff only (today's tools: the admin,
    # invitations, importusers); invite: also only through a staff invitation, whose page then asks
    # for the sign-up fields and terms too; open: anyone, on the sign-up page.
    value = (env("PORCHLIGHT_SIGNUP") or "off").strip().lower()
    if value not in {"off", "invite", "open"}:
        raise ImproperlyConfigured(f"PORCHLIGHT_SIGNUP must be off, invite or open, not {value!r}")
    return value


def _pairwise_salt() -> str:
    # oidc_provider/subjects.py: the secret in every pairwise sub (OIDC Core 1.0 §8.1). Not needed
    # to start, so an upgrade does not stop; a pairwise client cannot be saved without it.
    configured = env("PORCHLIGHT_PAIRWISE_SALT")
    if configured:
        if len(configured) < 16:
            raise ImproperlyConfigured("PORCHLIGHT_PAIRWISE_SALT must be at least 16 characters")
        return configured
    if DEBUG or ISSUER_IS_LOOPBACK:
        # Development only, and documented as such: pairwise subjects made with it are guessable.
        return "porchlight-development-pairwise-salt-do-not-use-in-production"
    return ""


class PorchlightSettings(TypedDict):
    """The keys of ``PORCHLIGHT`` and their types (durations in seconds unless named in days)."""

    METADATA_CACHE_SECONDS: int
    KEY_PROPAGATION_SECONDS: int
    JWKS_MAX_AGE: int
    KEY_ROTATION_DAYS: int
    KEY_ENCRYPTION_KEY: str
    KEY_ENCRYPTION_KEY_FALLBACKS: list[str]
    CACHE_THROTTLE: bool
    CLIENT_RATE_LIMIT: Rate | None
    LOGIN_MAX_FAILURES_PER_ACCOUNT: int
    LOGIN_MAX_FAILURES_PER_IP: int
    LOGIN_FAILURE_WINDOW: int
    LOGIN_LOCKOUT: int
    LOGIN_LOCKOUT_MAX: int
    PASSWORD_RESET_MAX_PER_ACCOUNT: int
    PASSWORD_RESET_MAX_PER_IP: int
    PASSWORD_RESET_WINDOW: int
    INVITATION_LIFETIME: int
    EMAIL_VERIFICATION_LIFETIME: int
    STAFF_REQUIRE_MFA: bool
    REFRESH_REUSE_GRACE: int
    OFFLINE_TOKEN_MAX_LIFETIME: int
    BEHIND_PROXY: bool
    SERVER: str
    PROXY_HEADERS: str
    PROXY_DROPS_UNDERSCORE_HEADERS: bool
    RECENT_AUTH_MAX_AGE: int
    DATA_EXPORT_LIFETIME: int
    OPEN_REGISTRATION: bool
    REGISTRATION_API_SCOPES: list[str]
    DEVICE_CODE_LIFETIME: int
    DEVICE_POLL_INTERVAL: int
    TRUSTED_PROXIES: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
    HOUSEKEEPING_INTERVAL: int
    METRICS_TOKEN: str
    METRICS_ALLOWED_NETWORKS: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
    OUTBOUND_ALLOWED_NETWORKS: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
    AUDIT_RETENTION_DAYS: int
    SESSION_RETENTION_DAYS: int
    ACCOUNT_DELETION_GRACE_DAYS: int
    SUBJECT_FORMAT: str
    PAIRWISE_SALT: str
    SIGNUP: str
    SIGNUP_FIELDS: list[str]
    SIGNUP_EMAIL_DOMAINS: list[str]
    SIGNUP_TERMS_URL: str
    SIGNUP_TERMS_VERSION: str
    SIGNUP_REVIEW: bool
    SIGNUP_MAX_PER_ADDRESS: int
    SIGNUP_MAX_PER_IP: int
    SIGNUP_WINDOW: int


PORCHLIGHT: PorchlightSettings = {
    # How long discovery and JWKS stay cached in each worker; a key rotation reaches every
    # worker and node within this bound (and RPs within JWKS_MAX_AGE).
    "METADATA_CACHE_SECONDS": env_int("PORCHLIGHT_METADATA_CACHE_SECONDS", 30, maximum=3600),
    # After a forced rotation (`rotatekeys --now`, the admin) the new key is published at once and
    # signs this much later, when every worker has reloaded the key set (oidc_provider/rotation.py).
    "KEY_PROPAGATION_SECONDS": env_int("PORCHLIGHT_METADATA_CACHE_SECONDS", 30, maximum=3600) + 2,
    "JWKS_MAX_AGE": env_int("PORCHLIGHT_JWKS_MAX_AGE", 600, maximum=86400),
    # How long a key signs before `rotatekeys` replaces it.
    "KEY_ROTATION_DAYS": env_int("PORCHLIGHT_KEY_ROTATION_DAYS", 90, maximum=3650),
    "KEY_ENCRYPTION_KEY": _key_encryption_key(),
    "KEY_ENCRYPTION_KEY_FALLBACKS": _key_encryption_key_fallbacks(),
    # Brute-force protection (accounts/throttling.py): failures counted per account and per client
    # IP in the database (or, with CACHE_THROTTLE, in Redis), so every worker and node shares them.
    "CACHE_THROTTLE": CACHE_THROTTLE,
    # Requests each client may make to the token, introspection, revocation, UserInfo and device
    # authorization endpoints together, unless the client has a limit of its own (None: no limit;
    # oidc_provider/rate_limits.py). Counted where the login throttle counts (CACHE_THROTTLE).
    "CLIENT_RATE_LIMIT": _client_rate_limit(),
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": env_int("PORCHLIGHT_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, maximum=1000),
    "LOGIN_MAX_FAILURES_PER_IP": env_int("PORCHLIGHT_LOGIN_MAX_FAILURES_PER_IP", 20, maximum=100_000),
    "LOGIN_FAILURE_WINDOW": env_int("PORCHLIGHT_LOGIN_FAILURE_WINDOW", 900, maximum=86400),
    "LOGIN_LOCKOUT": _login_lockout,
    "LOGIN_LOCKOUT_MAX": env_int(
        "PORCHLIGHT_LOGIN_LOCKOUT_MAX", max(3600, _login_lockout), minimum=_login_lockout, maximum=7 * 86400
    ),
    # Password reset mails per e-mail address and per client IP within the window (the same
    # records); further requests get the same answer and no mail.
    "PASSWORD_RESET_MAX_PER_ACCOUNT": env_int("PORCHLIGHT_PASSWORD_RESET_MAX_PER_ACCOUNT", 3, maximum=1000),
    "PASSWORD_RESET_MAX_PER_IP": env_int("PORCHLIGHT_PASSWORD_RESET_MAX_PER_IP", 10, maximum=100_000),
    "PASSWORD_RESET_WINDOW": env_int("PORCHLIGHT_PASSWORD_RESET_WINDOW", 3600, maximum=86400),
    # How long the link in an invitation mail lets the invited person choose a password.
    "INVITATION_LIFETIME": env_int(
        "PORCHLIGHT_INVITATION_LIFETIME", 7 * 86400, minimum=300, maximum=30 * 86400
    ),
    # How long the link in an "is this your address?" mail works (accounts/verification/services.py).
    "EMAIL_VERIFICATION_LIFETIME": env_int(
        "PORCHLIGHT_EMAIL_VERIFICATION_LIFETIME", 2 * 86400, minimum=300, maximum=30 * 86400
    ),
    # Staff must use a second factor to open the admin; those without one are taken through
    # enrollment first. On by default wherever the issuer is a real (non-loopback) address.
    "STAFF_REQUIRE_MFA": env_bool("PORCHLIGHT_STAFF_REQUIRE_MFA", not ISSUER_IS_LOOPBACK),
    # OIDC Core 1.0 §11: an offline refresh token dies this long after the sign-in it came from,
    # however often it is used (0: only the idle lifetime limits it).
    # RFC 9700 §4.14.2: a client that retries a refresh within this many seconds (a lost
    # response, two tabs) gets the same successor back instead of a family revocation; 0: never.
    "REFRESH_REUSE_GRACE": env_int("PORCHLIGHT_REFRESH_REUSE_GRACE", 10, minimum=0, maximum=300),
    "OFFLINE_TOKEN_MAX_LIFETIME": env_int(
        "PORCHLIGHT_OFFLINE_TOKEN_MAX_LIFETIME", 60 * 60 * 24 * 90, minimum=0, maximum=60 * 60 * 24 * 3650
    ),
    "BEHIND_PROXY": env_bool("PORCHLIGHT_BEHIND_PROXY", False),
    "SERVER": _server,
    # Which headers a trusted proxy describes the client with: x-forwarded (X-Forwarded-For,
    # -Proto, -Host) or forwarded (RFC 7239). Default: x-forwarded under gunicorn, forwarded
    # under Granian, where x-forwarded is refused (ops/checks.py) unless the operator states
    # that the proxy drops header names with an underscore.
    "PROXY_HEADERS": _proxy_headers(),
    "PROXY_DROPS_UNDERSCORE_HEADERS": env_bool("PORCHLIGHT_PROXY_DROPS_UNDERSCORE_HEADERS", False),
    # Downloading one's data or deleting the account needs a sign-in this recent (seconds).
    "RECENT_AUTH_MAX_AGE": env_int("PORCHLIGHT_RECENT_AUTH_MAX_AGE", 300, minimum=30, maximum=86400),
    # How long a prepared copy of a person's data waits for its one download (seconds).
    "DATA_EXPORT_LIFETIME": env_int("PORCHLIGHT_DATA_EXPORT_LIFETIME", 3600, minimum=60, maximum=7 * 86400),
    # Dynamic client registration without an initial access token (RFC 7591 §3). Off: only
    # holders of a token staff created in the admin may register clients.
    "OPEN_REGISTRATION": env_bool("PORCHLIGHT_OPEN_REGISTRATION", False),
    # The API scopes a client that registers itself may be given when it asks for them (RFC 7591
    # §2 scope); any other API scope it asks for is refused. None by default: staff allow them.
    "REGISTRATION_API_SCOPES": env_list("PORCHLIGHT_REGISTRATION_API_SCOPES", []),
    # Device authorization grant (RFC 8628 §3.2): how long a device code and its user code live,
    # and the seconds a device waits between polls (each slow_down adds 5).
    "DEVICE_CODE_LIFETIME": env_int("PORCHLIGHT_DEVICE_CODE_LIFETIME", 600, minimum=60, maximum=3600),
    "DEVICE_POLL_INTERVAL": env_int("PORCHLIGHT_DEVICE_POLL_INTERVAL", 5, maximum=60),
    # With BEHIND_PROXY, X-Forwarded-For (or Forwarded) is read only when the direct peer (REMOTE_ADDR) is one
    # of these networks, and these hops are skipped when looking for the client in it.
    "TRUSTED_PROXIES": _trusted_proxies(),
    # Seconds between housekeeping runs (oidc_provider/housekeeping.py): pruning and key rotation.
    "HOUSEKEEPING_INTERVAL": env_int("PORCHLIGHT_HOUSEKEEPING_INTERVAL", 900, minimum=60, maximum=86400),
    # /metrics answers a bearer of this token, or a client in the allow-list (loopback by default),
    # judged on the same client address as throttling (ground/client_address.py).
    "METRICS_TOKEN": env("PORCHLIGHT_METRICS_TOKEN") or "",
    "METRICS_ALLOWED_NETWORKS": _networks("PORCHLIGHT_METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"]),
    # Requests Porchlight sends to URIs a client registered (back-channel logout) go only to public
    # addresses, and to these networks besides: apps on a private network (ground/outbound.py).
    "OUTBOUND_ALLOWED_NETWORKS": _networks("PORCHLIGHT_OUTBOUND_ALLOWED_NETWORKS", []),
    # Audit events older than this many days are deleted (audit/services.audit_purge, `purgeaudit`).
    "AUDIT_RETENTION_DAYS": env_int("PORCHLIGHT_AUDIT_RETENTION_DAYS", 365, maximum=36500),
    # Ended sign-in sessions and the logout notices sent for them are deleted this many days
    # after they ended (oidc_provider/housekeeping.py); until then users and staff see them.
    "SESSION_RETENTION_DAYS": env_int("PORCHLIGHT_SESSION_RETENTION_DAYS", 90, maximum=36500),
    # A deleted account is closed at once and erased this many days later; staff can restore it
    # until then (accounts/lifecycle/services.py). 0 erases at the next housekeeping run.
    "ACCOUNT_DELETION_GRACE_DAYS": env_int(
        "PORCHLIGHT_ACCOUNT_DELETION_GRACE_DAYS", 14, minimum=0, maximum=365
    ),
    # The subject identifier (sub) of new accounts: a random UUID, or 64 random bits as proquints
    # (accounts/subjects.py). Changing it never changes an existing account's sub.
    "SUBJECT_FORMAT": _subject_format(),
    # Keep it with the key-encryption key: changing or losing it changes every pairwise sub.
    "PAIRWISE_SALT": _pairwise_salt(),
    # Sign-up (accounts/signup/): off, invite or open.
    "SIGNUP": _signup(),
    # The profile fields the sign-up page asks for, each required (besides the e-mail address and
    # password); a name that is no such field stops start-up (accounts/signup/checks.py).
    "SIGNUP_FIELDS": env_list("PORCHLIGHT_SIGNUP_FIELDS", []),
    # Only addresses at these domains may sign up (exactly these, not their subdomains); empty: any.
    "SIGNUP_EMAIL_DOMAINS": [domain.lower() for domain in env_list("PORCHLIGHT_SIGNUP_EMAIL_DOMAINS", [])],
    # With a terms URL, signing up needs ticking "I accept"; the version accepted is recorded.
    "SIGNUP_TERMS_URL": env("PORCHLIGHT_SIGNUP_TERMS_URL") or "",
    "SIGNUP_TERMS_VERSION": env("PORCHLIGHT_SIGNUP_TERMS_VERSION") or "",
    # New accounts wait, after confirming their address, until staff approve them in the admin.
    "SIGNUP_REVIEW": env_bool("PORCHLIGHT_SIGNUP_REVIEW", False),
    # Sign-ups per e-mail address and per client network (an IPv4 address, an IPv6 /64) within the
    # window, counted like password reset requests (accounts/throttling.py).
    "SIGNUP_MAX_PER_ADDRESS": env_int("PORCHLIGHT_SIGNUP_MAX_PER_ADDRESS", 3, maximum=1000),
    "SIGNUP_MAX_PER_IP": env_int("PORCHLIGHT_SIGNUP_MAX_PER_IP", 10, maximum=100_000),
    "SIGNUP_WINDOW": env_int("PORCHLIGHT_SIGNUP_WINDOW", 3600, maximum=86400),
}

# --- Directory sign-in: LDAP and Active Directory (directory/, docs/ldap.md) --------------------
# Off unless PORCHLIGHT_LDAP_URI is set; then people without a local account sign in by binding
# to the directory (django-auth-ldap, the optional `ldap` extra: requirements/ldap.txt).


class LdapSettings(TypedDict):
    """The keys of ``PORCHLIGHT_LDAP`` (None when directory sign-in is off)."""

    URI: str
    BIND_DN: str
    BIND_PASSWORD: str
    USER_SEARCH_BASE: str
    USER_FILTER: str
    USER_DN_TEMPLATE: str
    START_TLS: bool
    CA_FILE: str
    ATTR_MAP: dict[str, str]
    TRUST_EMAIL: bool
    GROUP_SEARCH_BASE: str
    GROUP_TYPE: str
    GROUP_MAP: dict[str, str]
    REQUIRE_GROUP: str
    DENY_GROUP: str
    TIMEOUT: int
    SYNC_INTERVAL: int


LDAP_GROUP_TYPES = ("groupOfNames", "groupOfUniqueNames", "posixGroup", "activeDirectory")
# The account fields PORCHLIGHT_LDAP_ATTR_MAP may fill: text fields of accounts.User.
LDAP_ATTR_FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "email",
    "phone_number",
    "locale",
    "zoneinfo",
    "website",
    "profile",
    "picture",
    "gender",
    "address_formatted",
    "address_street_address",
    "address_locality",
    "address_region",
    "address_postal_code",
    "address_country",
)


def _ldap_pairs(items: list[str], *, name: str) -> dict[str, str]:
    # "field=attribute,field=attribute": Porchlight's user field, then the directory's attribute.
    pairs = {}
    for item in items:
        field, sep, attribute = item.partition("=")
        if not sep or not field.strip() or not attribute.strip():
            raise ImproperlyConfigured(
                f"{name} must be field=attribute pairs separated by commas, not {item!r}"
            )
        if field.strip() not in LDAP_ATTR_FIELDS:
            raise ImproperlyConfigured(
                f"{name}: {field.strip()!r} is not one of {', '.join(LDAP_ATTR_FIELDS)}"
            )
        pairs[field.strip()] = attribute.strip()
    return pairs


def _ldap_group_map() -> dict[str, str]:
    # A JSON object: each directory group's DN, and the Porchlight group its members are put in.
    value = env("PORCHLIGHT_LDAP_GROUP_MAP") or ""
    if not value:
        return {}
    try:
        mapping = json.loads(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"PORCHLIGHT_LDAP_GROUP_MAP must be a JSON object: {exc}") from exc
    if not isinstance(mapping, dict) or not all(
        isinstance(dn, str) and dn.strip() and isinstance(group, str) and 0 < len(group.strip()) <= 150
        for dn, group in mapping.items()
    ):
        raise ImproperlyConfigured(
            "PORCHLIGHT_LDAP_GROUP_MAP must map group DNs to Porchlight group names (1-150 characters)"
        )
    return {dn.strip(): group.strip() for dn, group in mapping.items()}


def _ldap() -> LdapSettings | None:
    uri = (env("PORCHLIGHT_LDAP_URI") or "").strip()
    if not uri:
        return None
    if not all(part.startswith(("ldap://", "ldaps://")) for part in uri.split()):
        raise ImproperlyConfigured(f"PORCHLIGHT_LDAP_URI must be ldap:// or ldaps:// URLs, not {uri!r}")
    if importlib.util.find_spec("django_auth_ldap") is None:
        raise ImproperlyConfigured(
            "PORCHLIGHT_LDAP_URI is set, but django-auth-ldap is not installed: "
            "pip install --require-hashes -r requirements/ldap.txt (docs/ldap.md)"
        )
    config = LdapSettings(
        URI=uri,
        BIND_DN=env("PORCHLIGHT_LDAP_BIND_DN") or "",
        BIND_PASSWORD=env("PORCHLIGHT_LDAP_BIND_PASSWORD") or "",
        USER_SEARCH_BASE=env("PORCHLIGHT_LDAP_USER_SEARCH_BASE") or "",
        USER_FILTER=env("PORCHLIGHT_LDAP_USER_FILTER") or "(uid=%(user)s)",
        USER_DN_TEMPLATE=env("PORCHLIGHT_LDAP_USER_DN_TEMPLATE") or "",
        START_TLS=env_bool("PORCHLIGHT_LDAP_START_TLS", False),
        CA_FILE=env("PORCHLIGHT_LDAP_CA_FILE") or "",
        ATTR_MAP=_ldap_pairs(
            env_list("PORCHLIGHT_LDAP_ATTR_MAP", ["first_name=givenName", "last_name=sn", "email=mail"]),
            name="PORCHLIGHT_LDAP_ATTR_MAP",
        ),
        TRUST_EMAIL=env_bool("PORCHLIGHT_LDAP_TRUST_EMAIL", False),
        GROUP_SEARCH_BASE=env("PORCHLIGHT_LDAP_GROUP_SEARCH_BASE") or "",
        GROUP_TYPE=env("PORCHLIGHT_LDAP_GROUP_TYPE") or "groupOfNames",
        GROUP_MAP=_ldap_group_map(),
        REQUIRE_GROUP=env("PORCHLIGHT_LDAP_REQUIRE_GROUP") or "",
        DENY_GROUP=env("PORCHLIGHT_LDAP_DENY_GROUP") or "",
        TIMEOUT=env_int("PORCHLIGHT_LDAP_TIMEOUT", 5, maximum=60),
        SYNC_INTERVAL=env_int("PORCHLIGHT_LDAP_SYNC_INTERVAL", 3600, minimum=60, maximum=7 * 86400),
    )
    if bool(config["USER_SEARCH_BASE"]) == bool(config["USER_DN_TEMPLATE"]):
        raise ImproperlyConfigured(
            "Directory sign-in needs exactly one of PORCHLIGHT_LDAP_USER_SEARCH_BASE and "
            "PORCHLIGHT_LDAP_USER_DN_TEMPLATE"
        )
    if "%(user)s" not in (config["USER_DN_TEMPLATE"] or config["USER_FILTER"]):
        raise ImproperlyConfigured("PORCHLIGHT_LDAP_USER_FILTER and _USER_DN_TEMPLATE must contain %(user)s")
    if config["GROUP_TYPE"] not in LDAP_GROUP_TYPES:
        raise ImproperlyConfigured(f"PORCHLIGHT_LDAP_GROUP_TYPE must be one of {', '.join(LDAP_GROUP_TYPES)}")
    if (config["GROUP_MAP"] or config["REQUIRE_GROUP"] or config["DENY_GROUP"]) and not config[
        "GROUP_SEARCH_BASE"
    ]:
        raise ImproperlyConfigured(
            "PORCHLIGHT_LDAP_GROUP_MAP, _REQUIRE_GROUP and _DENY_GROUP need PORCHLIGHT_LDAP_GROUP_SEARCH_BASE"
        )
    if config["CA_FILE"] and not Path(config["CA_FILE"]).is_file():
        raise ImproperlyConfigured(f"PORCHLIGHT_LDAP_CA_FILE: {config['CA_FILE']} is not a file")
    return config


PORCHLIGHT_LDAP = _ldap()
# Local accounts first, always: their sign-in never waits on the directory, and the directory
# backend leaves alone any username a local account holds (directory/backends.py).
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if PORCHLIGHT_LDAP:
    AUTHENTICATION_BACKENDS.append("directory.backends.DirectoryBackend")

OAUTH2_PROVIDER_APPLICATION_MODEL = "oidc_provider.Client"
OAUTH2_PROVIDER_GRANT_MODEL = "oidc_provider.Grant"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oidc_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oidc_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oidc_provider.IDToken"
OAUTH2_PROVIDER_DEVICE_GRANT_MODEL = "oidc_provider.DeviceGrant"

# DOT's settings (oauth2_provider/settings.py), values of every kind.
OAUTH2_PROVIDER: dict[str, Any] = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": ISSUER,
    "OAUTH2_VALIDATOR_CLASS": "oidc_provider.oauth2_validators.PorchlightValidator",
    # oauthlib's OpenID Connect server with the RFC 8693 token-exchange grant registered.
    "OIDC_SERVER_CLASS": "oidc_provider.server.Server",
    "SCOPES_BACKEND_CLASS": "oidc_provider.scopes.PorchlightScopes",
    # Scope texts live in oidc_provider/scopes.py; these keep DOT's settings consistent.
    "SCOPES": {
        "openid": "openid",
        "profile": "profile",
        "email": "email",
        "phone": "phone",
        "address": "address",
        "groups": "groups",
        "offline_access": "offline_access",
    },
    # RFC 6749 §3.3: a request without scope gets this, never every scope (docs/design.md, gap 6).
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,
    "CLIENT_SECRET_HASHER": "client_secret_sha256",
    # RFC 9068 JWT access tokens for clients that want them (oidc_provider/access_tokens.py);
    # refresh tokens stay opaque random strings.
    "ACCESS_TOKEN_GENERATOR": "oidc_provider.access_tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oidc_provider.access_tokens.random_token",
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": env_int("PORCHLIGHT_AUTHORIZATION_CODE_LIFETIME", 60, maximum=600),
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("PORCHLIGHT_ACCESS_TOKEN_LIFETIME", 900, maximum=86400),
    "ID_TOKEN_EXPIRE_SECONDS": env_int("PORCHLIGHT_ID_TOKEN_LIFETIME", 900, maximum=86400),
    # Refresh tokens expire this long after their last use (idle expiry).
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int(
        "PORCHLIGHT_REFRESH_TOKEN_IDLE_LIFETIME", 60 * 60 * 24 * 14, maximum=60 * 60 * 24 * 365
    ),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": True,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post", "none"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token", "client_credentials"],
    # DOT's pre-token hook for the device grant looks the device code up in clear (a 500 with
    # hashed codes); Porchlight's validate_device_code does the lookup (oidc_provider/device.py).
    "OAUTH_PRE_TOKEN_VALIDATION": [],
    # http stays for loopback redirect URIs only (RFC 8252 §7.3); Client.clean refuses it for any
    # other host (oidc_provider/redirect_uris.py), which DOT's W008 cannot see.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    # Browser origins: http stays for public clients on loopback only (redirect_uris.origin_problem).
    "ALLOWED_SCHEMES": ["http", "https"],
    "REQUEST_APPROVAL_PROMPT": "force",
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # RFC 9207: authorization responses carry iss, so clients can detect mix-up attacks.
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
}
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]
