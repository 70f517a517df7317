"""URLs of the example project; privlog records ``/users/<int:pk>/``, never the id."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path


def home(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "world"})


def user(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"id": pk})


urlpatterns = [
    path("", home),
    path("users/<int:pk>/", user),
]
