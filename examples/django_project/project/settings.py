"""Settings of the example project: the privlog app and middleware, and the policy as a dict.

``PRIVLOG`` has the schema of the TOML policy files; ``"examples/access-7-days.toml"`` (a path)
would do the same. A mistake in it stops start-up with ImproperlyConfigured naming the key.
"""

from __future__ import annotations

DEBUG = False
SECRET_KEY = "example-only-not-a-secret"  # an example: read yours from the environment
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}  # the example needs none
USE_TZ = True

INSTALLED_APPS = ["privlog.django"]
MIDDLEWARE = [
    "privlog.django.middleware.PrivacyLogMiddleware",  # first, so it sees every response
    "django.middleware.common.CommonMiddleware",
]

# A German e-mail provider's privacy policy: referrer, file requested, date and time, amount of data transferred,
# access status, browser type; the IP address shortened; kept for seven days (shortening alone
# does not make a record anonymous: docs/gdpr-faq.md).
PRIVLOG = {
    "service": "kirim-web",
    "retention": {
        "anonymous_access": {
            "days": 7,
            "purpose": "technical operation and security of the website",
            "legal_basis": "legitimate interest, Art. 6(1)(f) GDPR",
        }
    },
    "streams": {
        "access": {
            "retention": "anonymous_access",
            "fields": {
                "timestamp": "keep",
                "duration": "keep",
                "method": "keep",
                "path": "template",
                "status": "keep",
                "response_bytes": "keep",
                "referrer": "origin",
                "user_agent": "generalise",
                "client_ip": {"action": "truncate", "ipv4_prefix": 16, "ipv6_prefix": 32},
            },
        }
    },
    "export": {"directory": "privlog-logs"},
}
