"""A bare Django project for the baselines: no apps, no middleware, like the gateway."""

SECRET_KEY = "bench"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.baselines.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_I18N = False
LOGGING_CONFIG = None
