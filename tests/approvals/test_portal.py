"""The portal's approval pages without a browser: the policy list and editor (stages as a form,
the diagram of the form, refusals next to their fields, versions, archiving), delegation in the
user's settings, the stage and who decides in the inbox, escaping of names people typed, and
the boundaries between brands and roles."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.portal.policy_form import field_key
from approvals.policy import Approver, ApproverRole, PolicySpec, Stage
from core.settings import Settings
from core.temporal import LazyTemporalClient
from domain.money import ChainSubject
from models.approvals import ApprovalPolicy, ApprovalPolicyVersion, Delegation
from models.base import utcnow
from models.campaigns import ApprovalTask
from models.chain_tasks import ChainTask
from models.org import Brand, Partner, User
from scripts.demo.approvals import STANDARD, seed_demo_approvals
from storage.local import LocalBlobStore
from tests.campaigns.test_campaigns_api import Ids, add_partner_campaign, add_task, create
from tests.portal.test_portal import sign_in

ADMIN = "admin@northwind.example"
REVIEWER = "brand@northwind.example"
STAND_IN = "ops@northwind.example"
XSS = "<script>alert(1)</script>"
SSTI = "{{7*7}}"


@pytest.fixture
def portal(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    """The demo with Northwind's Standard policy and brand@'s holiday delegation to ops@, and
    a browser-like client (https, no auto-redirects)."""
    with Session(demo) as s:
        seed_demo_approvals(s)
        s.commit()
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _stage(i: int, **fields: Any) -> dict[str, Any]:
    """One stage's form fields (`stages-{i}-...`)."""
    out: dict[str, Any] = {f"stages-{i}-timeout_count": "0"}
    for key, value in fields.items():
        out[f"stages-{i}-{key}"] = value
    return out


def _form(token: str, *stages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"csrf_token": token, "stage_count": str(len(stages)), "op": "save"}
    for stage in stages:
        data.update(stage)
    data.update(extra)
    return data


def _two_stages() -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        _stage(
            0,
            name="gm",
            label="The GM",
            roles=["partner_gm"],
            rule="any",
            timeout_count="1",
            **{"timeouts-0-after": "2", "timeouts-0-unit": "days", "timeouts-0-action": "remind"},
        ),
        _stage(
            1,
            name="hq",
            label="Brand review",
            roles=["brand_reviewer"],
            rule="all",
            when_fact="audience_size",
            when_op="gt",
            when_value="100",
        ),
    )


def _policy_id(demo: Engine, name: str, brand: str = "northwind") -> int:
    with Session(demo) as s:
        b = s.exec(select(Brand).where(Brand.slug == brand)).one()
        row = s.exec(
            select(ApprovalPolicy).where(
                ApprovalPolicy.brand_id == b.id, ApprovalPolicy.name == name
            )
        ).one()
        return row.id or 0


def _versions(demo: Engine, policy_id: int) -> list[PolicySpec]:
    with Session(demo) as s:
        rows = s.exec(
            select(ApprovalPolicyVersion)
            .where(ApprovalPolicyVersion.policy_id == policy_id)
            .order_by(ApprovalPolicyVersion.number)  # type: ignore[arg-type]
        ).all()
        return [PolicySpec.model_validate(r.spec) for r in rows]


def _user_id(demo: Engine, email: str) -> int:
    with Session(demo) as s:
        return s.exec(select(User).where(User.email == email)).one().id or 0


def _near(html: str, anchor: str, text: str) -> bool:
    """The message `text` sits in the element with id `anchor` (next to its input)."""
    found = re.search(rf'id="{re.escape(anchor)}">([^<]*)<', html)
    return bool(found and text in found.group(1))


# The list and the navigation -------------------------------------------------------------------


def test_hq_sees_the_brand_policies_and_the_built_ins(portal: TestClient) -> None:
    sign_in(portal, REVIEWER)
    page = portal.get("/approval-policies")
    assert page.status_code == 200, page.text[:500]
    assert 'href="/approval-policies"' in page.text  # in the navigation
    assert STANDARD in page.text and "The club&#39;s GM" in page.text
    assert "The GM, then HQ" in page.text and "gm_then_hq" in page.text
    assert "New policy" not in page.text  # reviewers read, admins manage
    builtin = portal.get("/approval-policies/built-in/gm_then_hq")
    assert builtin.status_code == 200 and "Brand review" in builtin.text
    assert "flowchart TD" in builtin.text
    assert portal.get("/approval-policies/built-in/nope").status_code == 404


def test_partners_have_no_policy_pages_nor_link(portal: TestClient) -> None:
    sign_in(portal, "gm.amsterdam@northwind.example")
    assert 'href="/approval-policies"' not in portal.get("/inbox").text
    for path in ("/approval-policies", "/approval-policies/new", "/approval-policies/1"):
        assert portal.get(path).status_code in (403, 404), path


# Creating, refusing, versioning, archiving -----------------------------------------------------


def test_admin_creates_a_two_stage_policy_through_the_form(
    portal: TestClient,
    demo: Engine,
) -> None:
    token = sign_in(portal, ADMIN)
    page = portal.get("/approval-policies/new")
    assert page.status_code == 200 and 'name="stages-0-name"' in page.text
    resp = portal.post(
        "/approval-policies",
        data=_form(token, *_two_stages(), name="Large sends", distinct_deciders="on"),
    )
    assert resp.status_code == 303, resp.text[:2000]
    policy_id = _policy_id(demo, "Large sends")
    assert resp.headers["location"] == f"/approval-policies/{policy_id}?done=created"
    (spec,) = _versions(demo, policy_id)
    assert [s.name for s in spec.stages] == ["gm", "hq"]
    assert spec.distinct_deciders is True
    assert spec.stages[0].timeouts[0].after == 2 * 86400
    assert spec.stages[1].when is not None and spec.stages[1].when.value == 100
    shown = portal.get(resp.headers["location"])
    assert "Brand review" in shown.text and "audience size above 100" in shown.text
    assert "Version 1" in shown.text and "Policy saved" in shown.text


def test_a_refused_save_keeps_the_input_and_marks_each_field(
    portal: TestClient,
    demo: Engine,
) -> None:
    token = sign_in(portal, ADMIN)
    admin, reviewer = _user_id(demo, ADMIN), _user_id(demo, REVIEWER)
    data = _form(
        token,
        _stage(
            0,
            name="named",
            label="Two named",
            users=[str(admin), str(reviewer)],
            rule="quorum",
            quorum="3",
        ),
        _stage(1, name="empty", label="Nobody here", rule="any"),
        name="Broken",
    )
    resp = portal.post("/approval-policies", data=data)
    assert resp.status_code == 422, resp.text[:1000]
    html = resp.text
    assert "Nothing was saved" in html
    assert _near(html, "f-stages-0-quorum", "3 approvals from 2 named approvers")
    assert _near(html, "f-stages-1-approvers", "name at least one approver")
    assert 'href="#f-stages-0-quorum"' in html and 'href="#f-stages-1-approvers"' in html
    assert (
        'id="stages-0-quorum" name="stages-0-quorum" type="number" min="1" max="50" value="3"'
        in (html)
    )
    assert 'value="Nobody here"' in html and 'value="Broken"' in html
    assert f'<option value="{admin}" selected>' in html
    assert "flowchart TD" in html  # the diagram of what was typed stays on the page
    long = portal.post("/approval-policies", data=_form(token, *_two_stages(), name="x" * 101))
    assert long.status_code == 422 and _near(long.text, "f-name", "at most 100 characters")
    with Session(demo) as s:
        assert s.exec(select(ApprovalPolicy).where(ApprovalPolicy.name == "Broken")).first() is None


def test_shape_errors_land_next_to_their_fields(portal: TestClient) -> None:
    token = sign_in(portal, ADMIN)
    data = _form(
        token,
        _stage(
            0,
            name="Bad Name",
            roles=["partner_gm"],
            when_fact="audience_size",
            when_op="gt",
            when_value="many",
            timeout_count="1",
            **{"timeouts-0-after": "1", "timeouts-0-unit": "days", "timeouts-0-action": "escalate"},
        ),
        name="Shapes",
    )
    html = portal.post("/approval-policies", data=data).text
    assert 'id="f-stages-0-when' in html  # the value is not a number
    data["stages-0-when_value"] = "50"
    html = portal.post("/approval-policies", data=data).text
    assert _near(html, "f-stages-0-name", "lower-case letters")
    assert _near(html, "f-stages-0-timeouts-0-to", "say whom the stage escalates to")


def test_add_remove_and_move_stages_without_javascript(portal: TestClient) -> None:
    token = sign_in(portal, ADMIN)
    first, second = _two_stages()
    data = _form(token, first, second, name="Moves")
    added = portal.post("/approval-policies", data={**data, "op": "add"})
    assert added.status_code == 200 and 'name="stages-2-name"' in added.text
    moved = portal.post("/approval-policies", data={**data, "op": "up:1"})
    assert moved.text.index('value="hq"') < moved.text.index('value="gm"')
    removed = portal.post("/approval-policies", data={**data, "op": "remove:0"})
    assert 'value="gm"' not in removed.text and 'name="stages-1-name"' not in removed.text
    assert 'value="Moves"' in removed.text  # the rest of the input stays


def test_live_diagram_preview(portal: TestClient) -> None:
    token = sign_in(portal, REVIEWER)  # reading is enough to preview
    data = _form(token, *_two_stages())
    frag = portal.post("/approval-policies/preview", data=data, headers={"HX-Request": "true"})
    assert frag.status_code == 200
    assert "<html" not in frag.text and "Brand review" in frag.text
    assert "audience size above 100" in frag.text and "after 2 d: remind" in frag.text
    # Without JavaScript the same diagram comes with the whole page.
    page = portal.post("/approval-policies", data={**data, "op": "preview"})
    assert page.status_code == 200 and "flowchart TD" in page.text and "<html" in page.text
    assert 'hx-post="/approval-policies/preview"' in page.text
    assert 'name="csrf_token"' in page.text
    no_token = {k: v for k, v in data.items() if k != "csrf_token"}
    assert portal.post("/approval-policies/preview", data=no_token).status_code == 403


def test_editing_saves_a_new_version_and_archive_stops_edits(
    portal: TestClient,
    demo: Engine,
) -> None:
    token = sign_in(portal, ADMIN)
    policy_id = _policy_id(demo, STANDARD)
    page = portal.get(f"/approval-policies/{policy_id}")
    assert page.status_code == 200
    assert 'value="brand_review"' in page.text and "Save as a new version" in page.text
    assert 'name="stages-0-timeouts-1-after"' in page.text  # both GM timeouts are on the form
    resp = portal.post(f"/approval-policies/{policy_id}", data=_form(token, *_two_stages()))
    assert resp.status_code == 303, resp.text[:2000]
    versions = _versions(demo, policy_id)
    assert len(versions) == 2
    assert [s.name for s in versions[0].stages] == ["gm", "region", "brand_review"]
    assert [s.name for s in versions[1].stages] == ["gm", "hq"]
    shown = portal.get(resp.headers["location"]).text
    assert "Version 2" in shown and "Version 1" in shown and "new version" in shown
    archived = portal.post(f"/approval-policies/{policy_id}/archive", data={"csrf_token": token})
    assert archived.status_code == 303
    after = portal.get(archived.headers["location"]).text
    assert "archived" in after and "Save as a new version" not in after
    again = portal.post(f"/approval-policies/{policy_id}", data=_form(token, *_two_stages()))
    assert again.status_code == 409
    assert len(_versions(demo, policy_id)) == 2
    assert "archived" in portal.get("/approval-policies").text


# Escaping ------------------------------------------------------------------------------------


def test_names_people_typed_are_escaped_everywhere(
    portal: TestClient,
    demo: Engine,
) -> None:
    with Session(demo) as s:
        brand = s.exec(select(Brand).where(Brand.slug == "northwind")).one()
        admin = s.exec(select(User).where(User.email == ADMIN)).one()
        spec = PolicySpec(
            stages=[
                Stage(
                    name="gm",
                    label=f"{XSS} {SSTI}",
                    approvers=[Approver(role=ApproverRole.partner_gm)],
                )
            ]
        )
        policy = ApprovalPolicy(
            brand_id=brand.id or 0, name=f"{XSS}{SSTI}", created_by=admin.id or 0
        )
        s.add(policy)
        s.flush()
        s.add(
            ApprovalPolicyVersion(
                policy_id=policy.id or 0,
                brand_id=brand.id or 0,
                number=1,
                spec=spec.model_dump(mode="json"),
                created_by=admin.id or 0,
            )
        )
        s.commit()
        policy_id = policy.id
    token = sign_in(portal, ADMIN)
    pages = [
        portal.get("/approval-policies").text,
        portal.get(f"/approval-policies/{policy_id}").text,
        portal.post(
            "/approval-policies/preview",
            data=_form(token, _stage(0, name="gm", label=XSS + SSTI, roles=["partner_gm"])),
            headers={"HX-Request": "true"},
        ).text,
    ]
    for html in pages:
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        # An evaluated {{7*7}} would stand right after the escaped script, as 49 (ids and
        # times elsewhere on the page may hold a 49 of their own).
        assert "{{7*7}}" in html
        assert "&lt;/script&gt;49" not in html and "&lt;/script&gt; 49" not in html
    # The name typed into a new policy comes back escaped on a refusal too.
    refused = portal.post(
        "/approval-policies", data=_form(token, _stage(0, name="x"), name=XSS + SSTI)
    )
    assert "&lt;script&gt;" in refused.text and "<script>alert" not in refused.text


# Boundaries -----------------------------------------------------------------------------------


def test_another_brand_cannot_open_a_policy(portal: TestClient, demo: Engine) -> None:
    policy_id = _policy_id(demo, STANDARD)
    token = sign_in(portal, "admin@contoso.example")
    assert portal.get("/approval-policies").status_code == 200
    assert STANDARD not in portal.get("/approval-policies").text
    assert portal.get(f"/approval-policies/{policy_id}").status_code == 404
    resp = portal.post(f"/approval-policies/{policy_id}", data=_form(token, *_two_stages()))
    assert resp.status_code == 404
    archive = portal.post(f"/approval-policies/{policy_id}/archive", data={"csrf_token": token})
    assert archive.status_code == 404
    assert len(_versions(demo, policy_id)) == 1


def test_a_reviewer_reads_but_cannot_save(portal: TestClient, demo: Engine) -> None:
    policy_id = _policy_id(demo, STANDARD)
    token = sign_in(portal, REVIEWER)
    page = portal.get(f"/approval-policies/{policy_id}")
    assert page.status_code == 200 and "brand admins change it" in page.text
    assert "Save as a new version" not in page.text and "Archive" not in page.text
    assert portal.get("/approval-policies/new").status_code == 403
    saved = portal.post(f"/approval-policies/{policy_id}", data=_form(token, *_two_stages()))
    assert saved.status_code == 403
    created = portal.post("/approval-policies", data=_form(token, *_two_stages(), name="Mine"))
    assert created.status_code == 403
    archive = portal.post(f"/approval-policies/{policy_id}/archive", data={"csrf_token": token})
    assert archive.status_code == 403
    assert len(_versions(demo, policy_id)) == 1


def test_every_policy_post_needs_the_csrf_token(portal: TestClient, demo: Engine) -> None:
    policy_id = _policy_id(demo, STANDARD)
    sign_in(portal, ADMIN)
    form = {
        k: v for k, v in _form("", *_two_stages(), name="No token").items() if k != "csrf_token"
    }
    for path in (
        "/approval-policies",
        f"/approval-policies/{policy_id}",
        f"/approval-policies/{policy_id}/archive",
        "/settings/delegations",
        "/settings/delegations/1/revoke",
    ):
        assert portal.post(path, data=form).status_code == 403, path
    assert len(_versions(demo, policy_id)) == 1


# Delegation in the settings --------------------------------------------------------------------


def test_delegate_and_revoke_from_the_settings(portal: TestClient, demo: Engine) -> None:
    token = sign_in(portal, "brand2@northwind.example")
    page = portal.get("/settings")
    assert page.status_code == 200 and "Delegate your approvals" in page.text
    assert 'href="/settings"' in page.text  # the header links to it
    contoso = _user_id(demo, "admin@contoso.example")
    assert f'<option value="{contoso}"' not in page.text  # colleagues of the brand only
    today = utcnow().date()
    stand_in = _user_id(demo, STAND_IN)
    form = {
        "csrf_token": token,
        "delegate_id": str(stand_in),
        "starts_at": today.isoformat(),
        "ends_at": today.replace(year=today.year + 2).isoformat(),
        "note": "Holiday <b>",
    }
    refused = portal.post("/settings/delegations", data=form)
    assert refused.status_code == 422
    assert _near(refused.text, "e-ends_at", "at most a year")
    assert f'<option value="{stand_in}" selected>' in refused.text
    assert 'value="Holiday &lt;b&gt;"' in refused.text
    wrong = portal.post("/settings/delegations", data={**form, "delegate_id": str(contoso)})
    assert _near(wrong.text, "e-delegate_id", "is not an active user of your brand")
    form["ends_at"] = today.isoformat()
    done = portal.post("/settings/delegations", data=form)
    assert done.status_code == 303, done.text[:1000]
    listed = portal.get(done.headers["location"]).text
    assert "Delegated." in listed and 'id="given"' in listed and "Holiday &lt;b&gt;" in listed
    with Session(demo) as s:
        row = s.exec(
            select(Delegation)
            .where(Delegation.delegate_id == stand_in, Delegation.note != "")
            .where(Delegation.user_id == _user_id(demo, "brand2@northwind.example"))
        ).one()
    # The stand-in sees it as received; nobody else can revoke it.
    other = sign_in(portal, STAND_IN)
    received = portal.get("/settings").text
    assert 'id="received"' in received
    assert (
        portal.post(
            f"/settings/delegations/{row.id}/revoke", data={"csrf_token": other}
        ).status_code
        == 404
    )
    token = sign_in(portal, "brand2@northwind.example")
    revoked = portal.post(f"/settings/delegations/{row.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    after = portal.get(revoked.headers["location"]).text
    assert "Delegation revoked" in after and 'id="given"' not in after


# The pages that show the stage ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,key",
    [
        ("spec.stages[1].quorum", "stages.1.quorum"),
        ("spec.stages.0.approvers.2.user_id", "stages.0.approvers"),
        ("stages.0.timeouts.1.to", "stages.0.timeouts.1.to"),
        ("stages.2.when.value.int", "stages.2.when.value"),
        ("stages.3.when", "stages.3.when"),
        ("name", "name"),
        ("spec", ""),
    ],
)
def test_field_paths_map_to_inputs(path: str, key: str) -> None:
    assert field_key(path) == key


def test_inbox_and_campaign_page_show_the_stage_and_whom_a_stand_in_acts_for(
    portal: TestClient,
    demo: Engine,
    client: TestClient,
    login: Callable[[str], dict[str, str]],
) -> None:
    ids = Ids(demo)
    campaign = create(client, login, ids)
    partner_id = ids.partners["amsterdam"]
    pc_id = add_partner_campaign(demo, campaign["id"], partner_id, state="pending_approval")
    task_id = add_task(demo, pc_id, "hq")
    label = f"Brand review {XSS}"
    with Session(demo) as s:
        task = s.get(ApprovalTask, task_id)
        assert task is not None
        reviewer = s.exec(select(User).where(User.email == REVIEWER)).one()
        on_behalf = reviewer.full_name or reviewer.email
        second = s.exec(select(User).where(User.email == "brand2@northwind.example")).one()
        task.stage_label = label
        task.approvers = [{"role": "brand_reviewer"}, {"user_id": second.id}]
        s.add(task)
        s.commit()
        named = second.full_name or second.email
    sign_in(portal, STAND_IN)
    inbox = portal.get("/inbox")
    assert inbox.status_code == 200, inbox.text[:500]
    assert 'Stage: <strong class="stage">Brand review &lt;script&gt;' in inbox.text
    assert f"Decides: a brand reviewer, {named}" in inbox.text
    assert f"on behalf of {on_behalf}" in inbox.text
    page = portal.get(f"/partner-campaigns/{pc_id}")
    assert page.status_code == 200, page.text[:1000]
    assert "Waiting for approval: <strong>Brand review &lt;script&gt;" in page.text
    assert f"on behalf of <strong>{on_behalf}</strong>" in page.text
    assert f"Decides: a brand reviewer, {named}" in page.text
    # The reviewer's own inbox shows the same task in their own name.
    sign_in(portal, "brand2@northwind.example")
    own = portal.get("/inbox").text
    assert "Brand review &lt;script&gt;" in own and "on behalf of" not in own


def _chain_task(engine: Engine, subject: ChainSubject, subject_id: int, slug: str) -> None:
    """An open first stage ("the partner's GM") of a print order or claim chain."""
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        s.add(
            ChainTask(
                subject=subject,
                subject_id=subject_id,
                brand_id=partner.brand_id,
                region_id=partner.region_id,
                partner_id=partner.id or 0,
                stage="gm",
                stage_label="The partner's GM",
                approvers=[{"role": "partner_gm"}],
            )
        )
        s.commit()


def test_the_inbox_lists_print_orders_and_claims_the_viewer_may_decide(
    portal: TestClient, demo: Engine
) -> None:
    _chain_task(demo, ChainSubject.print_order, 9001, "amsterdam")
    _chain_task(demo, ChainSubject.claim, 9002, "amsterdam")
    _chain_task(demo, ChainSubject.claim, 9003, "berlin")
    sign_in(portal, "gm.amsterdam@northwind.example")
    html = portal.get("/inbox").text
    assert 'href="/print-orders/9001"' in html and 'href="/claims/9002"' in html
    assert "/claims/9003" not in html  # Berlin's claim is Berlin's GM's to decide
    portal.cookies.clear()
    sign_in(portal, "gm.berlin@northwind.example")
    html = portal.get("/inbox").text
    assert 'href="/claims/9003"' in html and "/claims/9002" not in html
    assert "/print-orders/9001" not in html
