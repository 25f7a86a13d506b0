"""Render a typed mail context to subject, plain text and HTML from ``templates/email/<lang>/<name>/``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape

from casework.clock import LOCAL_TZ
from hjemtilos import PROJECT_ROOT
from hjemtilos.mail.contexts import MailContext, template_name

TEMPLATE_DIR = PROJECT_ROOT / "templates" / "email"
LANGUAGES = ("da", "en")
FALLBACK_LANGUAGE = "da"

_MONTHS = {
    "da": ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
           "november", "december"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
}


@dataclass(frozen=True)
class Programme:
    """Footer facts shown in every mail."""

    phone: str
    email: str
    coordinator: str = "Koordinator, Hjem til Os"  # who signs the mails (HJEMTILOS_COORDINATOR_NAME)
    privacy_url: str = "https://redbarnet.dk/privatliv"  # how we handle personal data (HJEMTILOS_PRIVACY_URL)


@dataclass(frozen=True)
class RenderedMail:
    template: str
    language: str
    subject: str
    text: str
    html: str


class RenderError(ValueError):
    pass


@pass_context
def _longdate(ctx: Any, value: date | datetime) -> str:
    lang = ctx.get("lang", FALLBACK_LANGUAGE)
    if isinstance(value, datetime):
        local = value.astimezone(LOCAL_TZ)
        day = local.date()
        clock = f"{local.hour:02d}.{local.minute:02d}" if lang == "da" else f"{local.hour:02d}:{local.minute:02d}"
        joiner = " kl. " if lang == "da" else " at "
        return _format_day(day, lang) + joiner + clock
    return _format_day(value, lang)


def _bare_family(name: str) -> str | None:
    """"Familien Holm" -> "Holm"; None when the name is not written as a family."""
    for prefix in ("familien ", "family "):
        if name.lower().startswith(prefix):
            return name[len(prefix):].strip()
    return None


def family_phrase(name: str, lang: str) -> str:
    """A family's name in running text: "familien Holm" / "the Holm family", however it was registered."""
    bare = _bare_family(name) or name
    return f"familien {bare}" if lang == "da" else f"the {bare} family"


@pass_context
def _family(ctx: Any, name: str) -> str:
    return family_phrase(name, ctx.get("lang", FALLBACK_LANGUAGE))


@pass_context
def _salutation(ctx: Any, name: str) -> str:
    """The name after "Kære"/"Dear": "familie Holm" / "Holm family" for a family, the role for the coordinators'
    shared mailbox ("Koordinator, Hjem til Os": "koordinator"), else the name."""
    lang = ctx.get("lang", FALLBACK_LANGUAGE)
    bare = _bare_family(name)
    if bare is not None:
        return f"familie {bare}" if lang == "da" else f"{bare} family"
    if name.lower().startswith(("koordinator", "coordinator")):
        return "koordinator" if lang == "da" else "coordinator"
    return name


def _format_day(day: date, lang: str) -> str:
    month = _MONTHS[lang][day.month - 1]
    if lang == "da":
        return f"{day.day}. {month} {day.year}"
    return f"{day.day} {month} {day.year}"


@lru_cache(maxsize=4)
def environment(template_dir: Path = TEMPLATE_DIR) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(template_dir)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["longdate"] = _longdate
    env.filters["family"] = _family
    env.filters["salutation"] = _salutation
    return env


def pick_language(requested: str | None, template: str, template_dir: Path = TEMPLATE_DIR) -> str:
    """The recipient's language if the template exists in it, else Danish."""
    if requested and (template_dir / requested / template / "subject.txt").is_file():
        return requested
    return FALLBACK_LANGUAGE


def render(context: MailContext, language: str | None, programme: Programme,
           template_dir: Path = TEMPLATE_DIR) -> RenderedMail:
    name = template_name(context)
    lang = pick_language(language, name, template_dir)
    env = environment(template_dir)
    values: dict[str, Any] = {field.name: getattr(context, field.name) for field in dataclasses.fields(context)}
    values["lang"] = lang
    values["programme"] = programme
    subject = env.get_template(f"{lang}/{name}/subject.txt").render(values)
    subject = " ".join(subject.split())
    if not subject:
        raise RenderError(f"{name}: empty subject")
    text = env.get_template(f"{lang}/{name}/body.txt").render(values).strip() + "\n"
    html = env.get_template(f"{lang}/{name}/body.html").render(values).strip() + "\n"
    return RenderedMail(template=name, language=lang, subject=subject, text=text, html=html)
