"""Cleaning email addresses: syntax, typo domains, disposable domains, a key for matching.

Two forms come out of one address. ``value`` is the address as the person wrote it (domain
lower-cased, internationalised domains normalised) and is the one to send mail to, because a
provider may treat the local part's case or dots as significant. ``matching_key`` folds every
spelling that reaches the same mailbox into one string (Gmail dots, "+tags", Yandex's
ya.ru/yandex.ru), so identity resolution sees one person, not three.
"""

from __future__ import annotations

from dataclasses import dataclass

from disposable_email_domains import blocklist as disposable_domains
from email_validator import EmailNotValidError, validate_email

from tonari.profiles.email_domains import PROVIDER_RULE_BY_DOMAIN, TYPO_DOMAINS
from tonari.profiles.flags import CleanedValue, Flag, FlagCode, empty_flag


@dataclass(frozen=True, kw_only=True)
class CleanedEmail(CleanedValue[str]):
    """``value``: the address to send to; ``matching_key``: one string per real mailbox."""

    matching_key: str | None = None


def _strip_decoration(raw: str) -> str:
    """Remove what surrounds an address when copied from mail clients: spaces, <>, mailto:."""
    text = raw.strip().strip("<>").strip()
    if text.casefold().startswith("mailto:"):
        text = text[len("mailto:") :]
    return text.strip()


def correct_typo_domain(address: str) -> tuple[str, str | None]:
    """Replace a known misspelt domain; returns the address and the misspelling, if any."""
    local_part, at, domain = address.rpartition("@")
    if not at:
        return address, None
    corrected = TYPO_DOMAINS.get(domain.casefold())
    if corrected is None:
        return address, None
    return f"{local_part}@{corrected}", domain


def is_disposable_domain(domain: str) -> bool:
    """True for throwaway-mail domains and their subdomains (the list names only the parent)."""
    labels = domain.casefold().split(".")
    return any(".".join(labels[start:]) in disposable_domains for start in range(len(labels) - 1))


def email_matching_key(local_part: str, ascii_domain: str) -> str:
    """Fold the spellings of one mailbox into one key (see the provider rules)."""
    domain = ascii_domain.casefold()
    local = local_part.casefold()
    rule = PROVIDER_RULE_BY_DOMAIN.get(domain)
    if rule is None:
        return f"{local}@{domain}"
    if rule.strips_plus_tag:
        local = local.split("+", 1)[0]
    if rule.ignores_dots:
        local = local.replace(".", "")
    if rule.dots_are_hyphens:
        local = local.replace(".", "-")
    return f"{local}@{rule.canonical_domain or domain}"


def clean_email(raw: str | None) -> CleanedEmail:
    """Validate and normalise one address (no DNS lookups: imports must not wait on the net).

    A corrected typo is good evidence for matching but a guess for sending, so it is kept out
    of messaging until the person confirms it. A disposable address says nothing lasting about
    a person and reaches nobody a month later, so it is kept out of both.
    """
    if raw is None or not raw.strip():
        return CleanedEmail(value=None, original=raw, flags=(empty_flag("email address"),))
    flags: list[Flag] = []
    address, misspelt_domain = correct_typo_domain(_strip_decoration(raw))
    if misspelt_domain is not None:
        flags.append(
            Flag(
                FlagCode.TYPO_DOMAIN_CORRECTED,
                f'The domain "{misspelt_domain}" looks like a typo; read as '
                f'"{address.rpartition("@")[2]}".',
            )
        )
    try:
        validated = validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        flags.append(Flag(FlagCode.INVALID_SYNTAX, f"Not a valid email address: {error}"))
        return CleanedEmail(value=None, original=raw, flags=tuple(flags))
    if is_disposable_domain(validated.ascii_domain):
        flags.append(
            Flag(
                FlagCode.DISPOSABLE_DOMAIN,
                f'"{validated.domain}" hands out throwaway addresses that stop working.',
            )
        )
    is_disposable = any(flag.code is FlagCode.DISPOSABLE_DOMAIN for flag in flags)
    return CleanedEmail(
        value=validated.normalized,
        original=raw,
        flags=tuple(flags),
        usable_for_matching=not is_disposable,
        usable_for_messaging=not is_disposable and misspelt_domain is None,
        matching_key=email_matching_key(validated.local_part, validated.ascii_domain),
    )
