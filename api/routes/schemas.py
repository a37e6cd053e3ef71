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

import base64
import binascii
import re
import secrets
from typing import Any

from flask import Blueprint, Response, request

from api.auth import current_principal
from api.http import json_body, json_response
from api.listing import parse_limit
from api.services import Services, services
from api.submit import check_schema
from shared.clock import iso_ms, now_ms
from shared.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from shared.models import STORED, SchemaDeleted, SchemaIn, SchemaList, SchemaOut
from shared.schemas import SchemaBusy

bp = Blueprint("schemas", __name__)

_SCHEMA_ID = re.compile(r"sch_[0-9a-f]{16}")


def _load(svc: Services, org: str, schema_id: str) -> SchemaOut:
    """The organization's schema, or 404 (malformed and foreign ids included)."""
    raw = svc.schemas.get(org, schema_id) if _SCHEMA_ID.fullmatch(schema_id) else None
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
    if not svc.schemas.create(org, out.id, out.model_dump_json(), created, quota):
        raise Unprocessable(f"this organization already stores {quota} schemas, the maximum; "
                            "delete one first")
    return json_response(_payload(out), 201, {"Location": f"/v1/schemas/{out.id}"})


def _encode_cursor(position: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(f"s:{position[0]}:{position[1]}".encode()).decode() \
        .rstrip("=")


def _decode_cursor(value: str) -> tuple[int, str]:
    """The position a ``next_cursor`` names, or 400 when this API did not make it."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        mode, score, schema_id = raw.split(":")
        position = (int(score), schema_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise ValidationFailed("cursor is not valid; pass next_cursor unchanged") from e
    if mode != "s" or not _SCHEMA_ID.fullmatch(schema_id):
        raise ValidationFailed("cursor is not valid; pass next_cursor unchanged")
    return position


@bp.get("/v1/schemas")
def list_schemas() -> Response:
    """One page of the organization's schemas, oldest first (``limit``, ``cursor``: the same
    rules as ``GET /v1/jobs``)."""
    svc, org = services(), current_principal().org
    limit = parse_limit(request.args.get("limit"))
    raw_cursor = request.args.get("cursor")
    after = _decode_cursor(raw_cursor) if raw_cursor else None
    raws, last = svc.schemas.page(org, after, limit)
    data = [stored_schema(raw) for raw in raws]
    listed = SchemaList(data=data, has_more=last is not None,
                        next_cursor=_encode_cursor(last) if last else None).model_dump(mode="json")
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
    made: list[SchemaOut] = []  # the version the winning attempt wrote

    def change(raw: str) -> str:
        current = stored_schema(raw)
        made.append(SchemaOut(id=current.id, name=schema.name, fields=schema.fields,
                              created_at=current.created_at, version=current.version + 1,
                              updated_at=iso_ms(now_ms()) or ""))
        return made[-1].model_dump_json()

    try:
        written = svc.schemas.replace(org, schema_id, change)
    except SchemaBusy:
        raise Conflict(f"schema {schema_id} is being updated by another request; "
                       "retry") from None
    if written is None:
        raise NotFound(f"no schema {schema_id} in this organization")
    return json_response(_payload(made[-1]))


@bp.delete("/v1/schemas/<schema_id>")
def delete_schema(schema_id: str) -> Response:
    """Deletes it; jobs submitted with it keep their own copy of its fields."""
    svc, org = services(), current_principal().org
    found = _load(svc, org, schema_id)
    if not svc.schemas.delete(org, found.id):
        raise NotFound(f"no schema {schema_id[:80]} in this organization")
    return json_response(SchemaDeleted(id=found.id).model_dump(mode="json"))
