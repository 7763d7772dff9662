"""The Celery application (scale-out mode). Start workers with:

    GROUNDCREW_DATABASE_URL=postgresql+psycopg://... GROUNDCREW_BROKER_URL=redis://127.0.0.1:6379/0 \\
        celery -A server.workers.celery_app worker -Q groundcrew,groundcrew.regions -c 2

Tasks are acknowledged late and rejected when a worker dies, so a killed worker's task is redelivered
(after ``GROUNDCREW_CELERY_VISIBILITY_TIMEOUT_S``) to another worker; every task is idempotent."""

from __future__ import annotations

from celery import Celery

from server.config import Settings


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    broker = settings.broker_url or "memory://"
    app = Celery("groundcrew", broker=broker, backend=settings.broker_url or "cache+memory://",
                 include=["server.workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue="groundcrew",
        task_routes={"groundcrew.region": {"queue": "groundcrew.regions"}},
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout_s},
        result_backend_transport_options={"visibility_timeout": settings.celery_visibility_timeout_s},
        result_expires=3600,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


app = make_celery()
