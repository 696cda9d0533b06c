"""Airflow ``hostname_callable`` for the Celery test: several workers on one machine report
different names (from IMPORTANCE_TEST_WORKER), so the test can tell where each task ran."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("IMPORTANCE_TEST_WORKER") or socket.getfqdn()
