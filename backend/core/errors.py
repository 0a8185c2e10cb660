"""Domain errors: one exception type with a stable code, and the one mapping of any exception
to the JSON error every transport answers with (`api_error_of`, `error_response`).

Messages live here in both languages side by side so that a code and its wording are reviewed
together; the caller's language comes from Accept-Language (zh-Hans by default, English).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import OperationalError
from django.http import Http404, HttpRequest, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from psycopg_pool import PoolTimeout

logger = logging.getLogger(__name__)

MESSAGES: dict[str, tuple[str, str]] = {
    # code: (zh-Hans, English)
    "validation_error": ("请求数据无效。", "The request data is invalid."),
    "invalid_json": ("请求体不是有效的 JSON。", "The request body is not valid JSON."),
    "not_found": ("未找到该资源。", "Not found."),
    "not_authenticated": ("需要登录。", "Authentication required."),
    "token_invalid": ("令牌无效或已过期。", "The token is invalid or has expired."),
    "token_revoked": ("令牌已被撤销。", "The token has been revoked."),
    "invalid_credentials": ("手机号或密码错误。", "Wrong phone number or password."),
    "account_locked": (
        "登录失败次数过多，账号已锁定 15 分钟。",
        "Too many failed log-ins; the account is locked for 15 minutes.",
    ),
    "account_inactive": ("账号已停用。", "The account is disabled."),
    "refresh_reused": (
        "刷新令牌已被使用，该登录已全部撤销，请重新登录。",
        "The refresh token was already used; the whole session is revoked. Log in again.",
    ),
    "permission_denied": ("无权执行此操作。", "You may not do this."),
    "unknown_message": ("未知的消息类型。", "Unknown message type."),
    "rate_limited": ("请求过于频繁，请稍后再试。", "Too many requests; try again later."),
    "push_token_taken": (
        "该推送令牌已登记在另一个仍在登录的账号下。",
        "This push token is registered to another account that is still signed in.",
    ),
    "method_not_allowed": ("不支持该请求方法。", "Method not allowed."),
    "internal_error": ("服务器内部错误。", "Internal server error."),
    "callback_forbidden": (
        "回调凭据无效，已拒绝。",
        "The callback's credential is wrong; refused.",
    ),
    "service_busy": ("服务器繁忙，请稍后重试。", "The server is busy; retry shortly."),
    "payload_too_large": (
        "请求体超过该接口的大小上限。",
        "The request body is larger than this endpoint accepts.",
    ),
    # alerts and devices
    "device_auth_missing": ("缺少设备签名信息。", "Missing device signature headers."),
    "device_signature_invalid": ("设备签名无效。", "Invalid device signature."),
    "device_timestamp_invalid": (
        "设备时间与服务器相差超过 300 秒，请校时。",
        "Device clock is more than 300 s off; resynchronise.",
    ),
    "device_nonce_reused": ("该请求已处理过（随机数重复）。", "Nonce already used (replay)."),
    "device_resident_mismatch": ("设备不属于该居民。", "This device belongs to another resident."),
    "idempotency_mismatch": (
        "同一请求编号对应了不同的内容。",
        "The same client id was sent with a different body.",
    ),
    "alert_already_accepted": ("已有人接警。", "Someone else has already accepted this alert."),
    "alert_wrong_state": (
        "警情当前状态不允许此操作。",
        "Not allowed in the alert's current state.",
    ),
    "alert_cancel_too_late": ("超过 60 秒，无法取消。", "Too late to cancel (60 s)."),
    "disposition_required": ("请选择处置结果。", "A disposition is required."),
    # the supervisors' board
    "board_role_required": (
        "调度看板仅供社区督导和区值班人员使用。",
        "The dispatch board is for community supervisors and district officers.",
    ),
    "otp_not_enrolled": (
        "尚未设置动态口令（第二因素），请联系区管理员开通。",
        "No second factor (TOTP) is set up for this account; ask the district administrator.",
    ),
    "otp_invalid": ("动态口令错误或已使用。", "Wrong or already used code."),
    "otp_required": (
        "此操作需要动态口令（X-OTP 请求头）。",
        "This operation needs your TOTP code (the X-OTP header).",
    ),
    "otp_throttled": (
        "动态口令错误次数过多，请稍候再试。",
        "Too many wrong codes; wait a moment and try again.",
    ),
    "login_expired": ("登录已超时，请重新输入手机号和密码。", "Log-in timed out; start again."),
    "bbox_invalid": (
        "范围参数应为 西,南,东,北（经纬度），且不能过大。",
        "bbox must be west,south,east,north in degrees, and not too large.",
    ),
    "ticket_invalid": ("连接票据无效或已使用。", "The websocket ticket is invalid or used."),
    # photos
    "photo_too_large": ("照片超过 15 MB。", "The photo is larger than 15 MB."),
    "photo_format_unsupported": (
        "仅支持 JPEG、PNG、WebP 和 HEIC 照片。",
        "Only JPEG, PNG, WebP and HEIC photos are accepted.",
    ),
    "photo_unreadable": ("无法识别的图片文件。", "The file is not a readable image."),
    "photo_decompression_bomb": ("图片像素过多，已拒绝。", "The image has too many pixels."),
    # visits
    "client_uuid_conflict": (
        "该编号已被另一条记录使用。",
        "This client id already belongs to another record.",
    ),
    "visited_at_in_future": (
        "走访时间晚于服务器时间超过 24 小时，请校准手机时间。",
        "The visit time is more than 24 h ahead of the server; check the phone's clock.",
    ),
    "visit_photo_limit": ("每次走访最多 20 张照片。", "At most 20 photos per visit."),
    "photo_missing": ("请附上照片文件（file）。", "Attach the photo as the `file` field."),
    "sync_too_many": ("每批最多 200 条记录。", "At most 200 records per batch."),
    # service desk
    "case_wrong_state": (
        "办件当前状态不允许此操作，未作任何更改。",
        "Not allowed in the case's current state; nothing was changed.",
    ),
    "case_own_decision": (
        "不能审批自己经办或申请的办件。",
        "You may not decide a case you filed or applied for.",
    ),
    "case_consent_missing": (
        "代办件须先取得居民授权（签字委托书照片或居民端确认）。",
        "A proxy case needs the resident's consent first (signed form photo or in-app).",
    ),
    "reassign_target_required": (
        "转办必须指明接收的业务岗或区直部门。",
        "A reassignment must name the business line or district department it goes to.",
    ),
    "reassign_target_empty": (
        "接收方没有在岗人员，不能转办给无人处理的队列。",
        "Nobody works the target queue; a case cannot be sent to nobody.",
    ),
    "reassign_same_queue": ("办件已在该队列。", "The case is already in that queue."),
    "item_not_proxy": ("该事项不允许代办。", "This item cannot be filed by proxy."),
    "delivery_in_person_required": (
        "该事项的结果须上门当面送达。",
        "The result of this item must be handed over in person at the door.",
    ),
    "checkin_too_far": (
        "签到位置距离住户太远。",
        "The check-in position is too far from the household.",
    ),
    "case_already_rated": ("该办件已评价。", "This case has already been rated."),
    "api_key_invalid": ("API 密钥无效。", "The api_key is missing or invalid."),
    "location_outside_area": (
        "位置不在本区任何网格内。",
        "The location is outside every grid of the service area.",
    ),
    # assessment (考核)
    "period_frozen": (
        "该考核期已归档签发，不能再作任何更改。",
        "This assessment period is frozen and signed off; nothing can change.",
    ),
    "period_wrong_state": (
        "考核期当前阶段不允许此操作，未作任何更改。",
        "Not allowed at the period's current stage; nothing was changed.",
    ),
    "publication_running": ("公示期尚未结束。", "The publication window has not ended."),
    "appeals_pending": ("仍有申诉未处理。", "Some appeals are still undecided."),
    "appeal_window_closed": ("公示期已结束，不能再申诉。", "The window for appeals has closed."),
    "appeal_reviewer_is_scorer": (
        "申诉须由未参与评分的人员处理。",
        "An appeal must be decided by someone who did not score the card.",
    ),
    "appeal_decided": ("该申诉已处理。", "This appeal has already been decided."),
    "leader_score_not_in_scheme": (
        "该考核方案没有领导评价（定性）部分。",
        "This scheme has no leader's (qualitative) score.",
    ),
    "leader_score_exists": (
        "该考核卡已有领导评价；如需更改，请注明所替换的版本。",
        "This card already has a leader's score; to change it, name the version it replaces.",
    ),
    "leader_score_stale": (
        "所替换的领导评价版本不是当前版本，未作任何更改。",
        "The version to replace is not the current leader's score; nothing was changed.",
    ),
    "indicator_unknown": (
        "指标不存在或不适用于该方案的考核对象。",
        "Unknown indicator, or not one for the scheme's subjects.",
    ),
    "follow_up_answered": ("该回访已评价或已拒绝。", "This follow-up has already been answered."),
    "follow_up_rated_worker": (
        "被评价的工作人员不能代录自己的评价。",
        "A worker cannot record a rating of their own work.",
    ),
    "follow_up_reply_invalid": (
        "回复格式应为“分数(1-5)”或“N”，可在前面加编号。",
        'Reply with "<1-5>" or "N", optionally after the code.',
    ),
    # community life (notices, polls, hearings)
    "notice_wrong_state": (
        "公示当前状态不允许此操作（已发布的公示不能修改）。",
        "Not allowed in the notice's current state (a published notice cannot change).",
    ),
    "notice_attachment_limit": ("每条公示最多 10 个附件。", "At most 10 attachments per notice."),
    "attachment_too_large": (
        "附件过大（照片最大 15 MB，PDF 最大 10 MB）。",
        "The attachment is too large (photos 15 MB, PDFs 10 MB).",
    ),
    "area_empty": ("所选范围内没有住户。", "There are no households in the chosen area."),
    "objection_window_closed": (
        "公示期已结束（或尚未开始），不能再提出异议。",
        "The notice's publication window is over (or not open); objections are closed.",
    ),
    "poll_wrong_state": ("表决当前状态不允许此操作。", "Not allowed in the poll's current state."),
    "poll_closed": ("表决未开放或已结束。", "The poll is not open (or already closed)."),
    "poll_not_eligible": (
        "不在本次表决的名册内（或未满 18 岁）。",
        "Not on this poll's roll (or under 18).",
    ),
    "poll_already_voted": (
        "已投过票（每户或每人一票），未作更改。",
        "Already voted (one vote per household or person); nothing was changed.",
    ),
    "hearing_wrong_state": (
        "听证会当前状态不允许此操作。",
        "Not allowed in the hearing's current state.",
    ),
    "volunteer_task_wrong_state": (
        "志愿服务任务当前状态不允许此操作。",
        "Not allowed in the volunteer task's current state.",
    ),
    "volunteer_hours_confirmed": (
        "服务时长已确认过，未作更改。",
        "The hours have already been confirmed; nothing was changed.",
    ),
    "group_member_conflict": (
        "该居民已是组员，或本组已有组长。",
        "Already a member, or the group already has a leader.",
    ),
    "proposal_decided": ("该议题已处理过。", "This proposal has already been decided."),
    "voice_text_too_long": (
        "内容太长，无法用语音电话播报（每项最多 35 个字），请上门或在居民端办理。",
        "Too long to read out on a voice call (35 characters per item); use the door or the app.",
    ),
    "voice_too_many_options": (
        "语音电话表决最多支持 9 个选项（按键 1–9）。",
        "A poll by voice call takes at most 9 options (keys 1 to 9).",
    ),
    "topic_wrong_state": (
        "议题当前状态不允许此操作。",
        "Not allowed in the topic's current state.",
    ),
    "topic_already_supported": (
        "已联名支持过该议题，未作更改。",
        "Already supported this topic; nothing was changed.",
    ),
    "topic_not_eligible": (
        "只有本网格的居民可以联名支持该议题。",
        "Only residents of the topic's grid may support it.",
    ),
    # field-level reasons
    "field_required": ("必填。", "Required."),
    "field_invalid": ("值无效。", "Invalid value."),
    "field_too_long": ("太长。", "Too long."),
    "field_too_short": ("太短。", "Too short."),
    "field_out_of_range": ("超出范围。", "Out of range."),
    "field_wrong_type": ("类型错误。", "Wrong type."),
    "too_large": ("太大。", "Too large."),
    "phone_invalid": ("手机号格式无效。", "Not a valid mainland mobile number."),
    "id_number_invalid": ("身份证号无效（校验位不符）。", "Invalid ID number (checksum)."),
    "id_number_duplicate": ("该身份证号已登记。", "This ID number is already registered."),
    "care_tag_unknown": ("未知的关怀标签。", "Unknown care tag."),
    "push_platform_unknown": ("未知的推送平台。", "Unknown push platform."),
    # territory import (GeoJSON)
    "import_invalid": (
        "导入文件有误，未导入任何数据。",
        "The import file has errors; nothing was imported.",
    ),
    "geojson_not_json": ("文件不是有效的 JSON。", "The file is not valid JSON."),
    "geojson_not_feature_collection": (
        "不是 GeoJSON 要素集合（FeatureCollection）。",
        "Not a GeoJSON FeatureCollection.",
    ),
    "geojson_crs_unsupported": (
        "仅支持 WGS84 坐标（EPSG:4326）。",
        "Only WGS84 coordinates (EPSG:4326) are supported.",
    ),
    "geojson_feature_invalid": ("不是有效的 GeoJSON 要素。", "Not a valid GeoJSON Feature."),
    "feature_kind_unknown": (
        "未知的要素类型（kind 应为 grid 或 household）。",
        "Unknown feature kind (expected grid or household).",
    ),
    "geometry_invalid": (
        "几何图形无效（为空、自相交或格式错误）。",
        "Invalid geometry (empty, self-intersecting or malformed).",
    ),
    "geometry_type_wrong": (
        "几何类型不符：网格应为面（Polygon/MultiPolygon），住户应为点（Point）。",
        "Wrong geometry type: a grid is a Polygon or MultiPolygon, a household a Point.",
    ),
    "coordinates_out_of_range": (
        "坐标超出 WGS84 范围（经度 -180~180，纬度 -90~90；顺序为经度、纬度）。",
        "Coordinates outside WGS84 (longitude -180..180 first, then latitude -90..90).",
    ),
    "grid_code_duplicate": (
        "网格编码重复或已存在。",
        "The grid code is repeated or already exists.",
    ),
    "grid_overlaps": ("网格与其他网格重叠。", "The grid overlaps another grid."),
    "grid_unknown": ("本社区没有该编码的网格。", "No grid with this code in the community."),
    "household_outside_grid": (
        "住户位置不在所指定的网格内。",
        "The household lies outside its grid.",
    ),
    "household_outside_grids": (
        "住户位置不在本社区任何网格内。",
        "The household lies outside every grid of the community.",
    ),
}


def message(code: str) -> str:
    zh, en = MESSAGES.get(code, MESSAGES["internal_error"])
    return en if (translation.get_language() or "zh-hans").startswith("en") else zh


class ApiError(Exception):
    """A refusal the caller can act on. `fields` maps a field name to a reason code."""

    status = 400

    def __init__(
        self, code: str, *, status: int | None = None, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        if status is not None:
            self.status = status
        self.fields = fields or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, {k: message(v) for k, v in self.fields.items()})


class NotFound(ApiError):
    """Missing and out of scope look the same (404), so nobody learns what exists."""

    status = 404

    def __init__(self) -> None:
        super().__init__("not_found")


def error_body(code: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message(code), "fields": fields or {}}}


def api_error_of(request: HttpRequest, exc: BaseException) -> ApiError:
    """The refusal a caller sees for `exc`: ours as raised, Django's by kind, anything else an
    internal error (logged here, with its traceback). Transports with a shape of their own
    (Open311) render this; the others answer `error_response`."""
    error = _mapped(exc)
    if error.status == 503:
        logger.warning("busy (%s) on %s %s", type(exc).__name__, request.method, request.path)
    elif error.status == 500 and error is not exc:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error


def error_response(request: HttpRequest, exc: BaseException) -> JsonResponse:
    """The JSON error for `exc` in the language already active for the request (Django's
    LocaleMiddleware sets it from Accept-Language)."""
    error = api_error_of(request, exc)
    response = JsonResponse(error.body(), status=error.status)
    if error.status == 503:
        response["Retry-After"] = "2"
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _mapped(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, Http404):
        return NotFound()
    if isinstance(exc, PermissionDenied):
        return ApiError("permission_denied", status=403)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        return ApiError("payload_too_large", status=413)
    if isinstance(exc, MultiPartParserError | UnreadablePostError | BadRequest):
        return ApiError("invalid_json")
    if isinstance(exc, SuspiciousOperation):
        return ApiError("validation_error")
    if _busy(exc):
        # Every database connection is taken (a burst) or SQLite's one writer held the lock
        # past its timeout: nothing was written, and phones and devices retry with the same
        # client id when told when.
        return ApiError("service_busy", status=503)
    return ApiError("internal_error", status=500)


def _busy(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout) or isinstance(exc.__cause__, PoolTimeout):
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)
