"""BOPLA matrix for responses (issue 11 item 6), generated from both OpenAPI documents.

1. Every property of every response schema whose name says it carries personal data (a name,
   phone, address, place, note, free text, secret ...) has a row in FIELDS: the form it is
   served in (plain, a masked name, a masked ID number, a secret shown once) and the roles that
   may receive it with a value. A new such property without a row fails
   `test_every_personal_field_has_a_row`; so does a row naming a property that is gone.
   Some properties never may exist in a response at all (NEVER: a full ID number, a birth
   date, a password, a digest).
2. `test_what_each_role_receives` calls every GET operation of both APIs as each role, on a
   world with an alert, a case and a visit of resident A, and walks each JSON answer along its
   schema: a personal property with a value must be in a row that names the role, in the row's
   form; and the residents' data that no response may carry (the full ID number, the birth
   date) or only named fields may (phone, health notes, the emergency contact's phone, the
   unmasked name) is looked for in every string of every answer, whatever its property is
   called, so a new field leaking it fails even with an innocent name.

Extend FIELDS (and CARRIERS when a new field is meant to carry such a datum) with the change
that adds the field.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backend.accounts.models import User
from backend.alerts.models import Alert
from backend.visits.models import Visit
from board.api import api as board_api
from mobile_api.api import api
from tests.board.conftest import BoardClient, enrol
from tests.conftest import ApiClient, World, login
from tests.servicedesk.conftest import Desk, desk, file_case, media_root  # noqa: F401

pytestmark = pytest.mark.django_db

RESIDENT, WORKER, OFFICER, SUPERVISOR, ADMIN = (
    "resident",
    "worker",
    "officer",
    "supervisor",
    "admin",
)
USERS = frozenset({RESIDENT, WORKER, OFFICER, SUPERVISOR, ADMIN})
STAFF = frozenset({WORKER, OFFICER, SUPERVISOR, ADMIN})
BOARD = frozenset({SUPERVISOR, ADMIN})

PERSONAL = re.compile(
    r"(^|_)(name|phone|id_number|birth|health|note|address|email|location|lat|lon|gps|position"
    r"|description|text|comment|checklist|contacts?|secret|token|password|minutes|reason|url"
    r"|resident|person)($|_)"
)
NOT_PERSONAL = re.compile(r"_(id|ids|at|count|kind)$|^in_person")
NEVER = re.compile(r"^(id_number|birth_date|password|.*_digest|.*_encrypted)$")

PLAIN, MASKED_NAME, MASKED_ID, SECRET, LABEL = (
    "plain",
    "masked name",
    "masked ID",
    "secret",
    "label",
)


@dataclass(frozen=True)
class Rule:
    form: str
    roles: frozenset[str]
    why: str = ""


def plain(roles: frozenset[str] = USERS, why: str = "") -> Rule:
    return Rule(PLAIN, roles, why)


LABEL_RULE = Rule(LABEL, USERS, "the name of a place, an item or an organisation, not a person")
STAFF_NAME = plain(USERS, "a staff member's name (who comes, who decided)")
MASKED = Rule(MASKED_NAME, USERS, "lists and alerts show the resident's name masked")

# (api, schema, property) -> the rule. A property reached through a shared schema may be
# told apart by where it is reached from: (api, "Parent.property", name) wins over the
# schema's own row (the board's Ref is a staff member, but a masked resident in an alert).
FIELDS: dict[tuple[str, str, str], Rule] = {
    ("api", "ActivityOut", "text"): plain(why="a group's activity log"),
    ("api", "AdjustmentOut", "reason"): plain(STAFF, "assessment: about staff work"),
    ("api", "AlertDetail", "address"): plain(),
    ("api", "AlertDetail", "resident_name"): MASKED,
    ("api", "AlertOut", "address"): plain(),
    ("api", "AlertOut", "resident_name"): MASKED,
    ("api", "AppealOut", "note"): plain(STAFF),
    ("api", "AppealOut", "text"): plain(STAFF),
    ("api", "CardOut", "name"): STAFF_NAME,
    ("api", "CardOut", "self_comment"): plain(STAFF),
    ("api", "CardRowOut", "name"): STAFF_NAME,
    ("api", "CaseDetail", "address"): plain(),
    ("api", "CaseDetail", "decision_reason"): plain(),
    ("api", "CaseDetail", "description"): plain(),
    ("api", "CaseDetail", "item_name_en"): LABEL_RULE,
    ("api", "CaseDetail", "item_name_zh"): LABEL_RULE,
    ("api", "CaseDetail", "resident_name"): MASKED,
    ("api", "CaseRowOut", "address"): plain(),
    ("api", "CaseRowOut", "item_name_en"): LABEL_RULE,
    ("api", "CaseRowOut", "item_name_zh"): LABEL_RULE,
    ("api", "CaseRowOut", "resident_name"): MASKED,
    ("api", "CommentOut", "location"): plain(STAFF, "staff notes: never to residents"),
    ("api", "CommentOut", "text"): plain(STAFF, "staff notes: never to residents"),
    ("api", "DeviceSecretOut", "secret"): Rule(SECRET, BOARD, "shown once, at registration"),
    ("api", "DocumentOut", "thumbnail_url"): plain(why="signed, valid 5 minutes"),
    ("api", "DocumentOut", "url"): plain(why="signed, valid 5 minutes"),
    ("api", "EmergencyContactOut", "name"): plain(),
    ("api", "EmergencyContactOut", "phone"): plain(),
    ("api", "FindingOut", "description"): plain(),
    ("api", "GridCoverage", "name"): LABEL_RULE,
    ("api", "GridProperties", "community_name"): LABEL_RULE,
    ("api", "GridProperties", "name"): LABEL_RULE,
    ("api", "GridRef", "name"): LABEL_RULE,
    ("api", "GroupOut", "name"): LABEL_RULE,
    ("api", "HearingCallsOut", "skipped_no_phone"): plain(STAFF, "a count of households"),
    ("api", "HouseholdBrief", "address"): plain(),
    ("api", "HouseholdBrief", "location"): plain(),
    ("api", "HouseholdDetail", "address"): plain(),
    ("api", "HouseholdDetail", "location"): plain(),
    ("api", "HouseholdOut", "address"): plain(),
    ("api", "HouseholdOut", "location"): plain(),
    ("api", "LastVisit", "note"): plain(STAFF, "the route of a B post"),
    ("api", "LeaderScoreOut", "reason"): plain(STAFF, "assessment: about staff work"),
    ("api", "MeOut", "name"): plain(why="one's own"),
    ("api", "MeOut", "phone"): plain(why="one's own"),
    ("api", "MeetingOut", "minutes"): plain(),
    ("api", "MemberOut", "resident"): MASKED,
    ("api", "OpinionOut", "resident"): MASKED,
    ("api", "OpinionOut", "text"): plain(),
    ("api", "OrganisationOut", "contact_name"): plain(why="an organisation's public contact"),
    ("api", "OrganisationOut", "contact_phone"): plain(why="an organisation's public contact"),
    ("api", "OrganisationOut", "name"): LABEL_RULE,
    ("api", "PersonRef", "name"): STAFF_NAME,
    ("api", "PhotoOut", "gps"): plain(STAFF, "evidence of a visit"),
    ("api", "PhotoOut", "thumbnail_url"): plain(STAFF, "signed, valid 5 minutes"),
    ("api", "PhotoOut", "url"): plain(STAFF, "signed, valid 5 minutes"),
    ("api", "Point", "lat"): plain(),
    ("api", "Point", "lon"): plain(),
    ("api", "PointOut", "lat"): plain(),
    ("api", "PointOut", "lon"): plain(),
    ("api", "PollCallsOut", "skipped_no_phone"): plain(STAFF, "a count of households"),
    ("api", "PollOut", "secret"): Rule(LABEL, USERS, "a flag: whether the ballot is secret"),
    ("api", "ProposalOut", "decision_note"): plain(),
    ("api", "ProposalOut", "text"): plain(),
    ("api", "RatingOut", "comment"): plain(),
    ("api", "ResidentBrief", "name"): plain(STAFF, "the B post's own route"),
    ("api", "ResidentDetail", "emergency_contacts"): plain(),
    ("api", "ResidentDetail", "health_notes"): plain(),
    ("api", "ResidentDetail", "id_number_masked"): Rule(MASKED_ID, USERS),
    ("api", "ResidentDetail", "name"): plain(),
    ("api", "ResidentDetail", "phone"): plain(),
    ("api", "ResidentSummary", "id_number_masked"): Rule(MASKED_ID, USERS),
    ("api", "ResidentSummary", "name"): plain(),
    ("api", "ServiceItemOut", "name_en"): LABEL_RULE,
    ("api", "ServiceItemOut", "name_zh"): LABEL_RULE,
    ("api", "StepOut", "location"): plain(),
    ("api", "StepOut", "note"): plain(),
    ("api", "SyncItemOut", "reason"): LABEL_RULE,
    ("api", "TaskReason", "reason"): plain(STAFF),
    ("api", "TicketOut", "url"): Rule(SECRET, USERS, "one-time, the caller's own"),
    ("api", "TokenOut", "access_token"): Rule(SECRET, USERS, "the caller's own"),
    ("api", "TokenOut", "refresh_token"): Rule(SECRET, USERS, "the caller's own"),
    ("api", "TokenOut", "token_type"): LABEL_RULE,
    ("api", "TopicOut", "reject_reason"): plain(why="why the grid worker set a topic aside"),
    ("api", "TopicOut", "text"): plain(why="a topic proposed to the grid, shown to it"),
    ("api", "UnreachedOut", "address"): plain(STAFF),
    ("api", "VisitDetail", "address"): plain(),
    ("api", "VisitDetail", "checklist"): plain(),
    ("api", "VisitDetail", "note"): plain(),
    ("api", "VisitOut", "address"): plain(),
    ("api", "VolunteerOut", "resident"): MASKED,
    ("api", "VolunteerTaskOut", "address"): plain(why="the volunteer's accepted task only"),
    ("api", "VolunteerTaskOut", "description"): plain(),
    ("api", "VolunteerTaskOut", "person"): plain(why="the volunteer's accepted task only"),
    ("api", "VoterOut", "address"): plain(STAFF),
    ("api", "VoterOut", "resident"): MASKED,
    ("api", "WorkerCoverage", "name"): STAFF_NAME,
    ("board", "AlertDetail", "location"): plain(BOARD),
    ("board", "AlertOut", "location"): plain(BOARD),
    ("board", "AlertOut", "resident"): plain(BOARD, "a reference: its name is masked"),
    ("board", "AlertDetail", "resident"): plain(BOARD, "a reference: its name is masked"),
    ("board", "AlertOut.resident", "name"): MASKED,
    ("board", "AlertDetail.resident", "name"): MASKED,
    ("board", "CaseOut", "address"): plain(BOARD),
    ("board", "CaseOut", "resident_name"): MASKED,
    ("board", "FixOut", "lat"): plain(BOARD),
    ("board", "FixOut", "lon"): plain(BOARD),
    ("board", "GridCoverageOut", "name"): LABEL_RULE,
    ("board", "GridProperties", "community_name"): LABEL_RULE,
    ("board", "GridProperties", "name"): LABEL_RULE,
    ("board", "HouseholdOut", "address"): plain(BOARD),
    ("board", "HouseholdOut", "lat"): plain(BOARD),
    ("board", "HouseholdOut", "lon"): plain(BOARD),
    ("board", "HouseholdRef", "address"): plain(BOARD),
    ("board", "HouseholdRef", "lat"): plain(BOARD),
    ("board", "HouseholdRef", "lon"): plain(BOARD),
    ("board", "Me", "name"): plain(BOARD, "one's own"),
    ("board", "OnDutyOut", "name"): STAFF_NAME,
    ("board", "PositionOut", "lat"): plain(BOARD, "workers' positions (kept 30 days)"),
    ("board", "PositionOut", "lon"): plain(BOARD, "workers' positions (kept 30 days)"),
    ("board", "Ref", "name"): STAFF_NAME,
    ("board", "StepOut", "note"): plain(BOARD),
    ("board", "TicketOut", "url"): Rule(SECRET, BOARD, "one-time, the caller's own"),
    ("board", "WorkerOut", "name"): STAFF_NAME,
    ("board", "WorkerOut", "position"): plain(BOARD, "workers' positions (kept 30 days)"),
}

# The residents' data looked for in every string of every answer, and the only properties
# that may carry it. Full ID numbers and birth dates: none (the mask hides the birth date,
# the age is served instead).
CARRIERS: dict[str, set[tuple[str, str, str]]] = {
    "id_number": set(),
    "birth_date": set(),
    "phone": {("api", "ResidentDetail", "phone")},
    "contact_phone": {("api", "EmergencyContactOut", "phone")},
    "health_notes": {("api", "ResidentDetail", "health_notes")},
    "full_name": {
        ("api", "ResidentDetail", "name"),
        ("api", "ResidentSummary", "name"),
        ("api", "ResidentBrief", "name"),
    },
}

APIS = {"api": api, "board": board_api}


def _documents() -> dict[str, dict[str, Any]]:
    return {label: ninja.get_openapi_schema() for label, ninja in APIS.items()}


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            out.add(node["$ref"].rsplit("/", 1)[-1])
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def _response_schemas(doc: dict[str, Any]) -> set[str]:
    """Every component a success response reaches."""
    roots: set[str] = set()
    for methods in doc["paths"].values():
        for operation in methods.values():
            for code, response in operation.get("responses", {}).items():
                if str(code).startswith("2"):
                    _refs(response, roots)
    components = doc["components"]["schemas"]
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            found: set[str] = set()
            _refs(components[name], found)
            todo.extend(found)
    return seen


def _personal(name: str) -> bool:
    return bool(PERSONAL.search(name)) and not NOT_PERSONAL.search(name)


def test_every_personal_field_has_a_row() -> None:
    found: set[tuple[str, str, str]] = set()
    never = []
    for label, doc in _documents().items():
        components = doc["components"]["schemas"]
        for schema in _response_schemas(doc):
            for prop in components[schema].get("properties", {}):
                if NEVER.match(prop):
                    never.append((label, schema, prop))
                if _personal(prop):
                    found.add((label, schema, prop))
    assert never == [], "these must never be served"
    plain_rows = {k for k in FIELDS if "." not in k[1]}
    assert sorted(found - plain_rows) == [], "add a row to FIELDS (form and roles)"
    assert sorted(plain_rows - found) == [], "these rows name no response property"
    for label, where, _prop in (k for k in FIELDS if "." in k[1]):
        parent, via = where.split(".")
        assert via in _documents()[label]["components"]["schemas"][parent]["properties"], where


# -- what each role receives -----------------------------------------------------------------


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return name, doc["components"]["schemas"][name]
    return None, node


@dataclass
class Seen:
    label: str
    role: str
    path: str
    wrong: list[str]
    strings: list[tuple[tuple[str, str, str] | None, str]]  # (where, value)


def _kind_of(doc: dict[str, Any], node: dict[str, Any]) -> str:
    _, schema = _resolve(doc, node)
    if "properties" in schema or "additionalProperties" in schema or schema.get("type") == "object":
        return "object"
    if schema.get("type") == "array" or "items" in schema:
        return "array"
    if schema.get("type") == "null":
        return "null"
    return "scalar"


def _walk(
    doc: dict[str, Any], node: dict[str, Any], value: Any, seen: Seen, *, where: Any = None
) -> None:
    name, schema = _resolve(doc, node)
    alternatives = schema.get("anyOf", []) + schema.get("allOf", [])
    if alternatives:  # walk the alternative of the value's kind (e.g. a ref, not the null)
        kind = (
            "object"
            if isinstance(value, dict)
            else "array"
            if isinstance(value, list)
            else "null"
            if value is None
            else "scalar"
        )
        chosen = next((a for a in alternatives if _kind_of(doc, a) == kind), None)
        if chosen is not None:
            _walk(doc, chosen, value, seen, where=where)
        else:
            _strings(value, seen, where=where)
        return
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for prop, item in value.items():
            if prop in props and name is not None:
                _check((seen.label, name, prop), item, seen, parent=where)
                _walk(doc, props[prop], item, seen, where=(name, prop))
            elif isinstance(schema.get("additionalProperties"), dict):
                _walk(doc, schema["additionalProperties"], item, seen, where=where)
            else:
                _strings(item, seen, where=where)
    elif isinstance(value, list):
        for item in value:
            if "items" in schema:
                _walk(doc, schema["items"], item, seen, where=where)
            else:
                _strings(item, seen, where=where)
    elif isinstance(value, str):
        seen.strings.append((None if where is None else (seen.label, *where), value))


def _strings(value: Any, seen: Seen, *, where: Any) -> None:
    """An untyped part of an answer (a dict[str, Any]): its strings, for the value scan."""
    if isinstance(value, dict):
        for item in value.values():
            _strings(item, seen, where=where)
    elif isinstance(value, list):
        for item in value:
            _strings(item, seen, where=where)
    elif isinstance(value, str):
        seen.strings.append((None if where is None else (seen.label, *where), value))


def _rule(key: tuple[str, str, str], parent: Any) -> Rule | None:
    label, _schema, prop = key
    if parent is not None:
        by_parent = FIELDS.get((label, f"{parent[0]}.{parent[1]}", prop))
        if by_parent is not None:
            return by_parent
    return FIELDS.get(key)


MASK_OF_NAME = re.compile(r"^.\*+$")
MASK_OF_ID = re.compile(r"^\d{6}\*{8}[\dXx]{4}$")


def _check(key: tuple[str, str, str], value: Any, seen: Seen, *, parent: Any) -> None:
    if not _personal(key[2]) or value in (None, "", [], {}):
        return
    rule = _rule(key, parent)
    if rule is None:
        seen.wrong.append(f"{seen.path}: {key} has no row")
        return
    if seen.role not in rule.roles:
        seen.wrong.append(f"{seen.path}: {key} served to {seen.role}")
    if rule.form == MASKED_NAME and not (isinstance(value, str) and MASK_OF_NAME.match(value)):
        seen.wrong.append(f"{seen.path}: {key} not masked: {value!r}")
    if rule.form == MASKED_ID and not (isinstance(value, str) and MASK_OF_ID.match(value)):
        seen.wrong.append(f"{seen.path}: {key} not an ID mask: {value!r}")


def _world_data(desk: Desk) -> dict[str, Any]:  # noqa: F811
    w = desk.world
    alert = Alert.objects.create(
        kind="emergency",
        source="resident_app",
        resident=w.resident_a,
        household=w.household_a,
        grid=w.grid_a,
        community=w.c1,
        location=w.household_a.location,
    )
    case = file_case(desk)
    at = timezone.now() - timedelta(hours=1)
    visit = Visit.objects.create(
        client_uuid=uuid.uuid4(),
        household=w.household_a,
        grid=w.grid_a,
        community=w.c1,
        worker=w.worker_a,
        visited_at=at,
        counted_at=at,
        location=w.household_a.location,
        note="见到本人，精神好",
        present=True,
    )
    return {
        "grid_id": w.grid_a.pk,
        "household_id": w.household_a.pk,
        "resident_id": w.resident_a.pk,
        "alert_id": alert.pk,
        "case_id": case.pk,
        "visit_uuid": str(visit.client_uuid),
        "device_id": "PENDANT-X",
    }


def _fill(path: str, ids: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 999_999)), path)


def _clients(world: World) -> dict[str, tuple[User, dict[str, Client]]]:
    users = {
        RESIDENT: world.resident_user_a,
        WORKER: world.worker_a,  # resident A's B post
        OFFICER: world.officer_elderly_1,
        SUPERVISOR: world.supervisor_1,
        ADMIN: world.admin,
    }
    out: dict[str, tuple[User, dict[str, Client]]] = {}
    for role, user in users.items():
        clients: dict[str, Client] = {"api": ApiClient(login(user.phone)["access_token"])}
        if role in BOARD:
            enrol(user)
            board = BoardClient()
            board.log_in(user)
            clients["board"] = board
        out[role] = (user, clients)
    return out


def _secrets(world: World) -> dict[str, list[str]]:
    residents = [world.resident_a, world.resident_b, world.resident_c]
    return {
        "id_number": [r.id_number for r in residents],
        "birth_date": [r.birth_date.isoformat() for r in residents],
        "phone": [r.phone for r in residents if r.phone],
        "contact_phone": ["13900000001"],
        "health_notes": [r.health_notes for r in residents if r.health_notes],
        "full_name": [r.name for r in residents],
    }


SKIP_PATHS = re.compile(r"/(pdf|xlsx)$|/attachments/")  # files, not JSON


def test_what_each_role_receives(desk: Desk) -> None:  # noqa: F811
    world = desk.world
    ids = _world_data(desk)
    docs = _documents()
    secrets = _secrets(world)
    wrong: list[str] = []
    answered = 0
    for role, (_, clients) in _clients(world).items():
        for label, client in clients.items():
            doc = docs[label]
            for path, methods in sorted(doc["paths"].items()):
                if "get" not in methods or SKIP_PATHS.search(path):
                    continue
                url = _fill(path, ids)
                answer = client.get(url, {"bbox": "117.79,30.91,117.83,30.94"})
                if answer.status_code != 200 or "json" not in answer.get("Content-Type", ""):
                    continue
                answered += 1
                responses = methods["get"]["responses"]
                schema = (responses.get(200) or responses["200"])["content"]["application/json"]
                seen = Seen(label, role, f"{role} GET {url}", [], [])
                _walk(doc, schema["schema"], answer.json(), seen)
                wrong.extend(seen.wrong)
                for where, text in seen.strings:
                    for kind, values in secrets.items():
                        if any(v and v in text for v in values) and where not in CARRIERS[kind]:
                            wrong.append(f"{seen.path}: {kind} in {where or 'untyped'}")
    assert answered > 40  # the walk reached the answers, not only 404s
    assert not wrong, "\n".join(sorted(set(wrong)))
