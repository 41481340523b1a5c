"""Seven customer databases of one brand, with the duplicates and noise of real ones.

``python -m bench.customers_generator --records 1000000 --out DIR [--seed 1]`` writes, for a
brand (Panasonic Russia) whose customers live in seven separate systems, one file per source,
``sources.yaml`` (the declarations Tonari imports them with) and ``truth.csv``
(``source,record_id,person_id``: who each record really is).

About 0.7·N people make N records: most people are in one system, some in two to five, a few
twice in the same one (a second loyalty card, a second web account). The first record of a
person is the clean one; the others carry the noise real duplicates carry: one-letter typos,
swapped first/last names, a maiden name, a diminutive (Саша for Александр), ё written as е, a
second or mistyped e-mail, gmail dots and +tags, another phone, day and month swapped. Every
source has its own columns, formats and gaps, and a small share of any source is garbage
('n/a', 31.02.1980, dates in the future, throwaway mailboxes). Households share a phone, an
address and now and then an e-mail: different people the resolver must keep apart.

Faker is slow (tens of microseconds a call), so it is only used to fill pools of names,
streets and cities once per locale; rows are combined from the pools with a seeded
``random.Random``. Rows are written as they are made (a per-source shuffle buffer, Parquet
one row group per buffer), so memory stays flat whatever N is. Same seed, same files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import resource
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "customers"
LOCALES = {"ru_RU": 0.86, "en_US": 0.05, "de_DE": 0.05, "fa_IR": 0.04}
# Records per person: mean ≈ 1.42, so N records describe ≈ 0.7·N people.
RECORDS_PER_PERSON = {1: 0.73, 2: 0.17, 3: 0.06, 4: 0.03, 5: 0.01}
SAME_SOURCE_AGAIN = 0.08  # a later record of a person lands in a source they are already in
SHUFFLE_ROWS = 20_000  # per source: rows are shuffled in blocks so files are not in person order
GARBAGE_SHARE = 0.02
DISPOSABLE_DOMAINS = ("mailinator.com", "yopmail.com", "guerrillamail.com", "10minutemail.com")
TODAY = date(2025, 6, 1)  # fixed, so the same seed writes the same files on any day

# --- pools --------------------------------------------------------------------------------


@dataclass
class LocalePool:
    male_first: list[str]
    female_first: list[str]
    male_last: list[str]
    female_last: list[str]
    male_middle: list[str]
    female_middle: list[str]
    user_names: list[str]


@dataclass
class Pools:
    locales: dict[str, LocalePool]
    cities: list[tuple[str, str, str]]  # (city, region, 3-digit postcode prefix)
    city_weights: list[float]
    streets: list[str]


def _unique(values: Iterator[str] | list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))  # ordered: sets would break the seed


def _derived_surnames(first_names: list[str]) -> list[str]:
    """Russian surnames grow from first names (Иван → Иванов, Никита → Никитин); Faker ships
    only 250, which would make every third Russian customer a namesake of another."""
    surnames = []
    for name in first_names:
        if name.endswith("ий"):
            surnames.append(name[:-2] + "ьев")
        elif name.endswith("й"):
            surnames.append(name[:-1] + "ев")
        elif name.endswith(("а", "я")):
            surnames.append(name[:-1] + "ин")
        elif name[-1] not in "ьеиоуыэю":
            surnames.append(name + "ов")
    return surnames


def build_pools(seed: int) -> Pools:
    from faker import Faker

    def draw(fake: Faker, method: str, count: int) -> list[str]:
        return _unique(getattr(fake, method)() for _ in range(count))

    locales = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        russian = locale == "ru_RU"
        male_last = draw(fake, "last_name_male", 3000)
        female_last = draw(fake, "last_name_female", 3000)
        male_first = draw(fake, "first_name_male", 3000)
        if russian:
            extra = _derived_surnames(male_first)
            male_last = _unique(male_last + extra)
            female_last = _unique(female_last + [s + "а" for s in extra])
        locales[locale] = LocalePool(
            male_first=male_first,
            female_first=draw(fake, "first_name_female", 3000),
            male_last=male_last,
            female_last=female_last,
            male_middle=draw(fake, "middle_name_male", 2000) if russian else [],
            female_middle=draw(fake, "middle_name_female", 2000) if russian else [],
            user_names=draw(fake, "user_name", 3000),
        )
    fake = Faker("ru_RU")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    regions = draw(fake, "region", 1000)
    towns = [c for c in draw(fake, "city_name", 3000) if c not in ("Москва", "Санкт-Петербург")]
    cities = [("Москва", "Москва", "101"), ("Санкт-Петербург", "Санкт-Петербург", "190")]
    cities += [(town, rng.choice(regions), f"{rng.randrange(300, 700)}") for town in towns]
    # Moscow and St Petersburg hold a third of a Russian retailer's customers.
    weights = [0.22, 0.10] + [0.68 / len(towns)] * len(towns)
    return Pools(locales, cities, weights, draw(fake, "street_name", 4000))


# --- people -------------------------------------------------------------------------------


@dataclass(slots=True)
class Person:
    person_id: str
    locale: str
    gender: str  # "M" or "F"
    first: str
    last: str
    middle: str
    maiden: str  # the last name before marriage, or ""
    birth: date
    email: str
    email2: str
    phone: str  # 10 national digits for Russian numbers, else E.164 with "+"
    phone2: str
    city: str
    region: str
    street: str
    house: str
    flat: str
    postcode: str
    card: str
    sources: list[str] = field(default_factory=list)


_TRANSLIT = str.maketrans(
    {
        **dict(zip("абвгдеёзийклмнопрстуфыэ", "abvgdeeziyklmnoprstufye", strict=True)),
        **{"ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ю": "yu"},
        **{"я": "ya", "ъ": None, "ь": None},
    }
)
RU_DOMAINS = (
    ("mail.ru", 0.28),
    ("yandex.ru", 0.24),
    ("gmail.com", 0.22),
    ("rambler.ru", 0.05),
    ("bk.ru", 0.05),
    ("list.ru", 0.04),
    ("inbox.ru", 0.04),
    ("ya.ru", 0.04),
    ("icloud.com", 0.04),
)
WEST_DOMAINS = (
    ("gmail.com", 0.45),
    ("outlook.com", 0.15),
    ("yahoo.com", 0.1),
    ("web.de", 0.1),
    ("gmx.de", 0.1),
    ("icloud.com", 0.1),
)
DIMINUTIVES = {
    "Александр": "Саша",
    "Александра": "Саша",
    "Алексей": "Лёша",
    "Анастасия": "Настя",
    "Андрей": "Андрюша",
    "Анна": "Аня",
    "Дмитрий": "Дима",
    "Евгений": "Женя",
    "Евгения": "Женя",
    "Екатерина": "Катя",
    "Елена": "Лена",
    "Иван": "Ваня",
    "Мария": "Маша",
    "Михаил": "Миша",
    "Наталья": "Наташа",
    "Николай": "Коля",
    "Ольга": "Оля",
    "Павел": "Паша",
    "Сергей": "Серёжа",
    "Татьяна": "Таня",
    "Владимир": "Вова",
    "Юлия": "Юля",
    "William": "Bill",
    "Robert": "Bob",
    "Katharina": "Kathi",
}


def _latin(text: str) -> str:
    """A mailbox-safe Latin spelling: our own transliteration for Cyrillic, accents dropped."""
    text = text.lower().replace("ß", "ss")
    text = text.translate(_TRANSLIT)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if ch.isascii() and (ch.isalnum() or ch in "._-"))


class IssuedValues:
    """E-mails and phones already given to someone, as a fixed 16 MiB bitmap: a false
    "taken" (well under 1% at a million people) only makes us draw another value."""

    def __init__(self, bits: int = 1 << 27) -> None:
        self._bits = bits
        self._map = bytearray(bits // 8)

    def claim(self, value: str) -> bool:
        digest = hashlib.blake2b(value.encode(), digest_size=8).digest()
        bit = int.from_bytes(digest, "little") % self._bits
        byte, mask = bit >> 3, 1 << (bit & 7)
        if self._map[byte] & mask:
            return False
        self._map[byte] |= mask
        return True


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


class PersonFactory:
    def __init__(self, pools: Pools, rng: random.Random) -> None:
        self.pools = pools
        self.rng = rng
        self.issued = IssuedValues()
        self.locale_names = list(LOCALES)
        self.locale_weights = list(LOCALES.values())
        self.recent: list[Person] = []  # the last few hundred people: households come from here
        self.count = 0

    def _email(self, locale: str, first: str, last: str, birth: date) -> str:
        rng = self.rng
        pool = self.pools.locales[locale]
        if locale == "fa_IR":  # Persian script has no standard Latin spelling: a user name
            f, last_latin = rng.choice(pool.user_names), ""
        else:
            f, last_latin = _latin(first), _latin(last)
        domain = _weighted(rng, RU_DOMAINS if locale == "ru_RU" else WEST_DOMAINS)
        for attempt in range(20):
            pattern = rng.randrange(7) if last_latin else 6
            local = (
                f"{f}.{last_latin}",
                f"{last_latin}.{f}",
                f"{f[:1]}{last_latin}",
                f"{last_latin}{birth.year % 100:02d}",
                f"{f}_{last_latin}{rng.randrange(1, 1000)}",
                f"{last_latin}{f[:1]}{birth.year}",
                f"{rng.choice(pool.user_names)}{rng.randrange(10, 100)}",
            )[pattern]
            if attempt:
                local += str(rng.randrange(1, 10_000))
            address = f"{local}@{domain}"
            if self.issued.claim(address):
                return address
        raise RuntimeError("no free e-mail address after 20 draws")

    def _phone(self, locale: str) -> str:
        rng = self.rng
        while True:
            if locale != "ru_RU" and rng.random() < 0.4:  # still on a number from home
                phone = {
                    "de_DE": f"+4915{rng.randrange(10**9):09d}",
                    "en_US": f"+1{rng.randrange(201, 990)}{rng.randrange(10**7):07d}",
                    "fa_IR": f"+989{rng.randrange(10**9):09d}",
                }[locale]
            else:
                phone = f"9{rng.randrange(10**9):09d}"
            if self.issued.claim(phone):
                return phone

    def make(self) -> Person:
        rng = self.rng
        self.count += 1
        locale = rng.choices(self.locale_names, self.locale_weights)[0]
        pool = self.pools.locales[locale]
        gender = "F" if rng.random() < 0.52 else "M"
        female = gender == "F"
        first = rng.choice(pool.female_first if female else pool.male_first)
        last = rng.choice(pool.female_last if female else pool.male_last)
        middles = pool.female_middle if female else pool.male_middle
        middle = rng.choice(middles) if middles else ""
        maiden = rng.choice(pool.female_last) if female and rng.random() < 0.25 else ""
        age_days = int(365.25 * (18 + rng.triangular(0, 67, 17)))
        birth = TODAY - timedelta(days=age_days + rng.randrange(365))
        city, region, prefix = rng.choices(self.pools.cities, self.pools.city_weights)[0]
        person = Person(
            person_id=f"P{self.count:08d}",
            locale=locale,
            gender=gender,
            first=first,
            last=last,
            middle=middle,
            maiden=maiden,
            birth=birth,
            email=self._email(locale, first, last, birth),
            email2=self._email(locale, first, last, birth) if rng.random() < 0.25 else "",
            phone=self._phone(locale),
            phone2=self._phone(locale) if rng.random() < 0.15 else "",
            city=city,
            region=region,
            street=rng.choice(self.pools.streets),
            house=str(rng.randrange(1, 160)),
            flat=str(rng.randrange(1, 400)) if rng.random() < 0.85 else "",
            postcode=f"{prefix}{rng.randrange(1000):03d}",
            card=f"27{(self.count * 7919 + 13) % 10**11:011d}" if rng.random() < 0.45 else "",
        )
        self._household(person)
        return person

    def _household(self, person: Person) -> None:
        """Now and then the new person lives with someone already made: a shared landline or
        family phone, the same flat, sometimes one family mailbox."""
        rng = self.rng
        if self.recent and rng.random() < 0.015:
            other = rng.choice(self.recent)
            person.phone = other.phone
            person.city, person.region, person.postcode = other.city, other.region, other.postcode
            person.street, person.house, person.flat = other.street, other.house, other.flat
            if person.locale == other.locale and person.gender == other.gender:
                person.last = other.last
            if rng.random() < 0.3:
                person.email = other.email
        self.recent.append(person)
        if len(self.recent) > 500:
            del self.recent[:250]


# --- one record of a person, as one source holds it ---------------------------------------

CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыьэюя"
LATIN = "abcdefghijklmnopqrstuvwxyz"
PERSIAN = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
DOMAIN_TYPOS = {
    "gmail.com": ("gmial.com", "gmai.com", "gmail.co", "gnail.com"),
    "mail.ru": ("mial.ru", "mali.ru", "mail.ry", "maill.ru"),
    "yandex.ru": ("yandx.ru", "yandex.ry", "yadex.ru", "yandeks.ru"),
    "rambler.ru": ("rambler.ry", "ramber.ru"),
    "outlook.com": ("outlok.com", "outloook.com"),
}


def typo(text: str, rng: random.Random) -> str:
    """One edit: a letter dropped, doubled, swapped with its neighbour or replaced by a letter
    of the same script."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    op = rng.randrange(4)
    if op == 0:
        return text[:i] + text[i + 1 :]
    if op == 1:
        return text[:i] + text[i] + text[i:]
    if op == 2:
        return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]
    lower = text[i].lower()
    alphabet = CYRILLIC if lower in CYRILLIC else PERSIAN if lower in PERSIAN else LATIN
    return text[:i] + rng.choice(alphabet) + text[i + 1 :]


def _email_variant(email: str, rng: random.Random) -> str:
    local, _, domain = email.partition("@")
    roll = rng.random()
    if domain == "gmail.com" and roll < 0.35:  # gmail ignores dots and +tags: people use both
        if rng.random() < 0.5 and len(local) > 3:
            i = rng.randrange(1, len(local) - 1)
            local = local[:i] + "." + local[i:]
        else:
            local += rng.choice(("+shop", "+panasonic", "+promo", "+1"))
        return f"{local}@{domain}"
    if roll < 0.5:
        return f"{local}@{rng.choice(DOMAIN_TYPOS.get(domain, (typo(domain, rng),)))}"
    if roll < 0.65:
        return f"{typo(local, rng)}@{domain}"
    return f"{local.capitalize()}@{domain.capitalize()}" if roll < 0.8 else email.upper()


@dataclass(slots=True)
class View:
    """What one record says about its person (before the source's own formats)."""

    person: Person
    first: str
    last: str
    middle: str
    gender: str
    birth: tuple[int, int, int] | None  # (year, month, day): may be impossible, e.g. 31.02
    email: str
    phone: str  # as in Person, or garbage text
    card: str


def make_view(person: Person, duplicate: bool, rng: random.Random) -> View:
    first, last, middle = person.first, person.last, person.middle
    email, phone = person.email, person.phone
    birth: tuple[int, int, int] | None = (person.birth.year, person.birth.month, person.birth.day)
    if duplicate:
        if person.maiden and rng.random() < 0.35:
            last = person.maiden
        if rng.random() < 0.08:
            first = DIMINUTIVES.get(first, first)
        if rng.random() < 0.07:
            first = typo(first, rng)
        if rng.random() < 0.07:
            last = typo(last, rng)
        if rng.random() < 0.03:
            first, last = last, first
        if person.email2 and rng.random() < 0.4:
            email = person.email2
        if rng.random() < 0.12:
            email = _email_variant(email, rng)
        if person.phone2 and rng.random() < 0.4:
            phone = person.phone2
        y, m, d = birth
        if d <= 12 and d != m and rng.random() < 0.03:
            birth = (y, d, m)
        elif rng.random() < 0.02:
            birth = (y + rng.choice((-1, 1)), m, d)
    if rng.random() < 0.5:  # most systems (and people) write ё as е
        first, last, middle = (n.replace("ё", "е") for n in (first, last, middle))
    if rng.random() < GARBAGE_SHARE:
        what = rng.randrange(3)
        if what == 0:
            email = rng.choice(("n/a", "нет", "-", "test@test", email.split("@")[0] + "@", "0"))
        elif what == 1:
            phone = rng.choice(("-", "0", "нет", "+7 (000) 000-00-00", "123", "n/a"))
        else:
            birth = rng.choice(
                ((1980 + rng.randrange(20), 2, 31), (1900, 1, 1), (0, 0, 0), (2031, 5, 12))
            )
    if rng.random() < 0.004:
        email = f"{_latin(first) or 'user'}{rng.randrange(10**6)}@{rng.choice(DISPOSABLE_DOMAINS)}"
    return View(person, first, last, middle, person.gender, birth, email, phone, person.card)


# --- formats ------------------------------------------------------------------------------


def iso(b: tuple[int, int, int] | None) -> str:
    return "" if b is None else f"{b[0]:04d}-{b[1]:02d}-{b[2]:02d}"


def dotted(b: tuple[int, int, int] | None) -> str:
    return "" if b is None else f"{b[2]:02d}.{b[1]:02d}.{b[0]:04d}"


def slashed(b: tuple[int, int, int] | None) -> str:
    return "" if b is None else f"{b[2]:02d}/{b[1]:02d}/{b[0]:04d}"


PHONE_STYLES: dict[str, Callable[[str], str]] = {
    "e164": lambda n: f"+7{n}",
    "8_paren": lambda n: f"8 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
    "plus7_paren": lambda n: f"+7 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
    "plus7_spaced": lambda n: f"+7 {n[:3]} {n[3:6]}-{n[6:8]}-{n[8:]}",
    "7digits": lambda n: f"7{n}",
    "8digits": lambda n: f"8{n}",
    "local10": lambda n: n,
}


def phone_text(view: View, style: str, rng: random.Random) -> str:
    """The source's own format, and about one row in seven in whatever the customer typed."""
    number = view.phone
    if len(number) != 10 or not number.isdigit():  # foreign E.164 or garbage: as written
        return number
    if rng.random() < 0.15:
        style = rng.choice(tuple(PHONE_STYLES))
    return PHONE_STYLES[style](number)


def keep(rng: random.Random, share: float) -> bool:
    return rng.random() < share


def address_text(p: Person) -> str:
    flat = f", кв. {p.flat}" if p.flat else ""
    return f"{p.street}, д. {p.house}{flat}"


# --- the seven sources --------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    file: str
    trust: int
    date_order: str
    columns: dict[str, str]  # file column -> Tonari field; the file's column order
    row: Callable[[View, random.Random], list[Any]]  # values after the record id
    weight: float  # share of source records
    record_ids_are_people: bool = False
    encoding: str | None = None
    format: str = "csv"
    record_id: Callable[[int, random.Random], Any] = lambda n, rng: str(n)
    gender_bias: float = 1.0  # >1: more women (cooking club), <1: more men (camera club)
    sparse_json: bool = False  # JSON lines leave out unknown keys instead of writing null


def online_store(v: View, rng: random.Random) -> list[Any]:
    p = v.person
    return [
        v.email,
        v.first,
        v.last if keep(rng, 0.95) else "",
        phone_text(v, "e164", rng) if keep(rng, 0.7) else "",
        iso(v.birth) if keep(rng, 0.55) else "",
        p.city if keep(rng, 0.8) else "",
        v.card if keep(rng, 0.5) else "",
        (TODAY - timedelta(days=rng.randrange(3650))).isoformat(),
    ]


def offline_stores(v: View, rng: random.Random) -> list[Any]:
    parts = [v.last, v.first] + ([v.middle] if v.middle and keep(rng, 0.75) else [])
    fio = " ".join(parts)
    if keep(rng, 0.3):  # older tills print everything in capitals
        fio = fio.upper()
    card = v.card or f"28{rng.randrange(10**11):011d}"
    return [
        card,
        fio,
        phone_text(v, "8_paren", rng) if keep(rng, 0.93) else "",
        dotted(v.birth) if keep(rng, 0.7) else "",
        v.person.city,
        ("М" if v.gender == "M" else "Ж") if keep(rng, 0.8) else "",
        v.email if keep(rng, 0.25) else "",
    ]


def cooking_club(v: View, rng: random.Random) -> list[Any]:
    return [
        v.first,
        v.last if keep(rng, 0.9) else None,
        v.email if keep(rng, 0.9) else None,
        phone_text(v, "plus7_spaced", rng) if keep(rng, 0.6) else None,
        slashed(v.birth) if keep(rng, 0.5) else None,
        v.person.city if keep(rng, 0.7) else None,
        ("female" if v.gender == "F" else "male") if keep(rng, 0.9) else None,
    ]


def camera_club(v: View, rng: random.Random) -> list[Any]:
    return [
        v.last,
        v.first,
        v.middle if keep(rng, 0.6) else "",
        v.email if keep(rng, 0.85) else "",
        phone_text(v, "plus7_paren", rng) if keep(rng, 0.5) else "",
        v.person.city if keep(rng, 0.8) else "",
        dotted(v.birth) if keep(rng, 0.3) else "",
    ]


def service_centre(v: View, rng: random.Random) -> list[Any]:
    p = v.person
    if p.locale == "ru_RU" and keep(rng, 0.5):
        name = " ".join(filter(None, (v.last, v.first, v.middle if keep(rng, 0.5) else "")))
    else:
        name = f"{v.first} {v.last}"
    return [
        name,
        phone_text(v, "8digits", rng) if keep(rng, 0.95) else "",
        v.email if keep(rng, 0.6) else "",
        address_text(p) if keep(rng, 0.85) else "",
        p.postcode if keep(rng, 0.6) else "",
        p.city,
        p.region if keep(rng, 0.7) else "",
        rng.choice(("NN-SN686", "KX-TG1611", "ES-RT37", "SD-ZB2502", "NR-BN30", "DMC-FZ82")),
        f"{TODAY - timedelta(days=rng.randrange(3000))} {rng.randrange(9, 20):02d}:"
        f"{rng.randrange(60):02d}:00",
    ]


def _bank_birth(b: tuple[int, int, int] | None) -> date | None:
    """A bank stores real dates: an impossible one is entered as its placeholder 1900-01-01."""
    if b is None:
        return None
    try:
        return date(*b)
    except ValueError:
        return date(1900, 1, 1)


def bank_cards(v: View, rng: random.Random) -> list[Any]:
    p = v.person  # a bank knows its customers (KYC): full names, no diminutives or gaps
    return [
        p.last,
        p.first,
        p.middle or None,
        _bank_birth(v.birth),
        p.gender,
        phone_text(v, "e164", rng),
        v.email if keep(rng, 0.7) else None,
        address_text(p),
        p.postcode,
        p.city,
        p.region,
        v.card or None,
        datetime.combine(TODAY - timedelta(days=rng.randrange(2200)), clock_time(12)),
    ]


def mobile_app(v: View, rng: random.Random) -> list[Any]:
    return [
        f"{rng.getrandbits(64):016x}",
        phone_text(v, "7digits", rng) if keep(rng, 0.9) else None,
        v.email if keep(rng, 0.6) else None,
        v.first if keep(rng, 0.8) else None,
        v.card if v.card and keep(rng, 0.8) else None,
        ("f" if v.gender == "F" else "m") if keep(rng, 0.5) else None,
        iso(v.birth) if keep(rng, 0.4) else None,
    ]


SOURCES = (
    Source(
        name="online_store",
        title="Online store",
        file="online_store.csv",
        trust=80,
        date_order="YMD",
        columns={
            "customer_id": "record_id",
            "email": "email",
            "first_name": "first_name",
            "last_name": "last_name",
            "phone": "phone",
            "birthday": "birth_date",
            "city": "city",
            "loyalty_card": "card_number",
            "registered_at": "updated_at",
        },
        row=online_store,
        weight=0.25,
        record_id=lambda n, rng: str(100_000 + n),
    ),
    Source(
        name="offline_stores",
        title="Offline stores (POS loyalty)",
        file="offline_stores.csv",
        trust=60,
        date_order="DMY",
        columns={
            "client_code": "record_id",
            "card_no": "card_number",
            "fio": "full_name",
            "phone": "phone",
            "dob": "birth_date",
            "store_city": "city",
            "sex": "gender",
            "email": "email",
        },
        row=offline_stores,
        weight=0.22,
        record_id=lambda n, rng: f"K{n:08d}",
    ),
    Source(
        name="cooking_club",
        title="Cooking club",
        file="cooking_club.jsonl",
        trust=50,
        date_order="DMY",
        format="jsonl",
        columns={
            "member_id": "record_id",
            "first_name": "first_name",
            "last_name": "last_name",
            "email": "email",
            "mobile": "phone",
            "birth_date": "birth_date",
            "city": "city",
            "gender": "gender",
        },
        row=cooking_club,
        weight=0.09,
        record_id=lambda n, rng: f"CC-{n:06d}",
        gender_bias=1.8,
    ),
    Source(
        name="camera_club",
        title="Camera club (LUMIX)",
        file="camera_club.csv",
        trust=50,
        date_order="DMY",
        encoding="cp1251",
        columns={
            "Номер": "record_id",
            "Фамилия": "last_name",
            "Имя": "first_name",
            "Отчество": "middle_name",
            "Email": "email",
            "Телефон": "phone",
            "Город": "city",
            "Дата рождения": "birth_date",
        },
        row=camera_club,
        weight=0.08,
        gender_bias=0.45,
    ),
    Source(
        name="service_centre",
        title="Service centre",
        file="service_centre.csv",
        trust=70,
        date_order="YMD",
        columns={
            "ticket_customer_id": "record_id",
            "full_name": "full_name",
            "phone": "phone",
            "email": "email",
            "address": "address",
            "postcode": "postcode",
            "city": "city",
            "region": "region",
            "product_model": "",  # not a customer field: left unmapped on purpose
            "updated": "updated_at",
        },
        row=service_centre,
        weight=0.12,
        record_id=lambda n, rng: f"SC-{n:07d}",
    ),
    Source(
        name="bank_cards",
        title="Co-brand bank card",
        file="bank_cards.parquet",
        trust=95,
        date_order="YMD",
        format="parquet",
        record_ids_are_people=True,
        columns={
            "client_id": "record_id",
            "last_name": "last_name",
            "first_name": "first_name",
            "middle_name": "middle_name",
            "birth_date": "birth_date",
            "gender": "gender",
            "phone": "phone",
            "email": "email",
            "address": "address",
            "postcode": "postcode",
            "city": "city",
            "region": "region",
            "loyalty_card": "card_number",
            "updated_at": "updated_at",
        },
        row=bank_cards,
        weight=0.08,
        record_id=lambda n, rng: 40_000_000 + n,
    ),
    Source(
        name="mobile_app",
        title="Mobile app",
        file="mobile_app.jsonl",
        trust=65,
        date_order="YMD",
        format="jsonl",
        columns={
            "user_id": "record_id",
            "device_id": "anonymous_id",
            "phone": "phone",
            "email": "email",
            "first_name": "first_name",
            "loyalty_card": "card_number",
            "gender": "gender",
            "birth_date": "birth_date",
        },
        row=mobile_app,
        weight=0.16,
        sparse_json=True,  # an app backend's export: keys of unknown values are absent
        record_id=lambda n, rng: f"u{n:07d}",
    ),
)
BANK_SCHEMA = pa.schema(
    [
        ("client_id", pa.int64()),
        ("last_name", pa.string()),
        ("first_name", pa.string()),
        ("middle_name", pa.string()),
        ("birth_date", pa.date32()),
        ("gender", pa.string()),
        ("phone", pa.string()),
        ("email", pa.string()),
        ("address", pa.string()),
        ("postcode", pa.string()),
        ("city", pa.string()),
        ("region", pa.string()),
        ("loyalty_card", pa.string()),
        ("updated_at", pa.timestamp("s")),
    ]
)


def sources_document(sources: tuple[Source, ...] = SOURCES) -> dict[str, Any]:
    """``sources.yaml`` in Tonari's format; every column is mapped explicitly."""
    declared = []
    for source in sources:
        entry: dict[str, Any] = {
            "name": source.name,
            "title": source.title,
            "trust": source.trust,
            "region": "RU",
            "date_order": source.date_order,
        }
        if source.encoding:
            entry["encoding"] = source.encoding
        entry["format"] = source.format
        entry["record_ids_are_people"] = source.record_ids_are_people
        entry["columns"] = {column: f for column, f in source.columns.items() if f}
        declared.append(entry)
    return {"sources": declared}


# --- writing ------------------------------------------------------------------------------


class SourceWriter:
    """One source's file: rows wait in a shuffle buffer, get their record ids when it is
    flushed, and go to the file and to truth.csv together."""

    def __init__(self, source: Source, out: Path, truth: Any, rng: random.Random) -> None:
        self.source = source
        self.path = out / source.file
        self.truth = truth
        self.rng = rng
        self.buffer: list[tuple[str, list[Any]]] = []
        self.written = 0
        self._parquet: pq.ParquetWriter | None = None
        if source.format == "parquet":
            self._parquet = pq.ParquetWriter(self.path, BANK_SCHEMA, compression="zstd")
            self._file = None
        else:
            encoding = source.encoding or "utf-8"
            errors = "replace"  # a cp1251 system stores Persian or German letters as "?"
            self._file = self.path.open("w", encoding=encoding, errors=errors, newline="")
            if source.format == "csv":
                self._csv = csv.writer(self._file)
                self._csv.writerow(list(source.columns))

    def add(self, person_id: str, values: list[Any]) -> None:
        self.buffer.append((person_id, values))
        if len(self.buffer) >= SHUFFLE_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        self.rng.shuffle(self.buffer)
        ids = []
        for _ in self.buffer:
            self.written += 1
            ids.append(self.source.record_id(self.written, self.rng))
        name, columns = self.source.name, list(self.source.columns)
        self.truth.writerows(
            (name, rid, pid) for rid, (pid, _) in zip(ids, self.buffer, strict=True)
        )
        if self._parquet is not None:
            rows = [[rid, *values] for rid, (_, values) in zip(ids, self.buffer, strict=True)]
            arrays = {col: [row[i] for row in rows] for i, col in enumerate(columns)}
            self._parquet.write_table(pa.table(arrays, schema=BANK_SCHEMA))
        elif self.source.format == "csv":
            self._csv.writerows(
                [rid, *values] for rid, (_, values) in zip(ids, self.buffer, strict=True)
            )
        else:
            assert self._file is not None
            write = self._file.write
            for rid, (_, values) in zip(ids, self.buffer, strict=True):
                row = dict(zip(columns, [rid, *values], strict=True))
                if self.source.sparse_json:
                    row = {c: v for c, v in row.items() if v is not None}
                write(json.dumps(row, ensure_ascii=False) + "\n")
        self.buffer.clear()

    def close(self) -> None:
        self.flush()
        if self._parquet is not None:
            self._parquet.close()
        elif self._file is not None:
            self._file.close()


def _pick_sources(person: Person, count: int, rng: random.Random) -> list[Source]:
    chosen: list[Source] = []
    for _ in range(count):
        if chosen and rng.random() < SAME_SOURCE_AGAIN:
            again = [s for s in chosen if not s.record_ids_are_people]
            if again:
                chosen.append(rng.choice(again))
                continue
        left = [s for s in SOURCES if s not in chosen] or list(SOURCES)
        weights = [
            s.weight * (s.gender_bias if person.gender == "F" else 1 / s.gender_bias) for s in left
        ]
        chosen.append(rng.choices(left, weights)[0])
    return chosen


@dataclass
class GenerationSummary:
    records: int
    people: int
    seconds: float
    peak_rss_mb: float
    per_source: dict[str, int]
    bytes_per_file: dict[str, int]
    out: str
    seed: int


def generate(records: int, out: Path, seed: int = 1) -> GenerationSummary:
    """Write ``records`` source records (about 0.7·records people) into ``out``."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    factory = PersonFactory(build_pools(seed), rng)
    sizes, size_weights = list(RECORDS_PER_PERSON), list(RECORDS_PER_PERSON.values())
    with (out / "truth.csv").open("w", encoding="utf-8", newline="") as truth_file:
        truth = csv.writer(truth_file)
        truth.writerow(["source", "record_id", "person_id"])
        writers = {
            s.name: SourceWriter(s, out, truth, random.Random(f"{seed}-{s.name}")) for s in SOURCES
        }
        made = 0
        while made < records:
            person = factory.make()
            count = min(rng.choices(sizes, size_weights)[0], records - made)
            seen: set[str] = set()
            for index, source in enumerate(_pick_sources(person, count, rng)):
                if source.name == "offline_stores" and not person.card and index == 0:
                    person.card = f"27{(factory.count * 7919 + 13) % 10**11:011d}"
                view = make_view(person, index > 0, rng)
                if source.name in seen:  # the second account or card in the same system
                    view.card = ""
                seen.add(source.name)
                writers[source.name].add(person.person_id, source.row(view, rng))
            made += count
        for writer in writers.values():
            writer.close()
    document = sources_document()
    (out / "sources.yaml").write_text(
        "# Written by bench/customers_generator.py: the seven sources of the identity benchmark.\n"
        + yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    files = [s.file for s in SOURCES] + ["truth.csv", "sources.yaml"]
    summary = GenerationSummary(
        records=records,
        people=factory.count,
        seconds=round(time.perf_counter() - started, 2),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        per_source={name: w.written for name, w in writers.items()},
        bytes_per_file={f: (out / f).stat().st_size for f in files},
        out=str(out),
        seed=seed,
    )
    (out / "generation.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.customers_generator", description=__doc__
    )
    parser.add_argument("--records", type=int, default=1_000_000, help="source records in all")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"folder (default {DEFAULT_OUT})"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    summary = generate(args.records, args.out, args.seed)
    print(
        f"{summary.records:,} records of {summary.people:,} people in {summary.seconds:.1f} s "
        f"({summary.records / summary.seconds:,.0f} records/s), "
        f"peak RSS {summary.peak_rss_mb:.0f} MB"
    )
    for name, count in summary.per_source.items():
        print(f"  {name:<16} {count:>9,} records")
    for name, size in summary.bytes_per_file.items():
        print(f"  {name:<20} {size / 1e6:>8.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
