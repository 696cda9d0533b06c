"""MLflow registry webhooks, as a receiver sees them: check a delivery's signature and age, and
read the model version it names.

MLflow (3.3 and later) signs each delivery as Standard Webhooks do: the ``X-MLflow-Signature``
header is ``v1,`` and the base64 HMAC-SHA256, keyed by the webhook's secret, of
``<X-MLflow-Delivery-Id>.<X-MLflow-Timestamp>.<body>``; the body is
``{"entity", "action", "timestamp", "data"}``. A delivery is refused (401) when a header is
missing, the signature does not match, or its timestamp is more than ``MAX_AGE_S`` from now
(a captured delivery cannot be replayed later); a replay within that window has the delivery
id of one already turned into an event, which the receiver checks. Pure: no Airflow, no MLflow.

Written here: a dozen lines of the standard library. The ``standardwebhooks`` package expects
a ``whsec_``-prefixed base64 key and other header names; MLflow keys the HMAC with the secret's
own bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DELIVERY_HEADER",
    "HANDLED_EVENTS",
    "MAX_AGE_S",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Delivery",
    "WebhookRejected",
    "read_delivery",
    "sign",
]

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
MAX_AGE_S = 300
# The events that start an analysis: a new version, and an alias moved to a version.
HANDLED_EVENTS = ("model_version.created", "model_version_alias.created")


class WebhookRejected(Exception):
    """A delivery that is refused, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Delivery:
    """A verified delivery.

    Attributes
    ----------
    delivery_id : str
    event : str
        ``entity.action``, e.g. ``model_version.created``.
    data : mapping
        The event's payload (``name``, ``version``, ``alias``, ...).
    """

    delivery_id: str
    event: str
    data: Mapping[str, Any]

    @property
    def handled(self) -> bool:
        """The event names a model version to analyse."""
        return self.event in HANDLED_EVENTS and bool(self.data.get("name"))

    def asset_extra(self) -> dict[str, str]:
        """The ``extra`` of the Asset event: the version, the alias (for an alias event), and
        where it came from (the delivery id is what a replay is recognised by)."""
        extra = {
            "model_name": str(self.data["name"]),
            "model_version": str(self.data["version"]),
            "source": f"mlflow webhook {self.event}",
            "mlflow_delivery_id": self.delivery_id,
        }
        if self.data.get("alias"):
            extra["alias"] = str(self.data["alias"])
        return extra


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The signature header value MLflow sends for this delivery."""
    content = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def read_delivery(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    max_age_s: float = MAX_AGE_S,
) -> Delivery:
    """Check the signature and age of a delivery and read it.

    Parameters
    ----------
    secret : str
        The webhook's secret, as given to MLflow.
    headers : mapping of str to str
        The request's headers (names compared without case).
    body : bytes
        The raw request body, as signed.
    now : float
        The receiver's clock (seconds since the epoch).

    Raises
    ------
    WebhookRejected
        401 for a missing header, a wrong signature or a stale timestamp; 400 for a body that
        is not an MLflow event.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    values = [lowered.get(h.lower()) for h in (SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER)]
    signature, timestamp, delivery_id = values
    if not signature or not timestamp or not delivery_id:
        missing = [
            h
            for h, v in zip(
                (SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER), values, strict=True
            )
            if not v
        ]
        raise WebhookRejected(401, f"missing {', '.join(missing)}: not a signed MLflow delivery")
    expected = sign(secret, delivery_id, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookRejected(401, "the signature does not match this webhook's secret")
    try:
        sent = float(timestamp)
    except ValueError:
        raise WebhookRejected(401, f"{TIMESTAMP_HEADER} {timestamp!r} is not a Unix time") from None
    if abs(now - sent) > max_age_s:
        raise WebhookRejected(
            401, f"the delivery is {now - sent:.0f} s old (more than {max_age_s:g} s): refused"
        )
    try:
        payload = json.loads(body)
        event = f"{payload['entity']}.{payload['action']}"
        data = payload.get("data") or {}
    except (ValueError, KeyError, TypeError):
        raise WebhookRejected(400, "the body is not an MLflow webhook event") from None
    if not isinstance(data, Mapping):
        raise WebhookRejected(400, "the event's data is not an object")
    return Delivery(delivery_id=delivery_id, event=event, data=dict(data))
