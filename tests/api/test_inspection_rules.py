"""GET /v1/inspection_rules pages and sorts as Ironic's (limit, marker, sort_key,
sort_dir, by id by default) and refuses bad values with its messages; DELETE of the
collection removes every operator rule. (The same requests side by side with a real
Ironic 39: tests/proxy/test_shards_rules_events.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.assertions import fault
from tests.servers.ingot import IngotServer

PATH = "/v1/inspection_rules"


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client("1.96") as client:
        # Only this test's rules: earlier tests of the session clean up after themselves.
        assert client.delete(PATH).status_code == 204
        yield client
        client.delete(PATH)


def _rule(description: str | None, priority: int) -> dict[str, Any]:
    return {"description": description, "priority": priority, "conditions": [],
            "actions": [{"op": "set-attribute", "args": ["/extra/rule", str(description)]}]}


def _listed(api: httpx.Client, **params: Any) -> tuple[list[str], str | None]:
    answer = api.get(PATH, params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return [rule["uuid"] for rule in body["inspection_rules"]], body.get("next")


def test_the_list_pages_and_sorts_as_ironic(api: httpx.Client) -> None:
    made = []
    for description, priority in (("b", 5), (None, 7), ("a", 7), ("c", 1)):
        created = api.post(PATH, json=_rule(description, priority))
        assert created.status_code == 201, created.text
        made.append(created.json()["uuid"])
    b, none, a, c = made
    # By id (creation) unless asked otherwise; ties by id, in the same direction;
    # a missing description first going up, last going down.
    assert _listed(api) == (made, None)
    for sort_key, sort_dir, expected in (
            ("priority", "asc", [c, b, none, a]), ("priority", "desc", [a, none, b, c]),
            ("description", "asc", [none, a, b, c]), ("description", "desc", [c, b, a, none]),
            ("uuid", "desc", sorted(made, reverse=True)), ("id", "desc", made[::-1])):
        assert _listed(api, sort_key=sort_key, sort_dir=sort_dir)[0] == expected, sort_key

    # Pages of two, by the next link, which keeps the order and the other parameters.
    seen: list[str] = []
    page, following = _listed(api, limit=2, sort_key="priority", sort_dir="desc",
                              fields="uuid,priority")
    while True:
        seen += page
        if following is None:
            break
        link = urlsplit(following)
        assert link.path == PATH, following
        query = dict(parse_qsl(link.query))
        assert (query["sort_key"], query["sort_dir"], query["limit"], query["fields"]) == (
            "priority", "desc", "2", "uuid,priority"), following
        page, following = _listed(api, **query)
    assert seen == [a, none, b, c]
    assert _listed(api, marker=b) == ([none, a, c], None)
    # A marker whose sort value is missing (NULL) still pages on.
    page, following = _listed(api, marker=none, limit=1, sort_key="description")
    assert page == [a] and following is not None


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"limit": "0"}, 400, "Limit must be positive"),
    ({"limit": "-1"}, 400, "Limit must be positive"),
    ({"limit": "abc"}, 400, "Expected an integer for limit: abc"),
    ({"sort_dir": "up"}, 400, "Schema error: 'up' is not one of ['asc', 'desc']"),
    ({"sort_key": "actions"}, 400, "Schema error: 'actions' should not be valid under "
                                   "{'type': 'string', 'enum': ['actions', 'conditions']}"),
    ({"sort_key": "nope"}, 400, 'The sort_key value "nope" is an invalid field for sorting'),
    ({"marker": "8b5c0b4e-9a39-4c8a-9a6b-6e1e1cde0000"}, 404,
     "Rule 8b5c0b4e-9a39-4c8a-9a6b-6e1e1cde0000 could not be found."),
    ({"marker": "nope"}, 404, "Rule nope could not be found."),
    ({"foo": "bar"}, 400, "Unexpected arguments: foo"),
    ({"detail": "true", "fields": "uuid"}, 400,
     "Can not specify ?detail=True and fields in the same request."),
], ids=["limit-zero", "limit-negative", "limit-text", "sort-dir", "sort-key-json",
        "sort-key-unknown", "marker-unknown", "marker-not-uuid", "unexpected", "detail-fields"])
def test_bad_list_parameters_get_ironics_errors(api: httpx.Client, params: dict[str, str],
                                                status: int, message: str) -> None:
    answer = api.get(PATH, params=params)
    assert answer.status_code == status, answer.text
    assert fault(answer) == message


def test_deleting_the_collection_removes_every_rule(api: httpx.Client) -> None:
    for priority in (1, 2, 3):
        assert api.post(PATH, json=_rule(f"r{priority}", priority)).status_code == 201
    assert len(_listed(api)[0]) == 3
    assert api.delete(PATH).status_code == 204
    assert _listed(api) == ([], None)
    # Before 1.96 there are no inspection rules: reading is a 404, changing a 405.
    assert api.post(PATH, json=_rule("x", 1)).status_code == 201
    assert api.get(PATH, headers={"X-OpenStack-Ironic-API-Version": "1.95"}
                   ).status_code == 404
    old = api.delete(PATH, headers={"X-OpenStack-Ironic-API-Version": "1.95"})
    assert old.status_code == 405, old.text
    assert len(_listed(api)[0]) == 1
