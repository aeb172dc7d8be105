"""Contact CSV import and export, streamed.

Import reads the upload through `csv` over a text stream and works in chunks (one transaction
per chunk, `chunk_size` rows): memory stays flat whatever the file's size, and a row is either
written whole or rejected with its reasons, never half-applied. A chunk the database refuses
(a concurrent writer) is rolled back and redone row by row, so one bad row cannot take its
neighbours with it. Rows are reported one by one as they are processed.

Duplicates within a file are found without keeping every address in memory: each row touched
records "<run>:<row>" in `Contact.import_mark`, so a later row with the same address sees that
the current run already wrote it. Re-importing a file changes no data (rows are "unchanged").

Columns: email, name, locale, consent_status (or consent), consent_source, consent_at, tags
(separated by ";" or ","), phone (a national number is read in the partner's country; stored
as E.164; an empty cell removes it), sms_consent (or sms_consent_status), sms_consent_source,
channel (email or sms; sms needs a phone; an empty SMS consent or channel cell changes
nothing), and one `attr.<name>` column per attribute (text; an empty cell removes the
attribute). Export writes the same columns, so export -> import is a round trip.

Export guards every cell a spreadsheet would run as a formula (`core.spreadsheet.safe_cell`:
a quote in front); import undoes exactly that guard (`unguard`) before reading a cell, so the
round trip stays lossless, a value that really starts with a quote included.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from core.said import said, said_of
from core.spreadsheet import safe_row, unguard
from models.asset_schemas import parse_tags
from models.contact_schemas import ATTRIBUTE_KEY, ImportReport, ImportRow
from models.contacts import Channel, ConsentStatus, Contact
from models.locales import normalise_email, normalise_locale
from models.org import Partner
from models.phones import normalise_phone
from services.contacts import check_channel, check_consent
from services.org import Actor, record

BASE_COLUMNS = (
    "email",
    "name",
    "locale",
    "consent_status",
    "consent_source",
    "consent_at",
    "tags",
    "phone",
    "sms_consent",
    "sms_consent_source",
    "channel",
)
ALIASES = {"consent": "consent_status", "sms_consent_status": "sms_consent"}
CHANNEL_VALUES = tuple(c.value for c in Channel)
ATTR_PREFIX = "attr."
CONSENT_VALUES = tuple(c.value for c in ConsentStatus)
EXPORT_PAGE = 1000


class ImportFileError(ValueError):
    """The file itself is unusable (not text, no header, unknown columns): nothing imported."""


def check_text(stream: BinaryIO, encoding: str = "utf-8-sig", block: int = 1 << 16) -> None:
    """Decode the whole upload once, in blocks, before importing anything: a file that is not
    UTF-8 text (or holds NUL bytes) is refused as a whole instead of failing half-way."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)()
    stream.seek(0)
    offset = 0
    while True:
        data = stream.read(block)
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as err:
            raise ImportFileError(
                said(
                    "is not UTF-8 text (byte %(byte)s); save the sheet as CSV UTF-8",
                    byte=offset + err.start,
                )
            ) from err
        if "\x00" in text:
            raise ImportFileError(said("holds binary data, not CSV text"))
        if not data:
            break
        offset += len(data)
    stream.seek(0)


@dataclass
class _Header:
    columns: dict[str, str]  # column as written -> canonical name
    attributes: dict[str, str] = field(default_factory=dict)  # column -> attribute key


def _header(fieldnames: list[str]) -> _Header:
    if not fieldnames:
        raise ImportFileError(said("is empty: the first line must name the columns"))
    columns: dict[str, str] = {}
    attributes: dict[str, str] = {}
    unknown: list[str] = []
    for raw in fieldnames:
        name = (raw or "").strip().lower()
        name = ALIASES.get(name, name)
        if name.startswith(ATTR_PREFIX) and ATTRIBUTE_KEY.fullmatch(name[len(ATTR_PREFIX) :]):
            attributes[raw] = name[len(ATTR_PREFIX) :]
        elif name in BASE_COLUMNS:
            pass
        else:
            unknown.append(raw)
            continue
        if name in columns.values():
            raise ImportFileError(said("names the column %(name)s twice", name=repr(name)))
        columns[raw] = name
    if unknown:
        raise ImportFileError(
            said(
                "has unknown columns %(unknown)s; known: %(known)s, attr.<name>",
                unknown=", ".join(repr(u) for u in unknown),
                known=", ".join(BASE_COLUMNS),
            )
        )
    if "email" not in columns.values() or "consent_status" not in columns.values():
        raise ImportFileError(said("must have an email and a consent_status column"))
    return _Header(columns, attributes)


@dataclass
class _Parsed:
    row: int
    email: str
    values: dict[str, Any]  # field -> value, for the columns the file has
    attributes: dict[str, str | None]  # key -> value (None: remove)


def _parse_datetime(raw: str) -> datetime:
    """A date is that day, 00:00 UTC; a date with a time needs its zone (the one datetime
    rule: a time without a zone is refused, never guessed)."""
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    if "T" in raw or " " in raw.strip():
        raise ValueError("a time needs its time zone")
    return value.replace(tzinfo=UTC)


def _parse_sms(cells: dict[str, str], region: str, values: dict[str, Any]) -> list[str]:
    """The SMS columns into `values` (contact fields); the reasons, each naming its column."""
    reasons: list[str] = []
    if "phone" in cells:
        try:
            values["phone"] = (
                normalise_phone(cells["phone"], region or None) if cells["phone"] else None
            )
        except ValueError as err:
            reasons.append(said("phone: %(reason)s", reason=said_of(err)))
    if cells.get("sms_consent"):
        consent = cells["sms_consent"].lower()
        if consent not in CONSENT_VALUES:
            reasons.append(
                said(
                    "sms_consent: unknown value %(value)s (granted, denied or unknown)",
                    value=repr(consent),
                )
            )
        else:
            values["sms_consent_status"] = consent
            problem = check_consent(consent, cells.get("sms_consent_source", ""))
            if problem and "sms_consent_source" in cells:
                reasons.append(said("sms_consent granted without sms_consent_source"))
            elif problem:
                reasons.append(said("sms_consent granted without an sms_consent_source column"))
    if "sms_consent_source" in cells:
        if len(cells["sms_consent_source"]) > 200:
            reasons.append(said("sms_consent_source is longer than 200 characters"))
        values["sms_consent_source"] = cells["sms_consent_source"]
    if cells.get("channel"):
        channel = cells["channel"].lower()
        if channel not in CHANNEL_VALUES:
            reasons.append(
                said("channel: unknown value %(value)s (email or sms)", value=repr(channel))
            )
        else:
            values["channel"] = channel
    return reasons


def _parse(
    row_no: int,
    raw: dict[str | None, Any],
    header: _Header,
    default_locale: str,
    region: str = "",
) -> _Parsed | ImportRow:
    reasons: list[str] = []
    if raw.get(None):
        reasons.append(said("more values than columns"))
    cells = {
        header.columns[k]: unguard((v or "").strip()) for k, v in raw.items() if k in header.columns
    }
    shown = cells.get("email", "")[:254]
    email = ""
    try:
        email = normalise_email(cells.get("email", ""))
    except ValueError as err:
        reasons.append(said("bad email: %(reason)s", reason=said_of(err)))
    values: dict[str, Any] = {}
    if "name" in cells:
        if len(cells["name"]) > 200:
            reasons.append(said("name is longer than 200 characters"))
        values["name"] = cells["name"]
    if "locale" in cells:
        try:
            values["locale"] = (
                normalise_locale(cells["locale"]) if cells["locale"] else default_locale
            )
        except ValueError as err:
            reasons.append(said_of(err))
    consent = cells.get("consent_status", "").lower()
    if not consent:
        reasons.append(said("missing consent (consent_status: granted, denied or unknown)"))
    elif consent not in CONSENT_VALUES:
        reasons.append(
            said(
                "unknown consent_status %(value)s (granted, denied or unknown)",
                value=repr(consent),
            )
        )
    values["consent_status"] = consent
    if "consent_source" in cells:
        if len(cells["consent_source"]) > 200:
            reasons.append(said("consent_source is longer than 200 characters"))
        values["consent_source"] = cells["consent_source"]
    if consent in CONSENT_VALUES:
        problem = check_consent(consent, cells.get("consent_source", ""))
        if problem:
            reasons.append(problem)
    if "consent_at" in cells:
        try:
            values["consent_at"] = (
                _parse_datetime(cells["consent_at"]) if cells["consent_at"] else None
            )
        except ValueError:
            reasons.append(
                said(
                    "consent_at %(value)s is not a date (YYYY-MM-DD) or a date and time with its "
                    "zone (YYYY-MM-DDTHH:MM:SSZ)",
                    value=repr(cells["consent_at"]),
                )
            )
    if "tags" in cells:
        try:
            values["tags"] = parse_tags(cells["tags"].replace(";", ","))
        except ValueError as err:
            reasons.append(said("tags: %(reason)s", reason=said_of(err)))
    attributes: dict[str, str | None] = {}
    for column, key in header.attributes.items():
        value = cells[header.columns[column]]
        if len(value) > 500:
            reasons.append(said("attr.%(key)s is longer than 500 characters", key=key))
        attributes[key] = value or None
    reasons.extend(_parse_sms(cells, region, values))
    if reasons:
        return ImportRow(row=row_no, email=shown, status="rejected", reasons=reasons)
    return _Parsed(row_no, email, values, attributes)


def _changes(contact: Contact, parsed: _Parsed) -> dict[str, Any]:
    changes = {k: v for k, v in parsed.values.items() if getattr(contact, k) != v}
    if "sms_consent_status" in changes:
        changes["sms_consent_at"] = datetime.now(UTC)
    if parsed.attributes:
        merged = dict(contact.attributes)
        for key, value in parsed.attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged != contact.attributes:
            changes["attributes"] = merged
    return changes


def _channel_problem(contact: Contact | None, parsed: _Parsed) -> str | None:
    """ "sms" needs a number, looking at the row and, for an existing contact, what it holds."""
    channel = parsed.values.get("channel", contact.channel if contact else Channel.email.value)
    phone = parsed.values.get("phone", contact.phone if contact else None)
    problem = check_channel(channel, phone)
    return said("channel: %(reason)s", reason=problem) if problem else None


def _mark_row(mark: str | None, run: str) -> str | None:
    if mark and mark.startswith(f"{run}:"):
        return mark.split(":", 1)[1]
    return None


@dataclass(frozen=True)
class _Owner:
    """The partner's facts an import needs, read once: the session is cleared between chunks."""

    partner_id: int
    brand_id: int
    locale: str
    country: str = ""


def _apply_chunk(
    session: Session, partner: _Owner, run: str, chunk: list[_Parsed]
) -> list[ImportRow]:
    """One transaction for the chunk; returns one report row per parsed row."""
    emails = sorted({p.email for p in chunk})
    existing = {
        c.email: c
        for c in session.exec(
            select(Contact).where(
                Contact.partner_id == partner.partner_id, col(Contact.email).in_(emails)
            )
        ).all()
    }
    out: list[ImportRow] = []
    now = datetime.now(UTC)
    for parsed in chunk:
        mark = f"{run}:{parsed.row}"
        contact = existing.get(parsed.email)
        first = _mark_row(contact.import_mark, run) if contact is not None else None
        if contact is not None and first is not None:
            out.append(
                ImportRow(
                    row=parsed.row,
                    email=parsed.email,
                    status="rejected",
                    reasons=[said("duplicate within the file (first on row %(row)s)", row=first)],
                )
            )
            continue
        problem = _channel_problem(contact, parsed)
        if problem:
            out.append(
                ImportRow(row=parsed.row, email=parsed.email, status="rejected", reasons=[problem])
            )
            continue
        if contact is None:
            contact = Contact(
                brand_id=partner.brand_id,
                partner_id=partner.partner_id,
                email=parsed.email,
                locale=partner.locale,
                created_at=now,
                updated_at=now,
            )
            for key, value in _changes(contact, parsed).items():
                setattr(contact, key, value)
            status = "created"
            existing[parsed.email] = contact
        else:
            changes = _changes(contact, parsed)
            for key, value in changes.items():
                setattr(contact, key, value)
            if changes:
                contact.updated_at = now
            status = "updated" if changes else "unchanged"
        contact.import_mark = mark
        session.add(contact)
        out.append(ImportRow(row=parsed.row, email=parsed.email, status=status))
    session.commit()
    return out


def _commit_chunk(
    session: Session, partner: _Owner, run: str, chunk: list[_Parsed]
) -> list[ImportRow]:
    try:
        return _apply_chunk(session, partner, run, chunk)
    except SQLAlchemyError:
        session.rollback()
        if len(chunk) == 1:
            p = chunk[0]
            return [
                ImportRow(
                    row=p.row,
                    email=p.email,
                    status="rejected",
                    reasons=[
                        said("could not be saved (changed by someone else meanwhile); import again")
                    ],
                )
            ]
    out: list[ImportRow] = []
    for parsed in chunk:
        out.extend(_commit_chunk(session, partner, run, [parsed]))
    return out


def import_csv(
    session: Session, partner: Partner, text: Iterable[str], *, chunk_size: int = 500
) -> Iterator[ImportRow]:
    """Import rows into the partner's contacts; yields one report row per CSV row, in order
    (rejected rows as soon as they are parsed, written rows when their chunk commits).

    Raises ImportFileError before writing anything when the header is unusable. Commits on
    `session` once per chunk; the caller's own pending changes are committed with the first.
    """
    reader = csv.DictReader(text)
    try:
        header = _header(list(reader.fieldnames or []))
    except csv.Error as err:
        raise ImportFileError(said("is not CSV: %(reason)s", reason=str(err))) from err
    assert partner.id is not None
    owner = _Owner(partner.id, partner.brand_id, partner.locale, partner.country)
    run = uuid.uuid4().hex[:16]
    pending: list[_Parsed] = []
    held: list[ImportRow | _Parsed] = []  # the chunk's rows in file order, for the report
    row_no = 1
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            held.append(
                ImportRow(
                    row=row_no + 1,
                    email="",
                    status="rejected",
                    reasons=[
                        said("malformed CSV, import stopped here: %(reason)s", reason=str(err))
                    ],
                )
            )
            break
        row_no += 1
        parsed = _parse(row_no, raw, header, owner.locale, owner.country)
        held.append(parsed)
        if isinstance(parsed, _Parsed):
            pending.append(parsed)
        if len(held) >= chunk_size:
            yield from _flush(session, owner, run, pending, held)
            pending, held = [], []
    yield from _flush(session, owner, run, pending, held)


def import_file(
    session: Session,
    actor: Actor,
    partner: Partner,
    binary: BinaryIO,
    *,
    chunk_size: int,
    report_rows: int,
) -> ImportReport:
    """An uploaded file imported whole (the API's import and the portal's import page): the
    counts cover every row, the first `report_rows` rows are listed with their reasons, and the
    audit trail records the counts (never a row). ImportFileError, before anything is written,
    when the file is not usable text or its header is not."""
    report = ImportReport()
    check_text(binary)
    for row in import_csv(session, partner, text_stream(binary), chunk_size=chunk_size):
        setattr(report, row.status, getattr(report, row.status) + 1)
        if len(report.rows) < report_rows:
            report.rows.append(row)
        else:
            report.rows_truncated = True
    partner = session.merge(partner)  # the import cleared the session between chunks
    record(
        session,
        actor,
        "contacts.imported",
        partner,
        None,
        report.model_dump(exclude={"rows", "rows_truncated"}),
    )
    return report


def _flush(
    session: Session,
    partner: _Owner,
    run: str,
    pending: list[_Parsed],
    held: list[ImportRow | _Parsed],
) -> Iterator[ImportRow]:
    done = {r.row: r for r in _commit_chunk(session, partner, run, pending)} if pending else {}
    session.expunge_all()  # written rows are in the database; keep the identity map small
    for item in held:
        yield item if isinstance(item, ImportRow) else done[item.row]


def text_stream(binary: BinaryIO) -> io.TextIOWrapper:
    """The upload as text, decoded while it is read (a BOM from spreadsheet tools is dropped)."""
    binary.seek(0)
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def _attribute_keys(session: Session, partner_id: int) -> list[str]:
    keys: set[str] = set()
    for attributes in _pages(session, partner_id, lambda c: c.attributes):
        keys.update(attributes)
    return sorted(keys)


def _pages(session: Session, partner_id: int, pick: Any) -> Iterator[Any]:
    """Keyset pages over the partner's contacts in id order (portable; no server cursor)."""
    last = 0
    while True:
        rows = session.exec(
            select(Contact)
            .where(Contact.partner_id == partner_id, col(Contact.id) > last)
            .order_by(col(Contact.id))
            .limit(EXPORT_PAGE)
        ).all()
        if not rows:
            return
        for row in rows:
            yield pick(row)
        last = rows[-1].id or last
        session.expunge_all()


class _Line:
    """A file-like sink for csv.writer that hands back what one row wrote."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def take(self) -> str:
        out = "".join(self.parts)
        self.parts.clear()
        return out


def export_csv(session: Session, partner_id: int) -> Iterator[str]:
    """The partner's contacts as CSV text, one line at a time, in the import's format, every
    cell guarded against spreadsheet formulas (`import_csv` removes the guard again)."""
    keys = _attribute_keys(session, partner_id)
    line = _Line()
    writer = csv.writer(line)
    writer.writerow(safe_row([*BASE_COLUMNS, *(f"{ATTR_PREFIX}{k}" for k in keys)]))
    yield line.take()
    for contact in _pages(session, partner_id, lambda c: c):
        writer.writerow(
            safe_row(
                [
                    contact.email,
                    contact.name,
                    contact.locale,
                    contact.consent_status,
                    contact.consent_source,
                    contact.consent_at.isoformat() if contact.consent_at else "",
                    ";".join(contact.tags),
                    contact.phone or "",
                    contact.sms_consent_status,
                    contact.sms_consent_source,
                    contact.channel,
                    *(_cell(contact.attributes.get(k)) for k in keys),
                ]
            )
        )
        yield line.take()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
