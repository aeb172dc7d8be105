"""Running journeys on the time-skipping server: the birthday journey for Amsterdam (exactly
one message at 09:00 local, an unsubscribed contact exits mid-wait, a suppressed one gets
none), the sweep run twice enrols once, switching off and branches, and the journey clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from core.settings import Settings
from domain.journey_time import at_local, local_date, recurs_on, wait_until, zone
from domain.journeys import ActivationState, EnrolmentState, TriggerKind
from domain.states import DeliveryStatus
from models.audit import AuditEvent
from models.contacts import ConsentStatus, Suppression, SuppressionReason
from models.journey_spec import JourneySpec
from models.journeys import JourneyActivation
from scripts.demo.journeys import (
    birthday_contact,
    birthday_journey,
    birthday_spec,
    open_day_version,
)
from services.journeys import triggers
from tests.journeys.run_helpers import (
    enrolments,
    journey_worker,
    month_day,
    outbox_to,
    partner,
    sends,
    sweep,
)
from workflows.journey_contact import JourneyContactWorkflow
from workflows.journey_sweep import JourneySweepWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"
AMS = zone("Europe/Amsterdam")


def _tomorrow_in_amsterdam() -> date:
    """A day whose 09:00 is still ahead of the test server's clock."""
    return local_date(datetime.now(UTC), AMS) + timedelta(days=1)


def _minute(at: datetime | None) -> datetime:
    """The workflow's clock when the send ran, to the minute (a timer fires a few ms late)."""
    assert at is not None
    return at.replace(second=0, microsecond=0)


async def _results(env: WorkflowEnvironment, workflow_ids: dict[int, str]) -> dict[int, str]:
    """Past every timer of the tests (three days), then each run's result: a handle got by id
    does not skip time itself."""
    await env.sleep(timedelta(days=3))
    return {
        key: await env.client.get_workflow_handle(wid).result() for key, wid in workflow_ids.items()
    }


# The journey's clock -----------------------------------------------------------------------


def test_a_date_recurs_on_its_month_and_day_and_29_february_on_28_february() -> None:
    assert recurs_on("1990-12-04", date(2026, 12, 4))
    assert not recurs_on("1990-12-05", date(2026, 12, 4))
    assert recurs_on("2000-02-29", date(2027, 2, 28))  # no 29th in 2027
    assert not recurs_on("2000-02-29", date(2028, 2, 28))  # 2028 has one
    assert recurs_on("2000-02-29", date(2028, 2, 29))
    assert not recurs_on("not a date", date(2026, 12, 4))
    assert not recurs_on(19901204, date(2026, 12, 4))


def test_waits_keep_the_local_time_across_a_summer_time_change() -> None:
    # Saturday 28 March 2026 10:00 in Amsterdam (CET, UTC+1); summer time starts on the 29th.
    start = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    a_day = wait_until(start, 1, None, AMS)
    assert a_day == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # 10:00 CEST
    at_nine = wait_until(start, 2, time(9, 0), AMS)
    assert at_nine == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    # Only a time: today's when still ahead, else tomorrow's.
    assert wait_until(start, None, time(11, 0), AMS) == datetime(2026, 3, 28, 10, 0, tzinfo=UTC)
    assert wait_until(start, None, time(9, 0), AMS) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert at_local(date(2026, 12, 4), time(9, 0), AMS) == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def test_the_date_trigger_considers_existing_contacts_and_the_created_trigger_only_new_ones(
    demo: Engine,
) -> None:
    day = date(2026, 12, 4)
    now = at_local(day, time(0, 30), AMS)
    with Session(demo) as s:
        ams = partner(s)
        act = birthday_journey(s, ams, now=now)
        early = birthday_contact(s, ams, "early@example.net", "1985-12-04")
        birthday_contact(s, ams, "other@example.net", "1985-12-05")
        birthday_contact(s, ams, "denied@example.net", "1985-12-04", consent=ConsentStatus.denied)
        s.commit()
        running = triggers.load_running(s, act.id or 0)
        assert running is not None
        page = triggers.due_page(s, running, now)
        assert [(d.contact_id, d.occurrence) for d in page.due] == [(early.id, "2026-12-04")]
        assert page.due[0].not_before == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
        # Switched on now: "created" welcomes only contacts added from now on.
        created = running.spec.model_copy(
            update={
                "trigger": running.spec.trigger.model_copy(
                    update={"kind": TriggerKind.contact_created}
                )
            }
        )
        switched = running.activation.model_copy(update={"approved_at": datetime.now(UTC)})
        later = triggers.Running(switched, created, running.partner)
        late = birthday_contact(s, ams, "late@example.net", "1985-01-01")
        s.commit()
        page = triggers.due_page(s, later, now)
        assert [(d.contact_id, d.occurrence) for d in page.due] == [(late.id, "signup")]


# The birthday journey -----------------------------------------------------------------------


async def test_birthday_journey_for_amsterdam_sends_exactly_one_message_at_nine_local(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    settings: Settings,
    record_history: Callable[[str, str], Awaitable[None]],
) -> None:
    day = _tomorrow_in_amsterdam()
    at = at_local(day, time(0, 5), AMS)  # the sweep's tick just after midnight
    with Session(demo) as s:
        ams = partner(s)
        act = birthday_journey(s, ams)
        born = month_day(day)
        anouk = birthday_contact(s, ams, "anouk@example.net", born, name="Anouk Visser")
        other = birthday_contact(s, ams, "not-today@example.net", month_day(day + timedelta(1)))
        leaving = birthday_contact(s, ams, "leaving@example.net", born)
        bounced = birthday_contact(s, ams, "bounced@example.net", born)
        s.add(
            Suppression(
                brand_id=ams.brand_id, email="bounced@example.net", reason=SuppressionReason.bounced
            )
        )
        s.commit()
        ids = {c.email: c.id for c in (anouk, other, leaving, bounced)}
        brand_id = act.brand_id
    client = workflow_env.client
    async with journey_worker(client, demo, settings) as queue:
        first = await sweep(workflow_env, queue, at)
        assert (first.activations, first.enrolled, first.started) == (1, 3, 3)
        again = await sweep(workflow_env, queue, at)  # the next tick: nobody enrolled twice
        assert (again.enrolled, again.started) == (0, 0)
        rows = {e.contact_id: e for e in enrolments(demo)}
        assert set(rows) == {ids["anouk@example.net"], ids["leaving@example.net"],
                             ids["bounced@example.net"]}  # fmt: skip
        # While they wait for 09:00 the contact unsubscribes (the link adds the suppression).
        with Session(demo) as s:
            s.add(
                Suppression(
                    brand_id=brand_id,
                    email="leaving@example.net",
                    reason=SuppressionReason.unsubscribed,
                )
            )
            s.commit()
        outcomes = await _results(workflow_env, {cid: e.workflow_id for cid, e in rows.items()})
    assert outcomes == {
        ids["anouk@example.net"]: "completed",
        ids["leaving@example.net"]: "exited:unsubscribed",
        ids["bounced@example.net"]: "completed",
    }
    (message,) = outbox_to(demo)  # one message in all, Anouk's
    assert "anouk@example.net" in message
    ledger = {r.contact_id: r for r in sends(demo)}
    assert set(ledger) == {ids["anouk@example.net"], ids["bounced@example.net"]}
    sent = ledger[ids["anouk@example.net"]]
    assert sent.status == DeliveryStatus.sent and sent.occurrence == day.isoformat()
    assert _minute(sent.sent_at) == at_local(day, time(9, 0), AMS)
    assert _minute(sent.sent_at).astimezone(AMS).time() == time(9, 0)
    if day.month in (12, 1, 2):  # winter: 09:00 in Amsterdam is 08:00 UTC
        assert _minute(sent.sent_at).astimezone(UTC).time() == time(8, 0)
    assert ledger[ids["bounced@example.net"]].status == DeliveryStatus.suppressed
    ended = {e.contact_id: (e.state, e.exit_reason, e.step_id) for e in enrolments(demo)}
    assert ended[ids["leaving@example.net"]] == (EnrolmentState.exited, "unsubscribed", "greet")
    assert ended[ids["anouk@example.net"]] == (EnrolmentState.completed, "", "done")
    with Session(demo) as s:
        audited = s.exec(
            select(AuditEvent.action).where(AuditEvent.entity_type == "journeyenrolment")
        ).all()
    assert sorted(audited) == [
        "journey.enrolment.completed",
        "journey.enrolment.completed",
        "journey.enrolment.exited",
    ]
    await record_history(rows[ids["anouk@example.net"]].workflow_id, "journey_birthday")


async def test_switching_off_makes_waiting_contacts_exit_and_enrols_nobody_new(
    workflow_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    day = _tomorrow_in_amsterdam()
    at = at_local(day, time(0, 5), AMS)
    with Session(demo) as s:
        ams = partner(s)
        act = birthday_journey(s, ams)
        birthday_contact(s, ams, "waiting@example.net", month_day(day))
        s.commit()
        act_id = act.id
    client = workflow_env.client
    async with journey_worker(client, demo, settings) as queue:
        assert (await sweep(workflow_env, queue, at)).started == 1
        with Session(demo) as s:
            row = s.get(JourneyActivation, act_id)
            assert row is not None
            row.state = ActivationState.off
            s.add(row)
            s.commit()
            birthday_contact(s, partner(s), "later@example.net", month_day(day))
            s.commit()
        (only,) = enrolments(demo)
        assert await _results(workflow_env, {0: only.workflow_id}) == {0: "exited:switched_off"}
        assert (await sweep(workflow_env, queue, at)).activations == 0
    assert sends(demo) == [] and outbox_to(demo) == []


async def test_a_branch_on_an_attribute_takes_its_way_and_one_on_opens_is_refused(
    workflow_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    day = _tomorrow_in_amsterdam()
    at = at_local(day, time(0, 5), AMS)
    with Session(demo) as s:
        ams = partner(s)
        version = open_day_version(s, ams.brand_id)
        spec = JourneySpec.model_validate(
            {
                "trigger": {"kind": "date_attribute", "attribute": "birthday"},
                "entry": "member",
                "steps": [
                    {"id": "member", "kind": "branch", "on": "attribute", "attribute": "tier",
                     "equals": "gold", "then": "wait", "otherwise": "opened"},
                    {"id": "wait", "kind": "wait", "days": 1, "until_local_time": "10:00",
                     "next": "greet"},
                    {"id": "greet", "kind": "send", "template_version_id": version.id,
                     "next": "done"},
                    {"id": "opened", "kind": "branch", "on": "opened", "then": "done",
                     "otherwise": "done"},
                    {"id": "done", "kind": "end"},
                ],
            }
        )  # fmt: skip
        birthday_journey(s, ams, spec, key="tiers")
        gold = birthday_contact(s, ams, "gold@example.net", month_day(day))
        gold.attributes = {**gold.attributes, "tier": "gold"}
        s.add(gold)
        birthday_contact(s, ams, "plain@example.net", month_day(day))
        s.commit()
        gold_id = gold.id
    client = workflow_env.client
    async with journey_worker(client, demo, settings) as queue:
        assert (await sweep(workflow_env, queue, at)).started == 2
        outcomes = await _results(
            workflow_env, {e.contact_id or 0: e.workflow_id for e in enrolments(demo)}
        )
    assert sorted(outcomes.values()) == ["completed", "exited:branch_unsupported"]
    assert outcomes[gold_id] == "completed"
    (sent,) = sends(demo)
    assert sent.contact_id == gold_id and sent.step_id == "greet"
    # The day after the birthday, 10:00 local (the wait), not the trigger's 09:00.
    assert _minute(sent.sent_at) == at_local(day + timedelta(days=1), time(10, 0), AMS)


async def test_the_birthday_history_replays() -> None:
    history = WorkflowHistory.from_json(
        "journey-birthday", (HISTORIES / "journey_birthday.json").read_text()
    )
    await Replayer(
        workflows=[JourneyContactWorkflow, JourneySweepWorkflow],
        data_converter=pydantic_data_converter,
    ).replay_workflow(history)


async def test_a_send_due_in_quiet_hours_goes_when_they_end(
    workflow_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    day = _tomorrow_in_amsterdam()
    with Session(demo) as s:
        ams = partner(s)
        version = open_day_version(s, ams.brand_id)
        birthday_journey(s, ams, birthday_spec(version.id or 0, local_time="22:30"))
        birthday_contact(s, ams, "late@example.net", month_day(day))
        s.commit()
    client = workflow_env.client
    async with journey_worker(client, demo, settings) as queue:
        assert (await sweep(workflow_env, queue, at_local(day, time(0, 5), AMS))).started == 1
        (only,) = enrolments(demo)
        assert await _results(workflow_env, {0: only.workflow_id}) == {0: "completed"}
    (sent,) = sends(demo)
    # Quiet from 21:00 to 08:00 (JOURNEY_QUIET_START/END): the next morning at 08:00.
    assert _minute(sent.sent_at) == at_local(
        day + timedelta(days=1), settings.journey_quiet_end, AMS
    )
    assert outbox_to(demo) == ["late@example.net"]


def test_the_demo_seeds_amsterdam_s_birthday_journey_once(demo: Engine) -> None:
    from models.contacts import Contact
    from scripts.demo.journeys import DEMO_BIRTHDAYS, seed_demo_journeys

    for _ in range(2):
        with Session(demo) as s:
            seed_demo_journeys(s)
            s.commit()
    with Session(demo) as s:
        ams = partner(s)
        (activation,) = s.exec(select(JourneyActivation)).all()
        assert activation.partner_id == ams.id and activation.state == ActivationState.active
        running = triggers.load_running(s, activation.id or 0)
        assert running is not None
        due = triggers.due_page(s, running, datetime.now(UTC)).due
        emails = {s.get(Contact, d.contact_id).email for d in due}  # type: ignore[union-attr]
    assert emails == {email for email, _, _ in DEMO_BIRTHDAYS}
