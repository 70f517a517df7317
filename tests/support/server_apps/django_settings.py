"""Settings of the Django project run with ``runserver`` (DEBUG on, as in development)."""

from __future__ import annotations

from .policy import POLICY

DEBUG = True
SECRET_KEY = "test-only-not-secret-" + "x" * 40
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.support.server_apps.django_urls"
INSTALLED_APPS = ["privlog.django"]
MIDDLEWARE = ["privlog.django.middleware.PrivacyLogMiddleware"]
DATABASES: dict[str, object] = {}
USE_TZ = True
PRIVLOG = POLICY
