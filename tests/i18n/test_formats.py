"""Times as people read and type them: in their zone and language, stored as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from i18n import formats
from i18n.context import speaking


def test_amsterdam_nine_in_winter_is_eight_utc_and_reads_back_as_nine() -> None:
    moment = formats.from_input("2027-01-15T09:00", "Europe/Amsterdam")
    assert moment == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    with speaking("nl", "Europe/Amsterdam"):
        assert formats.input_value(moment) == "2027-01-15T09:00"
        assert formats.when(moment) == "15 jan 2027, 09:00"
        assert formats.clock(moment) == "09:00"
    with speaking("de", "Europe/Berlin"):
        assert formats.when(moment) == "15.01.2027, 09:00"
        assert formats.day(date(2027, 1, 15)) == "15.01.2027"
    with speaking("en", "UTC"):
        assert formats.when(moment) == "15 Jan 2027, 08:00"


def test_summer_time_moves_the_offset() -> None:
    assert formats.from_input("2027-07-15T09:00", "Europe/Amsterdam") == datetime(
        2027, 7, 15, 7, 0, tzinfo=UTC
    )


def test_clock_changes_have_one_answer() -> None:
    # 02:30 on 28 March 2027 does not exist in Amsterdam: the clock jumps to 03:00.
    spring = formats.from_input("2027-03-28T02:30", "Europe/Amsterdam")
    assert spring == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    # 02:30 on 31 October 2027 happens twice: the first (summer time) is meant.
    autumn = formats.from_input("2027-10-31T02:30", "Europe/Amsterdam")
    assert autumn == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["", "tomorrow", "2027-13-01T09:00", "09:00"])
def test_text_that_is_no_time_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        formats.from_input(raw, "Europe/Amsterdam")


def test_a_datetime_becomes_its_local_day_and_numbers_their_locale() -> None:
    late = datetime(2027, 1, 15, 23, 30, tzinfo=UTC)
    with speaking("nl", "Europe/Amsterdam"):
        assert formats.day(late) == "16 jan 2027"
        assert formats.number(12345.5) == "12.345,5"
    with speaking("en", "UTC"):
        assert formats.day(late) == "15 Jan 2027"
        assert formats.number(12345.5) == "12,345.5"


def test_the_zone_is_named() -> None:
    with speaking("nl", "Europe/Amsterdam"):
        assert "Europe/Amsterdam" in formats.zone_name()
    assert formats.zone_name("UTC") == "UTC"
