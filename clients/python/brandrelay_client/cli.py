"""`brandrelay`: the command line on the typed client.

Exit codes: 0 done; 1 the API refused or could not be reached (its problem+json message is
printed); 2 usage (bad arguments, not signed in); 3 `watch` / `sheets import --wait` gave up
at --timeout while the work goes on; 130 interrupted (Ctrl-C; the work goes on too).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, cast

import httpx

from brandrelay_client import config, models
from brandrelay_client.api import BrandrelayClient
from brandrelay_client.base import ApiError, new_idempotency_key

OK, API_ERROR, USAGE, TIMED_OUT, INTERRUPTED = 0, 1, 2, 3, 130
FINAL_PARTNER_STATES = frozenset(
    {"sent", "partially_sent", "rejected", "declined", "expired", "cancelled"}
)
FINAL_CAMPAIGN_STATES = frozenset({"completed", "cancelled"})
SHEET_WORKING = frozenset({"validating", "creating"})
RELATIVE = re.compile(r"^\+(\d+)([dhm])$")
Sleep = Callable[[float], None]


class Usage(Exception):
    """Bad arguments or missing sign-in: exit 2."""


class TimedOut(Exception):
    """--timeout passed while the work goes on: exit 3."""


class Context:
    """What every command needs; `http` lets tests hand in a client on the app itself."""

    def __init__(
        self, args: argparse.Namespace, http: httpx.Client | None, sleep: Sleep, clock: Any
    ) -> None:
        self.args = args
        self.http = http
        self.sleep = sleep
        self.clock = clock

    def client(self, url: str | None = None, token: str | None = None) -> BrandrelayClient:
        credentials = config.resolve(url or self.args.url, token or self.args.token)
        if credentials is None:
            raise Usage(
                "not signed in: run `brandrelay login --url URL --token TOKEN` or set "
                f"{config.URL_ENV} and {config.TOKEN_ENV}"
            )
        return BrandrelayClient(
            credentials.url, credentials.token, http=self.http, sleep=self.sleep
        )


def out(text: str = "") -> None:
    print(text, flush=True)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> None:
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def when(value: str, now: datetime | None = None) -> str:
    """An ISO 8601 time as given, or +7d / +12h / +30m from now (UTC)."""
    match = RELATIVE.match(value.strip())
    if not match:
        return value
    amount, unit = int(match.group(1)), match.group(2)
    delta = {"d": timedelta(days=amount), "h": timedelta(hours=amount)}.get(
        unit, timedelta(minutes=amount)
    )
    return ((now or datetime.now(UTC)) + delta).isoformat(timespec="seconds")


def ids(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of ids, e.g. 3,4") from None


def key_value(value: str) -> tuple[str, str]:
    if "=" not in value:
        raise argparse.ArgumentTypeError("KEY=VALUE")
    key, _, text = value.partition("=")
    return key.strip(), text


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total == 0 else round(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


class Progress:
    """One line rewritten in place on a terminal; elsewhere a line per change."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.last = ""

    def show(self, line: str) -> None:
        if line == self.last:
            return
        if self.tty:
            sys.stdout.write("\r\033[K" + line)
            sys.stdout.flush()
        else:
            out(line)
        self.last = line

    def end(self) -> None:
        if self.tty and self.last:
            sys.stdout.write("\n")
            sys.stdout.flush()


# --- commands ---------------------------------------------------------------------------


def cmd_login(ctx: Context) -> int:
    args = ctx.args
    token = args.token
    if token == "-":  # noqa: S105 - "-" means: read it from stdin
        token = sys.stdin.readline().strip()
    elif not token:
        token = getpass.getpass("API token: ").strip()
    if not args.url or not token:
        raise Usage("login needs --url and --token")
    with BrandrelayClient(args.url.rstrip("/"), token, http=ctx.http, sleep=ctx.sleep) as api:
        me = api.read_me()  # the token is checked before anything is stored
    path = config.save(config.Credentials(args.url.rstrip("/"), token))
    user = me["user"]
    roles = sorted({m["role"] for m in me["memberships"]})
    out(f"signed in to {args.url} as {user['email']} ({', '.join(roles) or 'no roles'})")
    out(f"saved to {path} (readable by you only)")
    return OK


def cmd_campaigns_list(ctx: Context) -> int:
    with ctx.client() as api:
        page = api.list_campaigns(state=ctx.args.state, q=ctx.args.q, limit=ctx.args.limit)
    if ctx.args.json:
        out(json.dumps(page, indent=2))
        return OK
    rows = [
        (c["id"], c["name"], c["state"], sum(c["counts"].values()), c["send_by"][:16])
        for c in page["items"]
    ]
    table(rows, ["id", "name", "state", "partners", "send by"])
    if page.get("next_cursor"):
        out(f"(more: --limit {ctx.args.limit} shows the first page only)")
    return OK


def cmd_campaigns_launch(ctx: Context) -> int:
    args = ctx.args
    if args.all:
        target: dict[str, Any] = {"all": True}
    elif args.regions:
        target = {"regions": args.regions}
    else:
        target = {"partners": args.partners}
    body: models.CampaignCreate = {
        "name": args.name,
        "template_version_id": args.template_version,
        "target": target,
        "personalise_until": when(args.personalise_until),
        "send_by": when(args.send_by),
        "mode": cast("models.CampaignMode", args.mode),
        "defaults": dict(args.default or []),
    }
    if args.approval_policy:
        policy = args.approval_policy
        body["approval_policy"] = int(policy) if policy.isdigit() else policy
    key = args.idempotency_key or new_idempotency_key()
    with ctx.client() as api:
        created = api.create_campaign(body, idempotency_key=key)
        out(f"campaign {created['id']} {created['name']!r} ({created['state']})")
        out(
            f"Idempotency-Key {key} (to retry this launch safely: --idempotency-key {key} "
            f"--personalise-until {body['personalise_until']} --send-by {body['send_by']})"
        )
        if created["state"] in ("draft", "running"):  # launching a running one is a no-op
            launched = api.launch_campaign(created["id"])
            total = sum(launched["counts"].values())
            out(f"launched: {launched['state']}, {total} partner campaigns")
        if args.watch:
            return watch(ctx, api, created["id"])
    return OK


def cmd_campaigns_watch(ctx: Context) -> int:
    with ctx.client() as api:
        return watch(ctx, api, ctx.args.campaign)


def watch(ctx: Context, api: BrandrelayClient, campaign_id: int) -> int:
    """Partner campaigns per state as a bar (final states count as done) until the campaign
    completes or is cancelled, --timeout passes, or Ctrl-C."""
    progress = Progress()
    deadline = None if ctx.args.timeout is None else ctx.clock() + ctx.args.timeout
    try:
        while True:
            campaign = api.read_campaign(campaign_id)
            counts = campaign["counts"]
            total = sum(counts.values())
            done = sum(n for state, n in counts.items() if state in FINAL_PARTNER_STATES)
            states = " ".join(f"{state} {n}" for state, n in sorted(counts.items()) if n)
            line = f"{progress_bar(done, total)} {campaign['state']}" + (
                f" | {states}" if states else ""
            )
            progress.show(line)
            if campaign["state"] in FINAL_CAMPAIGN_STATES:
                progress.end()
                out(f"campaign {campaign_id} {campaign['state']}")
                return OK
            if deadline is not None and ctx.clock() >= deadline:
                progress.end()
                raise TimedOut(f"campaign {campaign_id} still {campaign['state']} at --timeout")
            ctx.sleep(ctx.args.interval)
    except KeyboardInterrupt:
        progress.end()
        out(f"stopped watching; campaign {campaign_id} goes on")
        return INTERRUPTED


def _all_tasks(api: BrandrelayClient, **filters: Any) -> Iterator[models.TaskRead]:
    cursor = None
    while True:
        page = api.list_tasks(cursor=cursor, limit=200, **filters)
        yield from page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return


def cmd_tasks_list(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as api:
        page = api.list_tasks(overdue=args.overdue, campaign_id=args.campaign, limit=args.limit)
    if args.json:
        out(json.dumps(page, indent=2))
        return OK
    rows = []
    for task in page["items"]:
        stage = task.get("stage")
        what = task["kind"] + (f" ({stage['label']})" if stage else "")
        due = (task.get("due_at") or "")[:16] + (" OVERDUE" if task["overdue"] else "")
        rows.append(
            (task["id"], what, task["campaign_name"], task["partner_name"], task["state"], due)
        )
    table(rows, ["task", "kind", "campaign", "partner", "state", "due"])
    return OK


def cmd_tasks_decide(ctx: Context) -> int:
    args = ctx.args
    decision = "approve" if args.approve else "reject" if args.reject else "request_changes"
    with ctx.client() as api:
        task = next((t for t in _all_tasks(api) if t["id"] == args.task), None)
        if task is None:
            raise ApiError(404, "Not found", f"task {args.task} is not open in your inbox")
        if task["kind"] != "approve":
            raise ApiError(409, "Nothing to decide", f"task {args.task} is a {task['kind']} task")
        body: Any = {"decision": decision}
        if args.comment:
            body["comment"] = args.comment
        result = api.decide_partner_campaign(task["partner_campaign_id"], body)
    out(
        f"task {args.task}: {decision.replace('_', ' ')} -> partner campaign "
        f"{result['id']} ({result['partner_name']}) is {result['state']}"
    )
    return OK


# --- sheets: the upload goes through the generic request, because the CLI tells a new import
# (202) from a file uploaded before (200), which the generated method does not return.


def _read_sheet(api: BrandrelayClient, sheet_id: int) -> dict[str, Any]:
    return cast("dict[str, Any]", api.read_campaign_sheet(sheet_id))


def _wait_sheet(
    ctx: Context, api: BrandrelayClient, sheet: dict[str, Any], deadline: float | None
) -> dict[str, Any]:
    progress = Progress()
    while sheet["state"] in SHEET_WORKING:
        progress.show(
            f"{progress_bar(sheet['rows_done'], sheet['rows_total'])} rows {sheet['state']}"
        )
        if deadline is not None and ctx.clock() >= deadline:
            progress.end()
            raise TimedOut(f"sheet {sheet['id']} still {sheet['state']} at --timeout")
        ctx.sleep(ctx.args.interval)
        sheet = _read_sheet(api, sheet["id"])
    progress.end()
    return sheet


def cmd_sheets_import(ctx: Context) -> int:
    args = ctx.args
    path = Path(args.file)
    if not path.is_file():
        raise Usage(f"{path}: no such file")
    media = (
        "text/csv"
        if path.suffix.lower() == ".csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    deadline = None if args.timeout is None else ctx.clock() + args.timeout
    with ctx.client() as api:
        response = api.request(
            "POST",
            "/api/v1/campaign-sheets",
            files={"file": (path.name, path.read_bytes(), media)},
        )
        sheet = cast("dict[str, Any]", response.json())
        seen = " (this file was uploaded before)" if response.status_code == 200 else ""
        out(f"sheet {sheet['id']} {sheet['filename']}: {sheet['state']}{seen}")
        if args.wait or args.confirm:
            sheet = _wait_sheet(ctx, api, sheet, deadline)
        if sheet["state"] == "invalid":
            out(f"sheet {sheet['id']} is invalid: {len(sheet['problems'])} problem(s)")
            for p in sheet["problems"]:
                out(f"  {p['sheet']} row {p['row']} column {p['column']}: {p['message']}")
            return API_ERROR
        if args.confirm and sheet["state"] == "ready":
            sheet = cast("dict[str, Any]", api.confirm_campaign_sheet(sheet["id"]))
            out(f"confirmed: {sheet['rows_total']} rows, {sheet['state']}")
            if args.wait:
                sheet = _wait_sheet(ctx, api, sheet, deadline)
        out(f"sheet {sheet['id']}: {sheet['state']}, {sheet['rows_done']}/{sheet['rows_total']}")
        if sheet.get("campaign_ids"):
            out("campaigns: " + ", ".join(str(i) for i in sheet["campaign_ids"]))
        return API_ERROR if sheet["state"] == "failed" else OK


# --- wiring -------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="brandrelay", description="Brandrelay from the command line.")
    top.add_argument("--url", help=f"API base URL (default: ${config.URL_ENV}, then login)")
    top.add_argument("--token", help=f"API token (default: ${config.TOKEN_ENV}, then login)")
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)

    login = commands.add_parser("login", help="check an API token and store it")
    login.add_argument("--url", dest="url", required=True, help="e.g. http://localhost:8000")
    login.add_argument("--token", dest="token", help="a brt_... token; '-' reads it from stdin")
    login.set_defaults(run=cmd_login)

    campaigns = commands.add_parser("campaigns", help="list, launch and watch campaigns")
    c = campaigns.add_subparsers(dest="action", required=True, parser_class=Parser)
    listing = c.add_parser("list", help="the first page of campaigns")
    listing.add_argument("--state", choices=["draft", "running", "completed", "cancelled"])
    listing.add_argument("-q", help="part of the name")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="the API's answer as JSON")
    listing.set_defaults(run=cmd_campaigns_list)

    launch = c.add_parser("launch", help="create a campaign from a published template version")
    launch.add_argument("--template-version", type=int, required=True, help="published version id")
    launch.add_argument("--name", required=True)
    who = launch.add_mutually_exclusive_group(required=True)
    who.add_argument("--all", action="store_true", help="every partner of the brand")
    who.add_argument("--regions", type=ids, help="region ids, e.g. 1,2")
    who.add_argument("--partners", type=ids, help="partner ids, e.g. 3,4")
    launch.add_argument("--personalise-until", required=True, help="ISO 8601 time, or +7d")
    launch.add_argument("--send-by", required=True, help="ISO 8601 time, or +14d")
    launch.add_argument("--mode", choices=["opt_in", "opt_out"], default="opt_in")
    launch.add_argument("--approval-policy", help="gm, gm_then_hq, none, or a policy id")
    launch.add_argument(
        "--default", type=key_value, action="append", help="SLOT=VALUE, HQ's default (repeat)"
    )
    launch.add_argument("--idempotency-key", help="repeat a launch without a second campaign")
    launch.add_argument("--watch", action="store_true", help="then follow it (see watch)")
    _watch_options(launch)
    launch.set_defaults(run=cmd_campaigns_launch)

    follow = c.add_parser("watch", help="follow a campaign's progress")
    follow.add_argument("campaign", type=int)
    _watch_options(follow)
    follow.set_defaults(run=cmd_campaigns_watch)

    tasks = commands.add_parser("tasks", help="your inbox: list and decide tasks")
    t = tasks.add_subparsers(dest="action", required=True, parser_class=Parser)
    inbox = t.add_parser("list", help="your open tasks, soonest due first")
    inbox.add_argument("--overdue", action="store_true", default=None)
    inbox.add_argument("--campaign", type=int)
    inbox.add_argument("--limit", type=int, default=50)
    inbox.add_argument("--json", action="store_true")
    inbox.set_defaults(run=cmd_tasks_list)
    decide = t.add_parser("decide", help="decide an approval task")
    decide.add_argument("task", type=int, help="the task id from `tasks list`")
    verdict = decide.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--approve", action="store_true")
    verdict.add_argument("--reject", action="store_true")
    verdict.add_argument("--request-changes", action="store_true")
    decide.add_argument("--comment", help="shown to the partner")
    decide.set_defaults(run=cmd_tasks_decide)

    sheets = commands.add_parser("sheets", help="campaign sheets (XLSX or CSV plans)")
    s = sheets.add_subparsers(dest="action", required=True, parser_class=Parser)
    upload = s.add_parser("import", help="upload a sheet; --confirm creates its campaigns")
    upload.add_argument("file")
    upload.add_argument("--confirm", action="store_true", help="confirm once it is valid")
    upload.add_argument("--wait", action="store_true", help="wait until it is done")
    _watch_options(upload)
    upload.set_defaults(run=cmd_sheets_import)
    return top


def _watch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, help="give up after this many seconds (exit 3)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between polls")


def main(
    argv: Sequence[str] | None = None,
    *,
    http: httpx.Client | None = None,
    sleep: Sleep = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """The console script; tests call it with `http` (an httpx client on the app)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    ctx = Context(args, http, sleep, clock)
    try:
        return int(args.run(ctx))
    except Usage as exc:
        print(f"brandrelay: {exc}", file=sys.stderr)
        return USAGE
    except ApiError as exc:
        print(f"brandrelay: {exc}", file=sys.stderr)
        return API_ERROR
    except httpx.TransportError as exc:
        print(f"brandrelay: cannot reach the API: {exc}", file=sys.stderr)
        return API_ERROR
    except TimedOut as exc:
        print(f"brandrelay: {exc}", file=sys.stderr)
        return TIMED_OUT
    except ValueError as exc:  # an unreadable config file
        print(f"brandrelay: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
