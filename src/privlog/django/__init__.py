"""Django adapter: add ``"privlog.django"`` to ``INSTALLED_APPS`` and
``"privlog.django.middleware.PrivacyLogMiddleware"`` to ``MIDDLEWARE``, and describe the
policy in ``settings.PRIVLOG`` (a dict with the TOML schema, or the path of a TOML file).

The app validates the policy at start-up and logs Django's login, logout and failed-login
signals as auth events; the middleware logs requests under WSGI and ASGI alike.
"""
