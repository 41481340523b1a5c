"""Data about mail domains: common typos and the address rules of big providers.

Kept as plain tables so that adding a typo or a provider is one line and one test, not code.
"""

from __future__ import annotations

from dataclasses import dataclass

# Misspelt domain -> the domain people meant. Only misspellings that are not real mail domains
# of their own belong here; each one is tested.
TYPO_DOMAINS: dict[str, str] = {
    # Gmail
    "gmial.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gmal.com": "gmail.com",
    "gmail.co": "gmail.com",
    "gmail.cm": "gmail.com",
    "gmail.con": "gmail.com",
    "gmail.ru": "gmail.com",
    # Hotmail, Yahoo
    "hotmial.com": "hotmail.com",
    "hotmal.com": "hotmail.com",
    "hotmail.co": "hotmail.com",
    "yaho.com": "yahoo.com",
    "yahooo.com": "yahoo.com",
    # Mail.ru family
    "mail.rh": "mail.ru",
    "mail.ry": "mail.ru",
    "mail.tu": "mail.ru",
    "mial.ru": "mail.ru",
    "mai.ru": "mail.ru",
    "maill.ru": "mail.ru",
    "list.r": "list.ru",
    "inbox.ry": "inbox.ru",
    "bk.rj": "bk.ru",
    "bk.ry": "bk.ru",
    # Yandex
    "yandex.ry": "yandex.ru",
    "yandex.rh": "yandex.ru",
    "yndex.ru": "yandex.ru",
    "yandx.ru": "yandex.ru",
    "yanex.ru": "yandex.ru",
}


@dataclass(frozen=True)
class ProviderRule:
    """How one provider maps many written forms of an address onto one mailbox.

    ``canonical_domain``: all the provider's domains deliver to the same mailbox.
    ``strips_plus_tag``: "name+shop@" reaches "name@" ("+" cannot be part of a login there).
    ``ignores_dots``: "i.van@" reaches "ivan@" (Gmail).
    ``dots_are_hyphens``: "ivan.petrov@" reaches "ivan-petrov@" (Yandex).
    """

    domains: frozenset[str]
    canonical_domain: str | None
    strips_plus_tag: bool
    ignores_dots: bool = False
    dots_are_hyphens: bool = False


PROVIDER_RULES: tuple[ProviderRule, ...] = (
    ProviderRule(
        domains=frozenset({"gmail.com", "googlemail.com"}),
        canonical_domain="gmail.com",
        strips_plus_tag=True,
        ignores_dots=True,
    ),
    ProviderRule(
        domains=frozenset(
            {"yandex.ru", "ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua"}
        ),
        canonical_domain="yandex.ru",
        strips_plus_tag=True,
        dots_are_hyphens=True,
    ),
    # Mail.ru's domains are separate mailboxes (ivan@bk.ru is not ivan@mail.ru), so no
    # canonical domain; but "+" is not allowed in their logins, so a tag can only be an alias.
    ProviderRule(
        domains=frozenset({"mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "mail.ua"}),
        canonical_domain=None,
        strips_plus_tag=True,
    ),
    ProviderRule(
        domains=frozenset({"outlook.com", "hotmail.com", "live.com"}),
        canonical_domain=None,
        strips_plus_tag=True,
    ),
)

PROVIDER_RULE_BY_DOMAIN: dict[str, ProviderRule] = {
    domain: rule for rule in PROVIDER_RULES for domain in rule.domains
}
