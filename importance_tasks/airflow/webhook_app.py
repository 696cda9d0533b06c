"""The MLflow registry webhook receiver: a FastAPI app that the Airflow plugin mounts in the API
server at ``/importance`` (so it answers at ``<airflow>/importance/mlflow``).

A verified ``model_version.created`` or ``model_version_alias.created`` delivery becomes an
event on ``REGISTERED_MODEL_VERSIONS``, the Asset ``feature_importance`` is scheduled on, with
the model name, version and alias in its extra. The secret is the Airflow Variable
``importance_mlflow_webhook_secret`` (or ``AIRFLOW_VAR_IMPORTANCE_MLFLOW_WEBHOOK_SECRET``).

Answers: 201 created; 200 for MLflow's test delivery, an event we do not act on, or a replay of
a delivery already turned into an event (nothing created); 401 for a bad signature or a stale
delivery (nothing created); 400 for a body that is not an MLflow event; 503 while no secret is
set or no DAG is scheduled on the Asset yet (MLflow retries 5xx answers a few times).

The event is written the way Airflow's own ``POST /api/v2/assets/events`` writes it
(``asset_manager.register_asset_change`` in the API server's database session), since a
plugin in the API server has no user token to call that route with.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from importance_tasks.airflow.assets import REGISTERED_MODEL_VERSIONS
from importance_tasks.webhook_events import MAX_AGE_S, Delivery, WebhookRejected, read_delivery

__all__ = ["SECRET_VARIABLE", "app"]

SECRET_VARIABLE = "importance_mlflow_webhook_secret"
# One event per delivery: the check for an earlier event and the write happen under this lock
# (one API server process; with several, a replay inside the same second could pass twice).
_lock = threading.Lock()

app = FastAPI(
    title="importance_tasks: MLflow registry webhook receiver",
    description="Turns MLflow model registry webhooks into Asset events for feature_importance.",
)


def _answer(code: int, /, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=code)


def _secret() -> str | None:
    from airflow.models.variable import Variable

    value = Variable.get(SECRET_VARIABLE, default_var=None)
    return str(value) if value else None


@app.post("/mlflow")
async def receive(request: Request) -> JSONResponse:
    """One MLflow webhook delivery."""
    secret = _secret()
    if secret is None:
        return _answer(503, error=f"set the Airflow Variable {SECRET_VARIABLE} to the secret")
    body = await request.body()
    try:
        delivery = read_delivery(secret, dict(request.headers), body, now=time.time())
    except WebhookRejected as exc:
        return _answer(exc.status, error=str(exc))
    if not delivery.handled:
        return _answer(200, status="ignored", event=delivery.event)
    from importance_tasks.mlflow_io.webhooks import is_test_delivery

    if is_test_delivery(delivery.event, delivery.data):
        return _answer(200, status="test delivery received", event=delivery.event)
    return _asset_event(delivery)


def _asset_event(delivery: Delivery) -> JSONResponse:
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    extra = delivery.asset_extra()
    with _lock, create_session() as session:
        asset = session.scalar(
            select(AssetModel).where(AssetModel.name == REGISTERED_MODEL_VERSIONS.name)
        )
        if asset is None:
            return _answer(
                503, error=f"no DAG is scheduled on {REGISTERED_MODEL_VERSIONS.name} yet"
            )
        now = datetime.now(UTC)
        recent = session.scalars(
            select(AssetEvent).where(
                AssetEvent.asset_id == asset.id,
                AssetEvent.timestamp >= now - timedelta(seconds=4 * MAX_AGE_S),
            )
        )
        for event in recent:
            if (event.extra or {}).get("mlflow_delivery_id") == delivery.delivery_id:
                return _answer(200, status="duplicate delivery", asset_event_id=event.id)
        created = asset_manager.register_asset_change(
            asset=asset, extra=extra, source_is_api=True, session=session
        )
        if created is None:
            return _answer(503, error=f"{REGISTERED_MODEL_VERSIONS.name} is not active")
        session.flush()
        return _answer(201, status="created", asset_event_id=created.id, **extra)
