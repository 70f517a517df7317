#!/usr/bin/env python
"""A minimal Django project logged by privlog.

    pip install "privlog-middleware[django]"
    python examples/django_project/manage.py runserver 127.0.0.1:8000

Records go to ./privlog-logs/<stream>/<day>.jsonl: a seven-day access log with shortened addresses,
as ``settings.PRIVLOG`` describes it.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
