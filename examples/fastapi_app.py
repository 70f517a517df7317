"""A FastAPI app logged by privlog, as the README's quick start shows.

    pip install "privlog-middleware[demo]"
    uvicorn examples.fastapi_app:app --proxy-headers   # or: python examples/fastapi_app.py

Records go to ./privlog-logs/<stream>/<day>.jsonl (a seven-day access log with shortened addresses),
or through OpenTelemetry when OTEL_EXPORTER_OTLP_ENDPOINT is set.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from privlog import Policy, PrivacyLogMiddleware

POLICY = Path(__file__).with_name("access-7-days.toml")

app = FastAPI()
app.add_middleware(PrivacyLogMiddleware, policy=Policy.from_toml(POLICY))


@app.get("/")
async def home() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/users/{user_id}")
async def user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
