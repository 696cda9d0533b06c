"""MLflow webhook deliveries: signatures checked against MLflow's own signing, replays by age,
the events read, MLflow's test delivery recognised."""

from __future__ import annotations

import json
import time

import pytest
from mlflow.webhooks.delivery import _generate_hmac_signature

from importance_tasks.mlflow_io.webhooks import is_test_delivery
from importance_tasks.webhook_events import WebhookRejected, read_delivery, sign

SECRET = "s3cret"


def _delivery(event="model_version.created", data=None, *, secret=SECRET, age=0.0, sign_as=None):
    entity, action = event.rsplit(".", 1)
    body = json.dumps(
        {"entity": entity, "action": action, "timestamp": "2026-11-30T00:00:00+00:00",
         "data": data if data is not None else {"name": "m", "version": "3"}}
    )  # fmt: skip
    delivery_id, timestamp = "d-1", str(int(time.time() - age))
    headers = {
        "x-mlflow-delivery-id": delivery_id,
        "x-mlflow-timestamp": timestamp,
        "x-mlflow-signature": _generate_hmac_signature(
            sign_as or secret, delivery_id, timestamp, body
        ),
    }
    return headers, body.encode()


def test_our_signature_is_mlflows():
    body = b'{"entity": "model_version", "action": "created", "data": {}}'
    assert sign(SECRET, "abc", "1700000000", body) == _generate_hmac_signature(
        SECRET, "abc", "1700000000", body.decode()
    )


def test_a_signed_fresh_delivery_is_read_with_its_version_and_alias():
    headers, body = _delivery()
    delivery = read_delivery(SECRET, headers, body, now=time.time())
    assert delivery.handled and delivery.delivery_id == "d-1"
    assert delivery.asset_extra() == {
        "model_name": "m", "model_version": "3", "source": "mlflow webhook model_version.created",
        "mlflow_delivery_id": "d-1",
    }  # fmt: skip
    headers, body = _delivery(
        "model_version_alias.created", {"name": "m", "alias": "champion", "version": "3"}
    )
    alias = read_delivery(SECRET, headers, body, now=time.time())
    assert alias.handled and alias.asset_extra()["alias"] == "champion"


def test_bad_signatures_missing_headers_and_stale_deliveries_are_refused_with_401():
    headers, body = _delivery(sign_as="another secret")
    with pytest.raises(WebhookRejected, match="does not match") as refused:
        read_delivery(SECRET, headers, body, now=time.time())
    assert refused.value.status == 401
    headers, body = _delivery()
    tampered = body.replace(b'"3"', b'"4"')
    with pytest.raises(WebhookRejected, match="does not match"):
        read_delivery(SECRET, headers, tampered, now=time.time())
    with pytest.raises(WebhookRejected, match="missing X-MLflow-Signature"):
        read_delivery(SECRET, {k: v for k, v in headers.items() if "signature" not in k}, body,
                      now=time.time())  # fmt: skip
    headers, body = _delivery(age=600)  # a captured delivery sent again ten minutes later
    with pytest.raises(WebhookRejected, match=r"6\d\d s old \(more than 300 s\)") as stale:
        read_delivery(SECRET, headers, body, now=time.time())
    assert stale.value.status == 401


def test_other_events_are_read_but_not_handled_and_junk_is_a_400():
    headers, body = _delivery("model_version_tag.set", {"name": "m", "version": "3", "key": "k"})
    assert not read_delivery(SECRET, headers, body, now=time.time()).handled
    junk = b"not json"
    timestamp = str(int(time.time()))
    headers = {
        "X-MLflow-Delivery-Id": "d-2", "X-MLflow-Timestamp": timestamp,
        "X-MLflow-Signature": sign(SECRET, "d-2", timestamp, junk),
    }  # fmt: skip
    with pytest.raises(WebhookRejected, match="not an MLflow webhook event") as bad:
        read_delivery(SECRET, headers, junk, now=time.time())
    assert bad.value.status == 400


def test_mlflows_test_delivery_is_recognised_and_a_real_one_is_not():
    from mlflow.entities.webhook import WebhookEvent
    from mlflow.webhooks.types import get_example_payload_for_event

    for event in ("model_version.created", "model_version_alias.created"):
        example = get_example_payload_for_event(WebhookEvent.from_str(event))
        assert is_test_delivery(event, example)
    assert not is_test_delivery("model_version.created", {"name": "m", "version": "3"})
