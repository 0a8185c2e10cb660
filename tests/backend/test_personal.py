"""The one masking of names and the one age."""

from __future__ import annotations

from datetime import date

import time_machine

from backend.core.personal import age_on, mask_name


def test_a_masked_name_keeps_its_first_character_and_length() -> None:
    assert [mask_name(n) for n in ("张桂英", "欧阳建国", "李", "")] == ["张**", "欧***", "李", ""]


def test_age_counts_full_years_and_today_is_local() -> None:
    born = date(1940, 5, 6)
    assert (age_on(born, date(2026, 5, 5)), age_on(born, date(2026, 5, 6))) == (85, 86)
    assert age_on(date(2000, 2, 29), date(2025, 2, 28)) == 24
    # 2026-05-05 23:30 UTC is already 05-06 in Asia/Shanghai: the birthday has come.
    with time_machine.travel("2026-05-05 23:30:00+00:00", tick=False):
        assert age_on(born) == 86
