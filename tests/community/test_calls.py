"""Voice calls for residents without smartphones, against the Aliyun stand-in driven by the real
dyvmsapi SDK: a poll read out (keypress N = option N, one vote per household or adult kept, a
secret poll's keypress joined to nobody) and a hearing invitation (keypress 1 = attend)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from backend.community.actions import close_poll
from backend.community.models import CommunityCall, HearingParticipant, PollOption, PollVoter
from backend.notify import outbox
from backend.notify.models import OutboxMessage, ProviderCallback
from backend.people.models import Resident
from tests.conftest import _resident
from tests.notify.aliyun_standin import AliyunStandIn
from tests.notify.conftest import CALLBACK_TOKENS

from .conftest import Life, grids, hearing, poll

pytestmark = pytest.mark.django_db


def elder(life: Life, name: str, phone: str, born: date = date(1944, 2, 3)) -> Resident:
    """A resident of grid A's second household, with a basic mobile phone and no app."""
    resident = _resident(life.household_a2, name, born, ["aged_60"])
    Resident.objects.filter(pk=resident.pk).update(phone=phone)
    resident.refresh_from_db()
    return resident


def report(items: list[dict[str, Any]]) -> Any:
    """Aliyun's voice report push (call status and the key pressed) to our callback."""
    token = CALLBACK_TOKENS["aliyun-voice"]
    return Client().post(
        f"/api/v1/notify/callbacks/aliyun/voice?token={token}",
        items,
        content_type="application/json",
    )


def dispatch() -> None:
    """What a dispatcher does with the outbox: send what is due (the calls)."""
    while outbox.send_due():
        pass


def call_id(call: CommunityCall) -> str:
    return OutboxMessage.objects.get(pk=call.message_id or 0).provider_message_id


def test_a_poll_read_out_keypress_n_votes_option_n_once_per_household(
    life: Life, client_for: Any, aliyun: AliyunStandIn
) -> None:
    zhao = elder(life, "赵德福", "13700000011")
    made = poll(life.supervisor_1, grids(life.grid_a.pk))
    worker = client_for(life.worker_a)
    url = f"/api/v1/community/polls/{made.pk}/voice-calls"
    # Residents do not place calls; grid B's worker does not see the poll (404).
    assert client_for(life.resident_user_a).post(url, {}).status_code == 403
    assert client_for(life.worker_b).post(url, {}).status_code == 404
    # By default: every household on the roll without the app (household A has it).
    placed = worker.post(url, {})
    assert placed.status_code == 200, placed.content
    assert placed.json() == {
        "called": 1,
        "skipped_voted": 0,
        "skipped_no_phone": 0,
        "skipped_called": 0,
    }
    dispatch()
    [ivr] = aliyun.calls("IvrCall")
    assert ivr.params["CalledNumber"] == "13700000011"
    assert ivr.params["StartCode"] == "TTS_280021"
    assert json.loads(ivr.params["StartTtsParams"]) == {
        "place": "幸福社区",
        "question": "幸福小区1栋是否加装电梯？",
        "options": "同意请按1，不同意请按2，弃权请按3",
    }
    keys = [ivr.params.get(f"MenuKeyMap.{i}.Key") for i in range(1, 5)]
    assert keys == ["1", "2", "3", None]
    assert ivr.params["MenuKeyMap.2.Code"] == "TTS_280022"
    call = CommunityCall.objects.get(resident=zhao)
    assert call.state == "called"
    # He answers and presses 2: his household's vote for option 2, recorded through the call.
    item = {"call_id": call_id(call), "status_code": "200000", "dtmf": "2"}
    assert report([item]).status_code == 200
    voter = PollVoter.objects.get(poll=made)
    assert (voter.channel, voter.household_id, voter.option.label) == (  # type: ignore[union-attr]
        "voice",
        life.household_a2.pk,
        "不同意",
    )
    assert voter.recorded_by == life.worker_a
    call.refresh_from_db()
    assert (call.state, call.outcome) == ("done", "")
    # The same report again, or a second key on the same call, changes nothing.
    assert report([item]).status_code == 200
    assert report([{"call_id": call_id(call), "dtmf": "1"}]).status_code == 200
    assert [o.votes for o in PollOption.objects.filter(poll=made)] == [0, 1, 0]
    # The household has voted: not called again, even when named.
    again = worker.post(url, {"resident_ids": [zhao.pk]}).json()
    assert (again["called"], again["skipped_voted"]) == (0, 1)
    # Named: a resident outside the worker's grids is 404 like a missing one.
    assert worker.post(url, {"resident_ids": [life.resident_b.pk]}).status_code == 404
    assert worker.post(url, {"resident_ids": [987654321]}).status_code == 404
    # Household A (which has the app) asked for a call: it votes by keypress 3 ...
    assert worker.post(url, {"resident_ids": [life.resident_a.pk]}).json()["called"] == 1
    dispatch()
    second = CommunityCall.objects.get(resident=life.resident_a)
    report([{"call_id": call_id(second), "status_code": "200000", "dtmf": "3"}])
    assert [o.votes for o in PollOption.objects.filter(poll=made)] == [0, 1, 1]
    # ... and then its app vote is refused: one vote per household, whatever the channel.
    option = PollOption.objects.get(poll=made, position=0)
    app = client_for(life.resident_user_a).post(
        f"/api/v1/community/polls/{made.pk}/votes", {"option_id": option.pk}
    )
    assert app.status_code == 409 and app.json()["error"]["code"] == "poll_already_voted"
    results = client_for(life.supervisor_1).get(f"/api/v1/community/polls/{made.pk}/results")
    assert results.json()["voters"] == 2


def test_a_secret_poll_by_voice_keeps_no_link_from_the_keypress_to_the_voter(
    life: Life, client_for: Any, aliyun: AliyunStandIn
) -> None:
    zhao = elder(life, "赵德福", "13700000011")
    qian = elder(life, "钱秀英", "13700000012")
    made = poll(life.supervisor_1, grids(life.grid_a.pk), secret=True, unit="adult")
    url = f"/api/v1/community/polls/{made.pk}/voice-calls"
    # Per adult: both elders of the household are called (resident A has the app).
    assert client_for(life.worker_a).post(url, {}).json()["called"] == 2
    dispatch()
    by_resident = {c.resident_id: c for c in CommunityCall.objects.filter(poll=made)}
    zhao_call = call_id(by_resident[zhao.pk])
    report([{"call_id": zhao_call, "status_code": "200000", "dtmf": "2"}])
    assert [o.votes for o in PollOption.objects.filter(poll=made)] == [0, 1, 0]
    # Try to join the keypress to the voter: nothing stored names the key pressed.
    voter = PollVoter.objects.get(poll=made)
    assert (voter.resident_id, voter.option_id, voter.channel) == (zhao.pk, None, "voice")
    assert list(ProviderCallback.objects.values_list("key", flat=True)) == [
        f"voice:{zhao_call}:200000:key"
    ]
    message = OutboxMessage.objects.get(pk=by_resident[zhao.pk].message_id or 0)
    stored = json.dumps([message.params, message.outcome, message.last_error], ensure_ascii=False)
    assert "不同意" not in stored.replace("不同意请按2", "") and "dtmf" not in stored
    row = CommunityCall.objects.filter(pk=by_resident[zhao.pk].pk).values().get()
    assert row["state"] == "done" and row["outcome"] == ""
    assert not {"option", "option_id", "digit", "key", "dtmf"} & set(row)
    # The poll closes; a key pressed after that is refused and counts nothing.
    with transaction.atomic():
        assert close_poll(made.pk)
    report([{"call_id": call_id(by_resident[qian.pk]), "status_code": "200000", "dtmf": "1"}])
    late = CommunityCall.objects.get(pk=by_resident[qian.pk].pk)
    assert (late.state, late.outcome) == ("refused", "poll_closed")
    assert [o.votes for o in PollOption.objects.filter(poll=made)] == [0, 1, 0]
    assert PollVoter.objects.filter(poll=made).count() == 1


def test_a_hearing_invitation_by_voice_keypress_1_registers(
    life: Life, client_for: Any, aliyun: AliyunStandIn
) -> None:
    zhao = elder(life, "赵德福", "13700000011")
    made = hearing(life.supervisor_1, grids(life.grid_a.pk))
    worker = client_for(life.worker_a)
    url = f"/api/v1/community/hearings/{made.pk}/voice-calls"
    assert worker.post(url, {}).json() == {
        "called": 1,
        "skipped_registered": 0,
        "skipped_no_phone": 0,
        "skipped_called": 0,
    }
    dispatch()
    [ivr] = aliyun.calls("IvrCall")
    assert ivr.params["StartCode"] == "TTS_280031"
    spoken = json.loads(ivr.params["StartTtsParams"])
    assert (spoken["kind"], spoken["title"], spoken["venue"]) == (
        "听证会",
        "棚户区改造方案听证会",
        "幸福社区居委会二楼会议室",
    )
    assert ivr.params["MenuKeyMap.1.Key"] == "1" and ivr.params["MenuKeyMap.1.Code"] == "TTS_280032"
    assert "MenuKeyMap.2.Key" not in ivr.params
    # Not answered: the call may be placed again; a call still live may not.
    first = CommunityCall.objects.get(hearing=made)
    report([{"call_id": call_id(first), "status_code": "200005", "dtmf": ""}])
    first.refresh_from_db()
    assert first.state == "no_answer"
    assert worker.post(url, {}).json()["called"] == 1
    assert worker.post(url, {}).json()["skipped_called"] == 1
    dispatch()
    second = CommunityCall.objects.filter(hearing=made).latest("pk")
    report([{"call_id": call_id(second), "status_code": "200000", "dtmf": "1"}])
    participant = HearingParticipant.objects.get(hearing=made, household=life.household_a2)
    assert participant.registered_at is not None and participant.registered_via == "voice"
    assert (participant.resident_id, participant.registered_by) == (zhao.pk, life.worker_a)
    # Registered: not called again; the worker sees it as any registration.
    assert worker.post(url, {"household_ids": [life.household_a2.pk]}).json() == {
        "called": 0,
        "skipped_registered": 1,
        "skipped_no_phone": 0,
        "skipped_called": 0,
    }
    assert worker.post(url, {"household_ids": [life.household_b.pk]}).status_code == 404


def test_what_cannot_be_read_out_is_refused_and_changes_nothing(
    life: Life, client_for: Any, aliyun: AliyunStandIn
) -> None:
    elder(life, "赵德福", "13700000011")
    worker = client_for(life.worker_a)
    long_question = poll(life.supervisor_1, grids(life.grid_a.pk))
    long_question.title, long_question.question = "议" * 36, "问" * 36
    long_question.save(update_fields=["title", "question"])
    unfit = worker.post(
        f"/api/v1/community/polls/{long_question.pk}/voice-calls", {}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert unfit.status_code == 422
    assert unfit.json()["error"]["code"] == "voice_text_too_long"
    assert list(unfit.json()["error"]["fields"]) == ["question"]
    draft = poll(life.supervisor_1, grids(life.grid_a.pk), open=False)
    # A draft has no roll yet: the worker does not see it; its author may not call on it.
    assert worker.post(f"/api/v1/community/polls/{draft.pk}/voice-calls", {}).status_code == 404
    supervisor = client_for(life.supervisor_1)
    closed = supervisor.post(f"/api/v1/community/polls/{draft.pk}/voice-calls", {})
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "poll_closed"
    assert not CommunityCall.objects.exists() and not OutboxMessage.objects.exists()
