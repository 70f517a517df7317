"""The example Django project (settings, URLs, views)."""
