"""Stored extraction schemas, so a batch can name ``schema_id`` instead of repeating fields.

A schema is immutable once created (jobs keep their own snapshot anyway) and belongs to one
organization; another organization's schema id answers 404 like an unknown one.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, Response

from api.auth import current_principal
from api.http import json_body, json_response
from api.services import services
from shared.clock import iso_ms, now_ms
from shared.errors import NotFound, Unprocessable
from shared.models import SchemaIn, SchemaOut

bp = Blueprint("schemas", __name__)

_SCHEMA_ID = re.compile(r"^sch_[0-9a-f]{16}$")


@bp.post("/v1/schemas")
def create_schema() -> Response:
    svc = services()
    schema, _ = json_body(SchemaIn, svc.settings.max_request_bytes)
    if not schema.fields:
        raise Unprocessable("the schema has no fields; give at least one field to extract")
    out = SchemaOut(id=f"sch_{secrets.token_hex(8)}", name=schema.name, fields=schema.fields,
                    created_at=iso_ms(now_ms()) or "")
    svc.redis.set(svc.keys.schema(current_principal().org, out.id), out.model_dump_json())
    return json_response(out.model_dump(mode="json"), 201,
                         {"Location": f"/v1/schemas/{out.id}"})


@bp.get("/v1/schemas/<schema_id>")
def get_schema(schema_id: str) -> Response:
    svc = services()
    raw = None
    if _SCHEMA_ID.match(schema_id):
        raw = svc.redis.get(svc.keys.schema(current_principal().org, schema_id))
    if not raw:
        raise NotFound(f"no schema {schema_id[:80]} in this organization")
    return json_response(SchemaOut.model_validate_json(raw).model_dump(mode="json"))
