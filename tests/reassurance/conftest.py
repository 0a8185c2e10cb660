"""The Aliyun voice stand-in of tests/notify, driven by the real dyvmsapi SDK, with the
reassurance call's TTS codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.notify import sms, voice
from tests.notify.aliyun_standin import AliyunStandIn
from tests.notify.conftest import ALIYUN_KEY, ALIYUN_SECRET, VOICE_CODES, aliyun_settings

REASSURANCE_CODES = {"reassurance_call": "TTS_290001", "reassurance_call.key_1": "TTS_290011"}


@pytest.fixture
def aliyun(settings: Any) -> Iterator[AliyunStandIn]:
    standin = AliyunStandIn(ALIYUN_KEY, ALIYUN_SECRET).start()
    for name, value in aliyun_settings(standin.endpoint).items():
        setattr(settings, name, value)
    settings.VOICE_TEMPLATE_CODES = {**VOICE_CODES, **REASSURANCE_CODES}
    yield standin
    sms.reset_backends()
    voice.reset_backends()
    standin.stop()
    assert not standin.refused, standin.refused
