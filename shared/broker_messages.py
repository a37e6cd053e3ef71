"""The broker message of an extract task, as a template ``record_document.lua`` fills in.

Why: when a document is recorded, the recording script hands out the job's next document
(the fan-out window slides by one). Sending that document through Celery's ``send_task`` from
the pool process cost about a third of the process's time per document (py-spy, no-op
extractor: ``bench/scaling.py``). kombu's Redis transport publishes a message as one
``LPUSH`` of a JSON envelope onto ``{prefix}:q:{queue}``, so the script can push the envelope
itself: no Python publish, no extra round trip, and the hand-out and the send become one
atomic step (a crash between them can no longer lose the send).

The envelope is Celery's task protocol 2 exactly as ``send_task`` writes it, with one
difference: the body is the raw JSON string, without ``body_encoding: base64``, because Lua
cannot base64 a templated body cheaply; kombu's virtual transport hands a body with no
``body_encoding`` to Celery as it is. ``tests/integration/test_broker_messages.py`` checks
both against a real ``send_task`` and a real worker.

Only usable when the broker is the Redis that holds the job (the default): a script cannot
write to another server. Otherwise :func:`extract_envelope` is not used and ``send_task``
sends as before.
"""

from __future__ import annotations

import socket
from functools import lru_cache

import orjson

from shared import queues as q

#: Replaced by the document index (a JSON integer) in the body and in ``argsrepr``.
INDEX = "@@INDEX@@"
#: Replaced by a task id unique to this send: task id, root id, correlation id, delivery tag.
TASK_ID = "@@ID@@"
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@lru_cache(maxsize=256)
def extract_envelope(job_id: str, org: str, priority: str) -> str:
    """The JSON envelope of ``extract_document(job_id, org, <INDEX>, priority)`` on its
    priority's queue, with :data:`INDEX` and :data:`TASK_ID` left to fill in."""
    queue = q.extract_queue(priority)
    body = orjson.dumps([[job_id, org, INDEX, priority], {}, _EMBED]).decode()
    body = body.replace(f'"{INDEX}"', INDEX)  # the index is a JSON number once filled in
    headers: dict[str, object] = {
        "lang": "py", "task": q.T_EXTRACT, "id": TASK_ID, "shadow": None, "eta": None,
        "expires": None, "group": None, "group_index": None, "retries": 0,
        "timelimit": [None, None], "root_id": TASK_ID, "parent_id": None,
        "argsrepr": f"[{job_id!r}, {org!r}, {INDEX}, {priority!r}]", "kwargsrepr": "{}",
        "origin": f"jobgrid-record@{socket.gethostname()}", "ignore_result": None,
        "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {},
    }
    properties = {
        "correlation_id": TASK_ID, "reply_to": "", "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue}, "priority": 0,
        "delivery_tag": TASK_ID,
    }
    return orjson.dumps({"body": body, "content-encoding": "utf-8",
                         "content-type": "application/json", "headers": headers,
                         "properties": properties}).decode()


def render(envelope: str, index: int, task_id: str) -> str:
    """What the script does, in Python (tests, and the reference for the Lua)."""
    return envelope.replace(INDEX, str(index)).replace(TASK_ID, task_id)
