"""A refusal from the partner campaign workflow reads in the reader's language in the portal
(domain.refusals: the catalogue words travel in the error's details) while the API keeps the
English it always answered."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine
from temporalio.exceptions import ApplicationError

from core.said import Said, said
from domain import refusals
from i18n.context import speaking
from i18n.labels import state_word
from i18n.translate import translated
from services.workflow_updates import problem_from
from tests.approvals.test_chain_workflow import _portal_sign_in
from tests.campaigns.test_campaign_workflows import (
    EDITOR_AMS,
    Login,
    act,
    finish,
    launched,
    server_clock,  # noqa: F401  (autouse: the workflow server's clock)
    submit_content,
)
from tests.portal.test_portal import token_of


class _Failed(Exception):
    """Stands in for WorkflowUpdateFailedError: problem_from reads only its `cause`."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__("update failed")
        self.cause = cause


def _refusal(message: str, kind: str = "conflict") -> ApplicationError:
    details: dict[str, object] = {"kind": kind, "errors": []}
    if (words := refusals.carried(message)) is not None:
        details["said"] = words
    return ApplicationError(str(message), details, type=kind)


def test_the_words_travel_and_come_back_translatable() -> None:
    message = refusals.cannot("save", "approved")
    assert message == "Cannot save a partner campaign that is approved"  # the API's English
    problem = problem_from(_Failed(_refusal(message)), "save")  # type: ignore[arg-type]
    assert problem.status == 409 and problem.detail == message
    assert isinstance(problem.detail, Said)
    with speaking("nl"):
        assert translated(problem.detail) == (
            "Een partnercampagne die goedgekeurd is, kun je niet opslaan"
        )
    with speaking("de"):
        assert "freigegeben" in translated(problem.detail)
    stale = said(refusals.CHANGED, seen=3, now=4)
    back = problem_from(_Failed(_refusal(stale, "stale")), "decide")  # type: ignore[arg-type]
    with speaking("nl"):
        assert translated(back.detail).startswith("De inhoud is gewijzigd") and "nu 4" in (
            translated(back.detail)
        )


def test_plain_or_incoherent_words_stay_the_english_message() -> None:
    plain = problem_from(_Failed(_refusal("Cannot frobnicate")), "x")  # type: ignore[arg-type]
    assert not isinstance(plain.detail, Said) and plain.detail == "Cannot frobnicate"
    # Details that do not produce the message (an older worker, a garbled payload) are ignored.
    forged = ApplicationError(
        "Cannot save a partner campaign that is approved",
        {"said": {"message": "%(x)s {{ 7*7 }}", "values": {"x": "<script>"}}},
        type="conflict",
    )
    found = problem_from(_Failed(forged), "save")  # type: ignore[arg-type]
    assert not isinstance(found.detail, Said)
    assert refusals.rebuilt({"message": "%(missing)s", "values": {"other": 1}}) is None
    assert refusals.rebuilt({"message": "a", "values": {"x": [1]}}) is None
    word = refusals.rebuilt(refusals.carried(said("is %(s)s", s=state_word("approved"))))
    assert word == "is approved"


async def test_a_dutch_editor_reads_the_workflows_refusal_in_dutch(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    api = app_with_worker
    cid, pcid = await launched(api, login, demo)
    await submit_content(api, login, EDITOR_AMS, pcid)
    # The API: the English it always answered.
    refused = await act(api, login, EDITOR_AMS, pcid, "decline")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        "Cannot decline a partner campaign that is pending_approval"
    )
    portal = httpx.AsyncClient(transport=api._transport, base_url="https://test")  # type: ignore[attr-defined]
    async with portal:
        await _portal_sign_in(portal, EDITOR_AMS)
        form = await portal.get(f"/partner-campaigns/{pcid}")
        assert form.status_code == 200 and 'lang="nl"' in form.text
        page = await portal.post(
            f"/partner-campaigns/{pcid}/decline", data={"csrf_token": token_of(form.text)}
        )
    assert page.status_code == 409, page.text
    assert "Een partnercampagne die wacht op goedkeuring is, kun je niet afslaan" in page.text
    assert "Cannot decline" not in page.text
    await finish(api, login, demo, cid)
