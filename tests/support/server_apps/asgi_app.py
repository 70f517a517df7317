"""A FastAPI app wired as the README says, for uvicorn, gunicorn's uvicorn worker and hypercorn."""

from __future__ import annotations

from fastapi import FastAPI

from privlog import Policy, PrivacyLogMiddleware

from .policy import POLICY

app = FastAPI()
app.add_middleware(PrivacyLogMiddleware, policy=Policy.from_dict(POLICY))


@app.get("/ready")
async def ready() -> dict[str, bool]:
    return {"ready": True}


@app.get("/users/{user_id}")
async def user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


@app.get("/boom/{name}")
async def boom(name: str) -> None:
    raise RuntimeError(f"no account for {name}")
