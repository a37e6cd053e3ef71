"""Stored extraction schemas, so a batch can name ``schema_id`` instead of repeating fields.

A schema belongs to one organization; another organization's schema id answers 404 like an
unknown one. ``PUT`` replaces its name and fields as a new ``version`` (same id); ``DELETE``
removes it. Neither touches a job: a job stores its own copy of the fields at submit, so jobs
already submitted keep the version they were submitted with, and a deleted schema only stops
new submissions naming it (422).

Why bounded: a schema has no TTL (it is reference data), so each one is capped in size
(``shared.models.MAX_SCHEMA_BYTES``) and each organization in count
(``max_schemas_per_org``); the count is checked and the schema written in one Lua script, so
concurrent creates cannot pass the quota together.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import redis
from flask import Blueprint, Response

from api.auth import current_principal
from api.http import json_body, json_response
from api.services import Services, services
from api.submit import check_schema
from shared.clock import iso_ms, now_ms
from shared.errors import Conflict, NotFound, Unprocessable
from shared.models import STORED, SchemaDeleted, SchemaIn, SchemaList, SchemaOut

bp = Blueprint("schemas", __name__)

_SCHEMA_ID = re.compile(r"sch_[0-9a-f]{16}")
#: Attempts of an optimistic update before answering 409 (only concurrent PUTs of one schema
#: make it retry).
_UPDATE_ATTEMPTS = 5

# KEYS: the org's schema index, the schema; ARGV: quota, id, JSON, created ms.
# 0 when the organization holds its quota already, else 1.
_CREATE = """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
return 1
"""


def _key(svc: Services, org: str, schema_id: str) -> str:
    return svc.keys.schema(org, schema_id)


def _load(svc: Services, org: str, schema_id: str) -> SchemaOut:
    """The organization's schema, or 404 (malformed and foreign ids included)."""
    raw = svc.redis.get(_key(svc, org, schema_id)) if _SCHEMA_ID.fullmatch(schema_id) else None
    if not raw:
        raise NotFound(f"no schema {schema_id[:80]} in this organization")
    return stored_schema(raw)


def stored_schema(raw: str | bytes) -> SchemaOut:
    """A schema as stored: loaded under the rules it was accepted with (``STORED``)."""
    return SchemaOut.model_validate_json(raw, context=STORED)


def _payload(schema: SchemaOut) -> dict[str, Any]:
    out = schema.model_dump(mode="json")
    out["updated_at"] = out["updated_at"] or out["created_at"]  # stored before versions
    return out


@bp.post("/v1/schemas")
def create_schema() -> Response:
    """201 with the stored schema (version 1); 422 once the organization holds its quota."""
    svc, org = services(), current_principal().org
    schema, _ = json_body(SchemaIn, svc.settings.max_request_bytes)
    check_schema(schema, where="")
    created = now_ms()
    stamp = iso_ms(created) or ""
    out = SchemaOut(id=f"sch_{secrets.token_hex(8)}", name=schema.name, fields=schema.fields,
                    created_at=stamp, version=1, updated_at=stamp)
    quota = svc.settings.max_schemas_per_org
    stored = svc.redis.eval(_CREATE, 2, svc.keys.org_schemas(org), _key(svc, org, out.id),
                            quota, out.id, out.model_dump_json(), created)
    if not stored:
        raise Unprocessable(f"this organization already stores {quota} schemas, the maximum; "
                            "delete one first")
    return json_response(_payload(out), 201, {"Location": f"/v1/schemas/{out.id}"})


@bp.get("/v1/schemas")
def list_schemas() -> Response:
    """Every schema of the organization, oldest first (the quota bounds the list)."""
    svc, org = services(), current_principal().org
    ids = [str(i) for i in svc.redis.zrange(svc.keys.org_schemas(org), 0, -1)]
    raws = svc.redis.mget([_key(svc, org, i) for i in ids]) if ids else []
    data = [stored_schema(raw) for raw in raws if raw]
    listed = SchemaList(data=data).model_dump(mode="json")
    listed["data"] = [_payload(s) for s in data]
    return json_response(listed)


@bp.get("/v1/schemas/<schema_id>")
def get_schema(schema_id: str) -> Response:
    svc = services()
    return json_response(_payload(_load(svc, current_principal().org, schema_id)))


@bp.put("/v1/schemas/<schema_id>")
def update_schema(schema_id: str) -> Response:
    """The schema's new version: same id and ``created_at``, ``version`` + 1. Jobs already
    submitted keep the fields they were submitted with."""
    svc, org = services(), current_principal().org
    _load(svc, org, schema_id)  # 404 before reading the body
    schema, _ = json_body(SchemaIn, svc.settings.max_request_bytes)
    check_schema(schema, where="")
    key = _key(svc, org, schema_id)
    for _ in range(_UPDATE_ATTEMPTS):
        with svc.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                raw = pipe.get(key)
                if not raw:
                    raise NotFound(f"no schema {schema_id} in this organization")
                current = stored_schema(raw)
                new = SchemaOut(id=current.id, name=schema.name, fields=schema.fields,
                                created_at=current.created_at, version=current.version + 1,
                                updated_at=iso_ms(now_ms()) or "")
                pipe.multi()
                pipe.set(key, new.model_dump_json())
                pipe.execute()
            except redis.WatchError:
                continue
        return json_response(_payload(new))
    raise Conflict(f"schema {schema_id} is being updated by another request; retry")


@bp.delete("/v1/schemas/<schema_id>")
def delete_schema(schema_id: str) -> Response:
    """Deletes it; jobs submitted with it keep their own copy of its fields."""
    svc, org = services(), current_principal().org
    found = _load(svc, org, schema_id)
    pipe = svc.redis.pipeline(transaction=True)
    pipe.delete(_key(svc, org, found.id))
    pipe.zrem(svc.keys.org_schemas(org), found.id)
    deleted, _ = pipe.execute()
    if not deleted:
        raise NotFound(f"no schema {schema_id[:80]} in this organization")
    return json_response(SchemaDeleted(id=found.id).model_dump(mode="json"))
