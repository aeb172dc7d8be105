"""What a template version declares: slots, channel variants, locales; and the brand's rules.

Pure pydantic shapes with no I/O, so workflows (validation at save_content/submit), the API and
the renderer share them. Stored as JSON on TemplateVersion.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SUPPORTED_LOCALES = ("en", "de", "nl")
SLOT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
# Partner profile fields a partner_field slot may pull (see models.org.as_profile).
PARTNER_FIELDS = (
    "name",
    "street",
    "postal_code",
    "city",
    "country",
    "address",
    "phone",
    "email",
    "website",
    "opening_hours",
)


class SlotKind(StrEnum):
    text = "text"
    rich_text = "rich_text"
    number = "number"
    date = "date"
    choice = "choice"
    url = "url"
    phone = "phone"
    email = "email"
    color = "color"
    asset = "asset"
    partner_field = "partner_field"


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class RelativeDate(BaseModel):
    """A date slot's default relative to the campaign, so partners need not pick one: the local
    date of `relative_to` in the partner's zone, moved `days` days in `direction`, then (with a
    weekday) to the nearest such weekday strictly in `direction`. "The Saturday before send_by"
    is {"relative_to": "send_by", "weekday": "saturday"}: a send_by on a Saturday gives the
    Saturday a week earlier (never the send day itself)."""

    model_config = ConfigDict(extra="forbid")

    relative_to: Literal["send_by", "personalise_until"]
    weekday: (
        Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] | None
    ) = None
    days: int = Field(0, ge=0, le=366, description="days to move first (0: none)")
    direction: Literal["before", "after"] = "before"

    @model_validator(mode="after")
    def _moves(self) -> RelativeDate:
        if self.weekday is None and self.days == 0:
            raise ValueError("needs a weekday or a number of days (else it is the day itself)")
        return self


class Slot(BaseModel):
    """One named place in the template: locked (HQ content) or editable within constraints."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: SlotKind
    locked: bool = False
    label: dict[str, str] = Field(description="Per locale; 'en' is required")
    help: dict[str, str] = Field(default_factory=dict, description="Per locale")
    required: bool = False
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    pattern: str | None = Field(None, description="Regular expression the whole value must match")
    choices: list[str] | None = None
    min_value: float | None = None
    max_value: float | None = None
    within_window: bool = Field(True, description="date: inside the campaign window")
    asset_tags: list[str] | None = Field(None, description="asset: required tags")
    partner_field: str | None = Field(None, description="partner_field: profile field to pull")
    allow_override: bool = Field(False, description="partner_field: partner may override")
    per_locale: bool = Field(
        False,
        description="text and rich_text: the partner may give one value per language of the "
        "template ({locale: value}); otherwise one value serves every language",
    )
    default: dict[str, Any] = Field(
        default_factory=dict, description="Per locale; for locked slots the HQ content"
    )
    relative_default: RelativeDate | None = Field(
        None,
        description="date: a default relative to the campaign (resolved per partner at launch, "
        "in the partner's time zone)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not SLOT_NAME.match(v):
            raise ValueError("must be lower-case letters, digits and _ (starting with a letter)")
        return v

    @field_validator("label")
    @classmethod
    def _label(cls, v: dict[str, str]) -> dict[str, str]:
        if "en" not in v:
            raise ValueError("needs an 'en' label")
        return v

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as err:
                raise ValueError(f"is not a valid regular expression: {err}") from err
        return v

    @model_validator(mode="after")
    def _kind_rules(self) -> Slot:
        if self.kind == SlotKind.choice and not self.choices:
            raise ValueError(f"slot {self.name}: a choice slot needs choices")
        if self.kind == SlotKind.partner_field and self.partner_field not in PARTNER_FIELDS:
            raise ValueError(
                f"slot {self.name}: partner_field must be one of {', '.join(PARTNER_FIELDS)}"
            )
        if self.per_locale and self.kind not in (SlotKind.text, SlotKind.rich_text):
            raise ValueError(f"slot {self.name}: per_locale is for text and rich_text slots only")
        if self.per_locale and self.locked:
            raise ValueError(
                f"slot {self.name}: a locked slot has HQ's text per language already (default)"
            )
        if self.min_length and self.max_length and self.min_length > self.max_length:
            raise ValueError(f"slot {self.name}: min_length is greater than max_length")
        if self.relative_default is not None and (self.kind != SlotKind.date or self.locked):
            raise ValueError(f"slot {self.name}: relative_default is for editable date slots only")
        return self


class EmailVariant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=500)
    preheader: str = Field("", max_length=500)
    html: str = Field(min_length=1, max_length=200_000)
    text: str = Field(min_length=1, max_length=100_000)


class SmsVariant(BaseModel):
    """The SMS: plain text (Jinja, no HTML), built from the same slots and fragments as the
    email, so a value the partner fills once feeds both. Links in it go out shortened through
    the tracking redirect; the opt-out line ("STOP") is added by the sender, never forgotten."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2_000)


FRAGMENT_NAME = SLOT_NAME
MAX_FRAGMENTS = 50
MAX_FRAGMENT_CHARS = 5_000


def _default_sizes() -> list[Literal["A4", "A5"]]:
    return ["A4"]


class PrintVariant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    html: str = Field(min_length=1, max_length=200_000)
    css: str = Field("", max_length=100_000)
    sizes: list[Literal["A4", "A5"]] = Field(default_factory=_default_sizes)


class TemplateContent(BaseModel):
    """A version's declared slots and channel variants (template source is Jinja2)."""

    model_config = ConfigDict(extra="forbid")

    slots: list[Slot] = Field(default_factory=list)
    email: EmailVariant | None = None
    print: PrintVariant | None = None
    sms: SmsVariant | None = None
    locales: list[str] = Field(default_factory=lambda: ["en"])
    fragments: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="HQ's fixed words by name and locale (greeting, call to action, footer), "
        "shared by every variant as `fragments.<name>` in the recipient's language",
    )
    tags: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="what the template is (offer, newsletter): approval conditions read them",
    )

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if not TAG.fullmatch(t)]
        if bad:
            raise ValueError(f"tags are lower-case words with dashes, not {bad[0]!r}")
        return sorted(set(v))

    @field_validator("locales")
    @classmethod
    def _locales(cls, v: list[str]) -> list[str]:
        unknown = [loc for loc in v if loc not in SUPPORTED_LOCALES]
        if unknown or not v:
            raise ValueError(f"locales must be among {', '.join(SUPPORTED_LOCALES)}")
        return v

    @field_validator("fragments")
    @classmethod
    def _fragments(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        if len(v) > MAX_FRAGMENTS:
            raise ValueError(f"a template has at most {MAX_FRAGMENTS} fragments")
        for name, texts in v.items():
            if not FRAGMENT_NAME.match(name):
                raise ValueError(
                    f"fragment {name[:60]!r}: names are lower-case letters, digits and _ "
                    "(starting with a letter)"
                )
            for locale, text in texts.items():
                if locale not in SUPPORTED_LOCALES:
                    raise ValueError(
                        f"fragment {name}: locale {locale[:20]!r} is not among "
                        f"{', '.join(SUPPORTED_LOCALES)}"
                    )
                if len(text) > MAX_FRAGMENT_CHARS:
                    raise ValueError(
                        f"fragment {name}.{locale}: at most {MAX_FRAGMENT_CHARS} characters"
                    )
        return v

    @model_validator(mode="after")
    def _unique_slots(self) -> TemplateContent:
        names = [s.name for s in self.slots]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"slot names must be unique: {', '.join(dupes)}")
        return self

    def slot(self, name: str) -> Slot | None:
        return next((s for s in self.slots if s.name == name), None)


class BrandRules(BaseModel):
    """Brand-wide guard rails applied to every partner value."""

    restricted_words: list[str] = Field(default_factory=list)
    restricted_patterns: list[str] = Field(default_factory=list)
    palette: list[str] = Field(default_factory=list, description="Allowed colours, #RRGGBB")
    fonts: list[str] = Field(default_factory=list)


class AssetFacts(BaseModel):
    """What validation needs to know of one library asset (looked up by the caller)."""

    uid: str
    title: str = ""
    state: str
    tags: list[str] = Field(default_factory=list)
    licence_expires_on: date | None = None
    allowed_region_ids: list[int] = Field(default_factory=list, description="empty: all")
    partner_id: int | None = Field(None, description="None: a brand asset")
    alt_text: str | None = Field(
        None, description="what the image shows; None: not known (facts recorded before it)"
    )


class ValidationContext(BaseModel):
    """Everything validation may look at besides the values: no clock, no database."""

    locale: str = Field("en", description="the language rendered: the recipient's")
    fallback_locale: str | None = Field(
        None,
        description="per_locale slots: the language to use when the partner gave none in "
        "`locale` (the partner campaign's); then the first language given",
    )
    partner: dict[str, Any] = Field(default_factory=dict, description="models.org.as_profile")
    partner_id: int | None = None
    partner_region_id: int | None = None
    window_start: date | None = None
    window_end: date | None = None
    brand: BrandRules = Field(default_factory=BrandRules)
    today: date | None = Field(None, description="the day licences are checked against")
    assets: dict[str, AssetFacts] | None = Field(
        None,
        description="library facts by uid for the asset ids in play; None checks the id's "
        "shape only (no library at hand, e.g. linting HQ's samples)",
    )


class FieldError(BaseModel):
    """One problem with one slot, in words a partner understands."""

    field: str
    code: str
    message: str
