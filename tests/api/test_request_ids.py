"""New request ids are Ironic's shape: req- and a version 4 UUID, each different."""

from __future__ import annotations

import uuid

from ingot.api.middleware import new_request_id, request_id_of


def test_new_request_ids_are_distinct_version_4_uuids() -> None:
    made = {new_request_id() for _ in range(2000)}
    assert len(made) == 2000
    for request_id in made:
        assert request_id.startswith("req-")
        parsed = uuid.UUID(request_id.removeprefix("req-"))
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == request_id.removeprefix("req-")
        # A caller's well-formed id is kept, so ours must pass the same check.
        assert request_id_of({"headers": [(b"x-openstack-request-id",
                                          request_id.encode())]}) == request_id
