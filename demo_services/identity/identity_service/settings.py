"""Settings of the identity demo service, all read from the environment.

Tokens: ``TOKEN_ISSUER`` (default ``http://identity.local``), ``TOKEN_AUDIENCE``
(default ``demo-api``) and ``TOKEN_TTL`` seconds (default 900); the gateway's ``jwt``
policy must be configured with the same issuer and audience.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "identity-demo-insecure-key")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "*").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "drf_spectacular",
    "accounts",
]

MIDDLEWARE = [
    "observability.django.RedMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "identity_service.urls"
ASGI_APPLICATION = "identity_service.asgi.application"
WSGI_APPLICATION = "identity_service.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
APPEND_SLASH = False

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Identity demo service",
    "DESCRIPTION": "OAuth2-style token endpoint issuing RS256 JWTs, and their JWKS.",
    "VERSION": "1.0.0",
}

TOKEN_ISSUER = os.environ.get("TOKEN_ISSUER", "http://identity.local")
TOKEN_AUDIENCE = os.environ.get("TOKEN_AUDIENCE", "demo-api")
TOKEN_TTL = int(os.environ.get("TOKEN_TTL", "900"))
JWKS_MAX_AGE = int(os.environ.get("JWKS_MAX_AGE", "300"))
