"""Settings: one module, every deployment difference is an environment variable.

With no variable set the app runs on one machine with no services (SQLite, local media,
in-memory channel layer, jobs inside the server process). `.env.example` lists every variable.
"""

import json
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for developers; real deployments set the environment itself.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")


def _positive_int(name: str, default: int) -> int:
    """Read a strictly positive integer, refusing anything else at start-up."""
    try:
        value = env.int(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {env.str(name)!r}") from exc
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than zero, got {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="")
    if raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


# DEBUG=true (the default) is an installation on one's own machine (`make run`): the built-in
# secret key, cookies over plain HTTP and the demo accounts' default password are accepted.
# DEBUG=false is a deployment, which refuses to start with any of them.
DEVELOPMENT = _bool("DEBUG", True)
# Django's debug pages (tracebacks with settings, a 404 listing every URL pattern) would show
# to whoever visits, so even a development installation answers with the site's own error
# pages, and logs the traceback to the console; HERITAGE_DEBUG_PAGES=true brings them back.
DEBUG = DEVELOPMENT and _bool("HERITAGE_DEBUG_PAGES", False)

_INSECURE_KEY = "django-insecure-embedded-default-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_INSECURE_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if not DEVELOPMENT:
    # Refuse to start a public deployment with settings that would make it unsafe.
    if SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random string of at least 50 characters when DEBUG is off"
        )
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must list the site's host names when DEBUG is off"
        )
    for origin in CSRF_TRUSTED_ORIGINS:
        if not origin.startswith(("https://", "http://")):
            raise ImproperlyConfigured(
                f"CSRF_TRUSTED_ORIGINS entries need a scheme (https://...), got {origin!r}"
            )

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI and Redoc served from the project's static files, not from a CDN.
    "drf_spectacular_sidecar",
    "heritage",
    "restoration",
    "gallery",
]

MIDDLEWARE = [
    # Under WSGI the body is still unread here: oversized ones are refused first (413).
    "heritage.limits.RequestSizeLimitDjangoMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # HEAD wherever GET works: views and the page cache see a GET, the body is dropped.
    "heritage.head.HeadAsGetMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Cached public pages for visitors without a session, before sessions/users/messages.
    "gallery.cache.PublicPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "heritage.urls"
WSGI_APPLICATION = "heritage.wsgi.application"
ASGI_APPLICATION = "heritage.asgi.application"

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
                "heritage.context_processors.roles",
            ],
        },
    },
]

VAR_DIR = Path(env.str("HERITAGE_VAR_DIR", default=str(BASE_DIR / "var")))

# SQLite by default; DATABASE_URL=postgres://user@host:5432/name switches to PostgreSQL (psycopg 3).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'heritage.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Jobs and the web share one SQLite file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20})
    _sqlite_file = str(DATABASES["default"]["NAME"])
    if _sqlite_file != ":memory:" and not _sqlite_file.startswith("file:"):
        # A fresh checkout has no var/ yet; SQLite creates the file but not its folder.
        Path(_sqlite_file).parent.mkdir(parents=True, exist_ok=True)
elif DATABASES["default"]["ENGINE"] not in {"django.db.backends.postgresql"}:
    raise ImproperlyConfigured("DATABASE_URL must be a postgres:// or sqlite:// URL")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# PostgreSQL connections come from a bounded pool per server process (psycopg_pool): a burst
# of concurrent requests waits up to HERITAGE_DB_POOL_TIMEOUT seconds for a free connection
# instead of opening one each until PostgreSQL answers "too many clients". Size it so that
# (server processes x HERITAGE_DB_POOL_MAX_SIZE) + Celery processes stays under PostgreSQL's
# max_connections (100 by default); HERITAGE_DB_POOL_MAX_SIZE=0 turns pooling off.
DB_POOL_MAX_SIZE = env.int("HERITAGE_DB_POOL_MAX_SIZE", default=8)
DB_POOL_TIMEOUT = _positive_int("HERITAGE_DB_POOL_TIMEOUT", 20)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX_SIZE > 0:
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise ImproperlyConfigured(
            "DATABASE_CONN_MAX_AGE must be 0 with the connection pool "
            "(or set HERITAGE_DB_POOL_MAX_SIZE=0 to turn the pool off)"
        )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
        # A connection idle this long is closed, so quiet processes give connections back.
        "max_idle": 300,
    }
    # A process forked after using the pool (a Celery pool child) opens its own.
    from heritage.dbpool import install_fork_safety

    install_fork_safety()
elif DB_POOL_MAX_SIZE < 0:
    raise ImproperlyConfigured(
        f"HERITAGE_DB_POOL_MAX_SIZE must be 0 (no pool) or more, got {DB_POOL_MAX_SIZE}"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "heritage.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "heritage:motif_list"
LOGOUT_REDIRECT_URL = "home"

# Team page invitations: a single-use link valid this many days. No mail server is assumed:
# the page shows the link to copy. EMAIL_URL (smtp://user:password@host:587, smtp+tls://...,
# consolemail://) configures one; invitations with an address are then also mailed.
HERITAGE_INVITATION_DAYS = _positive_int("HERITAGE_INVITATION_DAYS", 7)
_EMAIL = env.email_url_config(env.str("EMAIL_URL", default="") or "dummymail://")
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _EMAIL["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _EMAIL["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _EMAIL["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _EMAIL.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _EMAIL.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Object storage: setting HERITAGE_S3_BUCKET stores originals, masks and results in an
# S3-compatible bucket through django-storages (AWS_* variables configure the client).
S3_BUCKET = env.str("HERITAGE_S3_BUCKET", default="")
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEVELOPMENT
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# A development installation has run no collectstatic: WhiteNoise serves the files where they
# are (whatever DEBUG says), and sees edits to them without a restart.
WHITENOISE_USE_FINDERS = DEVELOPMENT
WHITENOISE_AUTOREFRESH = DEVELOPMENT

# Stored files are never served as a folder: views check who asks (heritage/media.py), then
# send the bytes themselves, or let the proxy send them: "nginx" answers X-Accel-Redirect to
# HERITAGE_MEDIA_ACCEL_PREFIX (an `internal` location aliasing MEDIA_ROOT), "apache" X-Sendfile.
# With object storage the views redirect to signed URLs valid HERITAGE_MEDIA_URL_EXPIRE seconds.
HERITAGE_MEDIA_ACCEL = env.str("HERITAGE_MEDIA_ACCEL", default="")
if HERITAGE_MEDIA_ACCEL not in ("", "nginx", "apache"):
    raise ImproperlyConfigured(
        f'HERITAGE_MEDIA_ACCEL must be "", "nginx" or "apache", got {HERITAGE_MEDIA_ACCEL!r}'
    )
HERITAGE_MEDIA_ACCEL_PREFIX = env.str("HERITAGE_MEDIA_ACCEL_PREFIX", default="/protected-media/")
HERITAGE_MEDIA_URL_EXPIRE = env.int("HERITAGE_MEDIA_URL_EXPIRE", default=300)
# How long browsers and shared caches keep the images of published exhibitions.
HERITAGE_MEDIA_PUBLIC_MAX_AGE = env.int("HERITAGE_MEDIA_PUBLIC_MAX_AGE", default=600)

# Redis switches the channel layer (and the Celery broker) from in-process to shared.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must be a redis:// URL, got {REDIS_URL!r}")
# Seconds a channel-layer command may wait on Redis. With the core layer it must exceed
# channels_redis' blocking-read window (RedisChannelLayer.brpop_timeout, 5 s), or every idle
# WebSocket dies with TimeoutError; the pub/sub layer's reader polls in 0.1 s reads instead.
CHANNEL_LAYER_SOCKET_TIMEOUT = _positive_int("HERITAGE_CHANNEL_SOCKET_TIMEOUT", 30)
# Which Redis channel layer: "pubsub" (heritage.channel_layers: one Redis message per server
# process and event) or "core" (channels_redis' lists: one per watching socket and event).
HERITAGE_CHANNEL_LAYER = env.str("HERITAGE_CHANNEL_LAYER", default="pubsub")
CHANNEL_LAYER_BACKENDS = {
    "pubsub": "heritage.channel_layers.RedisPubSubLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
if HERITAGE_CHANNEL_LAYER not in CHANNEL_LAYER_BACKENDS:
    raise ImproperlyConfigured(
        f"HERITAGE_CHANNEL_LAYER must be pubsub or core, got {HERITAGE_CHANNEL_LAYER!r}"
    )
if REDIS_URL:
    from redis.connection import parse_url as _parse_redis_url

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": CHANNEL_LAYER_BACKENDS[HERITAGE_CHANNEL_LAYER],
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py's default 5 s socket timeout cut channels_redis' blocking
                        # read (BZPOPMIN, 5 s) and killed idle sockets with 1011: reads wait
                        # longer than that block, and keep-alive probes find a dead peer.
                        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                        "health_check_interval": 30,
                    }
                ],
                # Pub/sub channels are shared by every database of a Redis server: the
                # database number keeps sites on one server apart, as keys are.
                "prefix": f"asgi.db{_parse_redis_url(REDIS_URL).get('db', 0)}.",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The cache holds public pages and the vote throttles' counters: shared through Redis when
# there is one, otherwise in this process's memory (one server process, the embedded default).
# While Redis cannot be reached the cache answers as an empty one (heritage.cache_backends):
# pages are served uncached and the outage is logged once, never a 500.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "heritage.cache_backends.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "heritage",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
# A job is acknowledged only when it ends, and goes back to the queue if its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Training runs have their own queue (and workers): hours of training never hold up restorations.
CELERY_TASK_ROUTES = {
    "restoration.tasks.run_training_run": {"queue": "train"},
    "restoration.tasks.*": {"queue": "gpu"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A submit with the broker unreachable (not just refusing) fails in seconds, not after the
    # system's TCP timeout; the job stays pending and the sweep sends it (docs/jobs.md).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 5}

# Restoration jobs run in Celery workers when a broker is configured, otherwise in a thread
# of the server process (the embedded default). HERITAGE_JOB_RUNNER overrides the choice.
RESTORATION_RUNNER = env.str(
    "HERITAGE_JOB_RUNNER",
    default="celery" if (REDIS_URL or env.str("CELERY_BROKER_URL", default="")) else "embedded",
)
if RESTORATION_RUNNER not in {"embedded", "celery"}:
    raise ImproperlyConfigured(
        f"HERITAGE_JOB_RUNNER must be embedded or celery, got {RESTORATION_RUNNER!r}"
    )
if RESTORATION_RUNNER == "celery" and CELERY_BROKER_URL == "memory://":
    raise ImproperlyConfigured("HERITAGE_JOB_RUNNER=celery needs REDIS_URL or CELERY_BROKER_URL")
# Seconds a job may run before it is stopped and marked failed.
RESTORATION_TIME_LIMIT = _positive_int("HERITAGE_JOB_TIME_LIMIT", 3600)
# Job life cycle (docs/jobs.md). A running job's process writes a heartbeat at least every
# quarter of HERITAGE_JOB_HEARTBEAT_TIMEOUT; the sweep (every HERITAGE_JOB_SWEEP_INTERVAL s,
# in each Celery worker or the embedded runner) runs a job whose heartbeat stopped again, up to
# HERITAGE_JOB_MAX_ATTEMPTS runs in all, then marks it failed; and it sends again a pending
# job whose message was sent HERITAGE_JOB_REDISPATCH_AFTER s ago or never (broker down).
RESTORATION_HEARTBEAT_TIMEOUT = _positive_int("HERITAGE_JOB_HEARTBEAT_TIMEOUT", 60)
RESTORATION_SWEEP_INTERVAL = _positive_int("HERITAGE_JOB_SWEEP_INTERVAL", 15)
RESTORATION_MAX_ATTEMPTS = _positive_int("HERITAGE_JOB_MAX_ATTEMPTS", 3)
RESTORATION_REDISPATCH_AFTER = _positive_int("HERITAGE_JOB_REDISPATCH_AFTER", 60)
# The embedded runner's sweep thread in the server process (tests that serve the app in their
# own process turn it off and sweep themselves).
RESTORATION_EMBEDDED_SWEEP = _bool("HERITAGE_EMBEDDED_SWEEP", True)
# Training runs (queue `train`): seconds one may run, where their checkpoint folders are
# written, and the fewest motifs a curator may train on.
TRAINING_TIME_LIMIT = _positive_int("HERITAGE_TRAIN_TIME_LIMIT", 6 * 3600)
TRAINING_DIR = Path(env.str("HERITAGE_TRAINING_DIR", default="") or VAR_DIR / "training")
TRAINING_MIN_MOTIFS = _positive_int("HERITAGE_TRAIN_MIN_MOTIFS", 3)
# Where engines run: auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda or cuda:N.
# Resolved by the worker when it runs a job (restoration.engines.registry.device); torch is
# imported there only for auto and cuda, never by the web process that only lists engines.
RESTORATION_DEVICE = env.str("HERITAGE_DEVICE", default="auto").strip().lower()
if RESTORATION_DEVICE not in {"auto", "cpu", "cuda"} and not (
    RESTORATION_DEVICE.startswith("cuda:") and RESTORATION_DEVICE[5:].isdigit()
):
    raise ImproperlyConfigured(
        f"HERITAGE_DEVICE must be auto, cpu, cuda or cuda:N, got {RESTORATION_DEVICE!r}"
    )
# Loaded models kept per worker process, least recently used evicted first (GPU memory).
HERITAGE_MAX_LOADED_MODELS = _positive_int("HERITAGE_MAX_LOADED_MODELS", 1)
# Local copies of checkpoints kept in remote storage (S3), one folder per sha256.
HERITAGE_MODEL_CACHE = Path(env.str("HERITAGE_MODEL_CACHE", default=str(VAR_DIR / "models")))
# The one declaration of engines, read by restoration.engines.registry: name -> dotted path of
# the class and the OPTIONS its constructor receives (model directory, dtype, scheduler...).
# HERITAGE_ENGINES adds or replaces entries as "name=package.module.Class,other=...";
# HERITAGE_ENGINE_OPTIONS (JSON, {"name": {...}}) sets their OPTIONS.
RESTORATION_ENGINES = {
    "telea": {"BACKEND": "restoration.engines.telea.TeleaEngine", "OPTIONS": {}},
    "navier_stokes": {
        "BACKEND": "restoration.engines.navier_stokes.NavierStokesEngine",
        "OPTIONS": {},
    },
    "harmonic": {"BACKEND": "restoration.engines.harmonic.HarmonicEngine", "OPTIONS": {}},
    "exemplar": {"BACKEND": "restoration.engines.exemplar.ExemplarEngine", "OPTIONS": {}},
    # Seed 000: needs a checkpoint (`make run` registers the shipped one). window: working size
    # in pixels (restored window by window around the damage); dtype: auto = float16 on CUDA.
    "prior_diffusion": {
        "BACKEND": "restoration.engines.prior_diffusion.PriorDiffusionEngine",
        "OPTIONS": {"window": 256, "dtype": "auto"},
    },
    # Any diffusers inpainting pipeline in a folder the operator supplies (register_checkpoint
    # FOLDER --engine sd_inpaint): size = working size in pixels (windows around the damage);
    # dtype auto = float16 on CUDA; online = may download a Hugging Face id (off: never).
    "sd_inpaint": {
        "BACKEND": "restoration.engines.sd_inpaint.SDInpaintEngine",
        "OPTIONS": {"size": 512, "dtype": "auto", "online": False},
    },
    # Style transfer (issue 11): need a checkpoint (a training folder or the original projects'
    # latest_net_G_A.pth / latest_net_G.pth). tile: largest side translated in one pass (larger
    # images go in tiles overlapping by `overlap` pixels); dtype auto = float16 on CUDA.
    "cyclegan": {
        "BACKEND": "restoration.engines.cyclegan.CycleGANEngine",
        "OPTIONS": {"tile": 512, "overlap": 64, "dtype": "auto"},
    },
    "cut": {
        "BACKEND": "restoration.engines.cut.CUTEngine",
        "OPTIONS": {"tile": 512, "overlap": 64, "dtype": "auto"},
    },
}
for _entry in env.list("HERITAGE_ENGINES", default=[]):
    _name, _, _path = _entry.partition("=")
    if not _name.strip() or "." not in _path:
        raise ImproperlyConfigured(
            f"HERITAGE_ENGINES entries look like name=package.module.Class, got {_entry!r}"
        )
    RESTORATION_ENGINES[_name.strip()] = {"BACKEND": _path.strip(), "OPTIONS": {}}
try:
    _engine_options = json.loads(env.str("HERITAGE_ENGINE_OPTIONS", default="") or "{}")
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"HERITAGE_ENGINE_OPTIONS is not valid JSON: {exc}") from exc
if not isinstance(_engine_options, dict) or not all(
    isinstance(value, dict) for value in _engine_options.values()
):
    raise ImproperlyConfigured('HERITAGE_ENGINE_OPTIONS must look like {"engine": {...}}')
for _name, _options in _engine_options.items():
    if _name not in RESTORATION_ENGINES:
        raise ImproperlyConfigured(
            f"HERITAGE_ENGINE_OPTIONS names {_name!r}, which is not an engine; "
            f"engines: {', '.join(sorted(RESTORATION_ENGINES))}"
        )
    RESTORATION_ENGINES[_name]["OPTIONS"].update(_options)

# Images: uploads above this many pixels are refused (and decompression bombs with them).
HERITAGE_MAX_IMAGE_PIXELS = _positive_int("HERITAGE_MAX_IMAGE_PIXELS", 150_000_000)
HERITAGE_MAX_UPLOAD_BYTES = _positive_int("HERITAGE_MAX_UPLOAD_MB", 300) * 1024 * 1024
HERITAGE_PREVIEW_SIZE = _positive_int("HERITAGE_PREVIEW_SIZE", 1600)
HERITAGE_THUMBNAIL_SIZE = _positive_int("HERITAGE_THUMBNAIL_SIZE", 360)
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
# Uploaded files above this size stream to temporary files on disk, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Django's two handlers, naming each file safely first (a 1000-character name is kept truncated).
FILE_UPLOAD_HANDLERS = [
    "heritage.uploads.SafeNameMemoryFileUploadHandler",
    "heritage.uploads.SafeNameTemporaryFileUploadHandler",
]
# Request bodies over these sizes are refused with 413 before they are read (heritage.limits):
# visitors without a session cookie or Authorization header only send votes and log-in forms.
HERITAGE_MAX_ANONYMOUS_REQUEST_BYTES = (
    _positive_int("HERITAGE_MAX_ANONYMOUS_REQUEST_KB", 1024) * 1024
)
HERITAGE_MAX_REQUEST_BYTES = HERITAGE_MAX_UPLOAD_BYTES + 4 * 1024 * 1024

# Public user studies: how fast one address may vote, and how many anonymous participants it
# may start (a cleared cookie is a new participant), as django-ratelimit rates like "30/m".
GALLERY_VOTE_RATE = env.str("HERITAGE_VOTE_RATE", default="30/m")
GALLERY_PARTICIPANT_RATE = env.str("HERITAGE_PARTICIPANT_RATE", default="20/h")
API_ANON_RATE = env.str("HERITAGE_API_ANON_RATE", default="120/m")
for _name, _rate in (
    ("HERITAGE_VOTE_RATE", GALLERY_VOTE_RATE),
    ("HERITAGE_PARTICIPANT_RATE", GALLERY_PARTICIPANT_RATE),
    ("HERITAGE_API_ANON_RATE", API_ANON_RATE),
):
    _count, _, _period = _rate.partition("/")
    if not _count.isdigit() or int(_count) <= 0 or _period not in {"s", "m", "h", "d"}:
        raise ImproperlyConfigured(f"{_name} must look like 30/m (per s, m, h or d), got {_rate!r}")
# REST API under /api/v1/: session auth for the browser, token auth for scripts
# (python manage.py drf_create_token USER); anonymous reads are throttled per address.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # A bad token reads as anonymous on public endpoints (and 401 on the others).
        "heritage.api.authentication.PublicReadTokenAuthentication",
    ],
    "EXCEPTION_HANDLER": "heritage.api.errors.exception_handler",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": API_ANON_RATE},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies are read with a size and nesting bound (heritage.jsonbody), as on the pages.
    "DEFAULT_PARSER_CLASSES": [
        "heritage.jsonbody.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Heritage restoration API",
    "DESCRIPTION": "The catalogue (sites, motifs, damage annotations), engines and their "
    "checkpoints, restoration and style jobs with their results, training runs, exhibitions, "
    "blind expert review, public user studies and the team (accounts, invitations). "
    "Scripts authenticate with `Authorization: Token KEY` (a personal token from the profile "
    'page). Errors: {"detail": "why"}, or {"<field>": ["why"]} by field.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "MotifKindEnum": "heritage.models.Motif.Kind",
        "JobStatusEnum": "restoration.models.RestorationJob.Status",
        "EngineParameterKindEnum": ["int", "float", "bool", "str"],
        "ReviewItemStatusEnum": ["pending", "skipped", "submitted"],
    },
}
# Behind a proxy the client address is in a header the proxy sets (e.g. HTTP_X_REAL_IP).
RATELIMIT_IP_META_KEY = env.str("HERITAGE_CLIENT_IP_HEADER", default="") or None
# Throttles (django-ratelimit's and DRF's) fail open while the cache is down: a vote still
# counts once per participant and trial (a database constraint), and refusing every visitor
# during an outage would be worse than letting some extra requests through.
RATELIMIT_FAIL_OPEN = True

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", not DEVELOPMENT)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", not DEVELOPMENT)
# A form refused for its CSRF token says what to do, in the site's own 403 page.
CSRF_FAILURE_VIEW = "heritage.errors.csrf_failure"
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", False)
# HTTP Strict Transport Security, for a site served only over HTTPS: browsers refuse plain HTTP
# for this many seconds (0: no header). manage.py check --deploy is clean with the production
# values in README.md (31536000, subdomains and preload true).
_hsts = env.str("SECURE_HSTS_SECONDS", default="0").strip() or "0"
if not _hsts.isascii() or not _hsts.isdigit():
    raise ImproperlyConfigured(f"SECURE_HSTS_SECONDS must be a whole number >= 0, got {_hsts!r}")
SECURE_HSTS_SECONDS = int(_hsts)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)
if _bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
