"""Provider callbacks: delivery receipts, call status, keypresses and SMS replies
(backend.notify.callbacks).

No user logs in here: each provider proves itself with the secret in the URL registered in its
console (`?token=`). Each answers in the shape its provider expects."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from backend.core.api_errors import responses
from backend.core.errors import ApiError
from backend.notify import callbacks

router = Router(tags=["provider callbacks"])


class AliyunAck(Schema):
    code: int
    msg: str


class TencentAck(Schema):
    result: int
    errmsg: str


ALIYUN = responses({200: AliyunAck}, 400, 403, 422)
TENCENT = responses({200: TencentAck}, 400, 403, 422)


def _json(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError("invalid_json", status=400) from error


@router.post(
    "/aliyun/sms", auth=None, response=ALIYUN, summary="Aliyun SmsReport (HTTP batch push)"
)
def aliyun_sms(request: HttpRequest, token: str = "") -> dict[str, Any]:
    callbacks.do_aliyun_sms_report(token=token, body=_json(request))
    return {"code": 0, "msg": "成功"}


@router.post(
    "/aliyun/voice", auth=None, response=ALIYUN, summary="Aliyun voice reports and keypresses"
)
def aliyun_voice(request: HttpRequest, token: str = "") -> dict[str, Any]:
    callbacks.do_aliyun_voice_report(token=token, body=_json(request))
    return {"code": 0, "msg": "成功"}


@router.post(
    "/tencent/sms", auth=None, response=TENCENT, summary="Tencent Cloud SMS status callback"
)
def tencent_sms(request: HttpRequest, token: str = "") -> dict[str, Any]:
    callbacks.do_tencent_sms_report(token=token, body=_json(request))
    return {"result": 0, "errmsg": "OK"}


@router.post(
    "/aliyun/sms-up", auth=None, response=ALIYUN, summary="Aliyun SmsUp: SMS replies (HTTP push)"
)
def aliyun_sms_up(request: HttpRequest, token: str = "") -> dict[str, Any]:
    callbacks.do_aliyun_sms_up(token=token, body=_json(request))
    return {"code": 0, "msg": "成功"}


@router.post(
    "/tencent/sms-reply", auth=None, response=TENCENT, summary="Tencent Cloud SMS reply callback"
)
def tencent_sms_reply(request: HttpRequest, token: str = "") -> dict[str, Any]:
    callbacks.do_tencent_sms_reply(token=token, body=_json(request))
    return {"result": 0, "errmsg": "OK"}
