"""A FastAPI app wrapped at import time, then served by ``uvicorn.run(app, log_config=...)``.

The order that could lose privlog's filter: the middleware (and its filters) exists before
uvicorn applies the user's logging configuration, which replaces every handler and formatter.
``python -m tests.support.server_apps.asgi_run PORT LOG_CONFIG.json``
"""

from __future__ import annotations

import json
import sys

import uvicorn

from privlog import Policy, PrivacyLogMiddleware

from .asgi_app import app as fastapi_app
from .policy import POLICY

fastapi_app.user_middleware.clear()  # this module wraps the app itself, at import
app = PrivacyLogMiddleware(fastapi_app, policy=Policy.from_dict(POLICY))

if __name__ == "__main__":
    with open(sys.argv[2]) as config:
        log_config = json.load(config)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=log_config)
