"""A Flask app wired as the README says, for Flask's development server, gunicorn and uWSGI.

``python -m tests.support.server_apps.flask_app PORT`` runs it on werkzeug's development server.
"""

from __future__ import annotations

import sys

from flask import Flask

from privlog.flask import PrivacyLogExtension

from .policy import POLICY

app = Flask(__name__)
app.config["PRIVLOG"] = POLICY
privlog = PrivacyLogExtension(app)


@app.get("/ready")
def ready() -> dict[str, bool]:
    return {"ready": True}


@app.get("/users/<int:user_id>")
def user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


@app.get("/boom/<name>")
def boom(name: str) -> None:
    raise RuntimeError(f"no account for {name}")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
