"""Views and URLs of the runserver test project."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path


def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def user(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"id": pk})


def boom(request: HttpRequest, name: str) -> HttpResponse:
    raise RuntimeError(f"no account for {name}")


urlpatterns = [
    path("ready", ready),
    path("users/<int:pk>/", user),
    path("boom/<str:name>/", boom),
]
