"""The MLflow side of registry webhooks: register the receiver, and recognise MLflow's test
delivery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from importance_tasks.webhook_events import HANDLED_EVENTS

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["WEBHOOK_NAME", "is_test_delivery", "register_webhook"]

WEBHOOK_NAME = "importance_tasks"


def is_test_delivery(event: str, data: Mapping[str, Any]) -> bool:
    """MLflow's "test webhook" sends its documented example payload of the event (a model
    ``example_model`` that does not exist): recognised by comparing with MLflow's own."""
    from mlflow.entities.webhook import WebhookEvent
    from mlflow.webhooks.types import get_example_payload_for_event

    try:
        example = get_example_payload_for_event(WebhookEvent.from_str(cast(Any, event)))
    except (ValueError, KeyError):  # an event MLflow has no example of
        return False
    return dict(data) == dict(example)


def register_webhook(
    client: MlflowClient, *, url: str, secret: str, name: str = WEBHOOK_NAME
) -> str:
    """Create (or update, by ``name``) the webhook that sends new versions and moved aliases to
    ``url``, signed with ``secret``; returns its id. MLflow delivers to private addresses and
    plain http only when its server allows them (``MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS``,
    ``MLFLOW_WEBHOOK_ALLOWED_SCHEMES``)."""
    events = cast(Any, list(HANDLED_EVENTS))
    for webhook in client.list_webhooks():
        if webhook.name == name:
            client.update_webhook(webhook.webhook_id, url=url, events=events, secret=secret)
            return str(webhook.webhook_id)
    created = client.create_webhook(name=name, url=url, events=events, secret=secret)
    return str(created.webhook_id)
