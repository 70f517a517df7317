"""A Flask app logged by privlog, configured from ``app.config["PRIVLOG"]``.

    pip install "privlog-middleware[flask]"
    python examples/flask_app.py            # serves http://127.0.0.1:5000

Records go to ./privlog-logs/<stream>/<day>.jsonl (a seven-day access log with shortened addresses),
or through OpenTelemetry when OTEL_EXPORTER_OTLP_ENDPOINT is set.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from privlog.flask import PrivacyLogExtension

app = Flask(__name__)
app.config["PRIVLOG"] = str(Path(__file__).with_name("access-7-days.toml"))  # or a dict, same schema
privlog = PrivacyLogExtension(app)


@app.get("/")
def home() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/users/<int:user_id>")
def user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=5000)
