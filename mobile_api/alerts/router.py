"""One-key emergency alerts: device presses, the resident app, workers, and the lifecycle."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from backend.accounts.actions import STEP_UP_HEADER, check_step_up
from backend.accounts.models import Role
from backend.alerts import actions, devices, selectors
from backend.alerts.models import Alert, Device
from backend.audit.models import AuditEvent
from backend.core.api_errors import responses
from backend.core.errors import ApiError, NotFound
from backend.people.selectors import get_resident
from mobile_api.pagination import AuditedPage
from mobile_api.security import DeviceSignature, caller, caller_scope, signed_request

from .schemas import (
    AcceptIn,
    AlertCreatedOut,
    AlertDetail,
    AlertOut,
    ArriveIn,
    DeviceAlertIn,
    DeviceIn,
    DeviceOut,
    DeviceSecretOut,
    HeartbeatIn,
    HeartbeatOut,
    RaiseAlertIn,
    ResolveIn,
)

device_router = Router(tags=["device"], auth=DeviceSignature())
router = Router(tags=["alerts"])


# -- devices (signed) ----------------------------------------------------------------------


@device_router.post(
    "/alerts", response=responses({201: AlertCreatedOut, 200: AlertCreatedOut}, 400, 401, 422, 503)
)
def device_press(request: HttpRequest, payload: DeviceAlertIn) -> Status[dict[str, Any]]:
    """A button press. 201 only after the alert is committed; a retry with the same
    client_alert_id gets the same answer and creates nothing."""
    status, body = actions.do_device_press(
        signed=signed_request(request),
        client_alert_id=payload.client_alert_id,
        kind=payload.kind,
        body=payload.model_dump(mode="json"),
        fix=payload.location.fix() if payload.location else None,
        battery=payload.battery,
        resident_id=payload.resident_id,
    )
    return Status(status, body)


@device_router.post("/heartbeat", response=responses({200: HeartbeatOut}, 400, 401, 422))
def device_heartbeat(request: HttpRequest, payload: HeartbeatIn) -> Device:
    return devices.do_heartbeat(signed=signed_request(request), battery=payload.battery)


@device_router.post(
    "/alerts/{alert_id}/cancel", response=responses({200: AlertOut}, 400, 401, 404, 409, 422)
)
def device_cancel(request: HttpRequest, alert_id: int) -> Alert:
    return actions.do_cancel_false_press(alert_id=alert_id, signed=signed_request(request))


# -- people raising alerts -----------------------------------------------------------------


@router.post(
    "/alerts", response=responses({201: AlertCreatedOut, 200: AlertCreatedOut}, 400, 401, 403, 422)
)
def raise_from_app(request: HttpRequest, payload: RaiseAlertIn) -> Status[dict[str, Any]]:
    """The resident app's buttons (the caller must be a resident account)."""
    user = caller(request)
    if user.role != Role.RESIDENT or user.resident is None:
        raise ApiError("permission_denied", status=403)
    return _raise(payload, user=user, resident=user.resident)


@router.post(
    "/residents/{resident_id}/alerts",
    response=responses({201: AlertCreatedOut, 200: AlertCreatedOut}, 400, 401, 403, 404, 422),
)
def raise_for_resident(
    request: HttpRequest, resident_id: int, payload: RaiseAlertIn
) -> Status[dict[str, Any]]:
    """A worker raising an alert on behalf of a resident in their scope."""
    resident = get_resident(caller_scope(request), resident_id)
    if caller(request).role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)
    return _raise(payload, user=caller(request), resident=resident)


def _raise(payload: RaiseAlertIn, *, user: Any, resident: Any) -> Status[dict[str, Any]]:
    status, body = actions.do_raise_for_resident(
        user=user,
        resident=resident,
        client_alert_id=payload.client_alert_id,
        kind=payload.kind,
        body=payload.model_dump(mode="json"),
        fix=payload.location.fix() if payload.location else None,
    )
    return Status(status, body)


# -- reading and the lifecycle -------------------------------------------------------------


class AlertFilters(Schema):
    state: Alert.State | None = Field(None)


@router.get("/alerts", response=responses({200: list[AlertOut]}, 401, 422))
@paginate(
    AuditedPage,
    action=AuditEvent.Action.LIST_ALERTS,
    target_type="alert",
    resident=lambda alert: alert.resident_id,
)
def list_alerts(request: HttpRequest, filters: Query[AlertFilters]) -> QuerySet[Alert]:
    return selectors.alerts_for(caller(request), state=filters.state)


@router.get("/alerts/{alert_id}", response=responses({200: AlertDetail}, 401, 404, 422))
def alert_detail(request: HttpRequest, alert_id: int) -> Alert:
    return selectors.read_alert(caller(request), alert_id, request=request)


@router.post(
    "/alerts/{alert_id}/acknowledge", response=responses({200: AlertOut}, 400, 401, 404, 422)
)
def acknowledge(request: HttpRequest, alert_id: int) -> Alert:
    return actions.do_acknowledge(user=caller(request), alert_id=alert_id)


@router.post(
    "/alerts/{alert_id}/accept", response=responses({200: AlertOut}, 400, 401, 403, 404, 409, 422)
)
def accept(request: HttpRequest, alert_id: int, payload: AcceptIn | None = None) -> Alert:
    fix = payload.location.fix() if payload and payload.location else None
    return actions.do_accept(user=caller(request), alert_id=alert_id, fix=fix)


@router.post(
    "/alerts/{alert_id}/arrive", response=responses({200: AlertOut}, 400, 401, 403, 404, 409, 422)
)
def arrive(request: HttpRequest, alert_id: int, payload: ArriveIn) -> Alert:
    return actions.do_arrive(user=caller(request), alert_id=alert_id, fix=payload.location.fix())


@router.post(
    "/alerts/{alert_id}/resolve", response=responses({200: AlertOut}, 400, 401, 403, 404, 409, 422)
)
def resolve(request: HttpRequest, alert_id: int, payload: ResolveIn) -> Alert:
    return actions.do_resolve(
        user=caller(request),
        alert_id=alert_id,
        disposition=payload.disposition,
        note=payload.note,
        fix=payload.location.fix() if payload.location else None,
    )


@router.post(
    "/alerts/{alert_id}/cancel", response=responses({200: AlertOut}, 400, 401, 403, 404, 409, 422)
)
def cancel(request: HttpRequest, alert_id: int) -> Alert:
    """A resident cancels their own press within 60 s (a false press)."""
    return actions.do_cancel_false_press(alert_id=alert_id, user=caller(request))


# -- device management (supervisors and district administrators) ---------------------------


def _manager(request: HttpRequest) -> Any:
    user = caller(request)
    if user.role not in (Role.SUPERVISOR, Role.DISTRICT_ADMIN):
        raise ApiError("permission_denied", status=403)
    return user


def _device(request: HttpRequest, device_id: str) -> Device:
    _manager(request)
    device = Device.objects.filter(device_id=device_id).select_related("resident").first()
    if device is None:
        raise NotFound()
    get_resident(caller_scope(request), device.resident_id)  # 404 when out of scope
    return device


@router.post(
    "/devices", response=responses({201: DeviceSecretOut}, 400, 401, 403, 404, 409, 422, 429)
)
def register_device(request: HttpRequest, payload: DeviceIn) -> Status[dict[str, str]]:
    """Register a button to a resident. The secret is shown in this answer only. A sensitive
    operation: send your current TOTP code in the `X-OTP` header."""
    manager = _manager(request)
    check_step_up(user=manager, code=request.headers.get(STEP_UP_HEADER))
    resident = get_resident(caller_scope(request), payload.resident_id)
    if Device.objects.filter(device_id=payload.device_id).exists():
        raise ApiError("validation_error", status=409, fields={"device_id": "field_invalid"})
    device, secret = devices.do_register_device(
        device_id=payload.device_id,
        kind=payload.kind,
        resident=resident,
        heartbeat_interval_s=payload.heartbeat_interval_s,
    )
    return Status(201, {"device_id": device.device_id, "secret": secret})


@router.get("/devices/{device_id}", response=responses({200: DeviceOut}, 401, 403, 404))
def device_detail(request: HttpRequest, device_id: str) -> Device:
    return _device(request, device_id)


@router.post(
    "/devices/{device_id}/rotate", response=responses({200: DeviceSecretOut}, 400, 401, 403, 404)
)
def rotate_device_secret(request: HttpRequest, device_id: str) -> dict[str, str]:
    device = _device(request, device_id)
    return {"device_id": device.device_id, "secret": devices.do_rotate_device_secret(device=device)}


@router.post("/devices/{device_id}/revoke", response=responses({204: None}, 400, 401, 403, 404))
def revoke_device(request: HttpRequest, device_id: str) -> Status[None]:
    devices.do_revoke_device(device=_device(request, device_id))
    return Status(204, None)
