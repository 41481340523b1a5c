"""A malformed journey is refused with the place that is wrong, and nothing is saved."""

from __future__ import annotations

import pytest

from tonari.journeys.schemas import parse_definition
from tonari.journeys.templates import SHIPPED
from tonari.kit.errors import ValidationFailed


def _cart(**remind) -> dict:
    return {
        "entry": {"event": "cart_updated", "key": "entity"},
        "start": "wait",
        "steps": {
            "wait": {
                "type": "wait_for_event",
                "kind": "order.placed",
                "timeout_seconds": 7200,
                "on_timeout": "remind",
            },
            "remind": {
                "type": "wait_for_event",
                "kind": "order.placed",
                "timeout_seconds": 60,
                "on_timeout": "send",
                **remind,
            },
            "send": {"type": "send", "template": "abandoned_cart.reminder"},
        },
    }


@pytest.mark.parametrize(
    ("document", "place"),
    [
        (_cart(timeout_seconds=0), "steps.remind.timeout_seconds"),
        (_cart(timeout_seconds="soon"), "steps.remind.timeout_seconds"),
        (_cart(on_timeout="nowhere"), "steps.remind.on_timeout"),
        (_cart(colour="red"), "steps.remind.colour"),
        ({**_cart(), "start": "missing"}, "start"),
        ({**_cart(), "entry": {"event": "cart_updated", "key": "basket"}}, "entry.key"),
        (
            {**_cart(), "entry": {"date": "birthday", "at_local_time": "25:00"}},
            "entry.at_local_time",
        ),
        ({**_cart(), "entry": {"segment": "vip", "reentry": "after_days"}}, "entry.reentry_days"),
        ({**_cart(), "entry": {"when": "always"}}, "entry"),
    ],
)
def test_errors_name_the_place(document: dict, place: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_definition(document)
    assert caught.value.field == place, caught.value.message


def test_unreachable_steps_and_loops_without_a_wait_are_refused() -> None:
    document = _cart()
    document["steps"]["orphan"] = {"type": "exit"}
    with pytest.raises(ValidationFailed) as caught:
        parse_definition(document)
    assert caught.value.field == "steps.orphan"
    loop = {
        "entry": {"event": "login", "key": "none"},
        "start": "a",
        "steps": {
            "a": {"type": "set_attribute", "name": "seen", "value": True, "next": "b"},
            "b": {
                "type": "condition",
                "if": {"field": "gender", "values": ["female"]},
                "then": "a",
                "else": "a",
            },
        },
    }
    with pytest.raises(ValidationFailed, match="loop without a wait"):
        parse_definition(loop)
    loop["steps"]["b"]["else"] = "pause"
    loop["steps"]["b"]["then"] = "pause"
    loop["steps"]["pause"] = {"type": "wait", "duration_seconds": 86_400, "next": "a"}
    assert parse_definition(loop).start == "a"  # a loop through a wait is fine


def test_a_condition_is_a_segment_definition_and_its_errors_say_where() -> None:
    document = {
        "entry": {"event": "login", "key": "none"},
        "start": "c",
        "steps": {"c": {"type": "condition", "if": {"field": "age", "min": 40, "max": 30}}},
    }
    with pytest.raises(ValidationFailed) as caught:
        parse_definition(document)
    assert caught.value.field.startswith("steps.c.if")


def test_every_shipped_template_is_valid() -> None:
    assert len(SHIPPED) == 9
    for template in SHIPPED.values():
        parse_definition(template.definition)


async def test_the_api_refuses_a_bad_definition_and_saves_nothing(client, tenant) -> None:
    response = await client.post(
        "/v1/journeys",
        json={"key": "cart", "name": "Cart", "definition": _cart(timeout_seconds=-5)},
        headers=tenant.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "steps.remind.timeout_seconds"
    assert (await client.get("/v1/journeys", headers=tenant.headers)).json() == []
    unknown = await client.post("/v1/journeys/templates/nope/enable", headers=tenant.headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "name"
