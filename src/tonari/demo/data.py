"""The demo brand's fixed data: a Panasonic-like catalogue and name pools for customers.

Prices are in kopecks (minor units of RUB), as every amount in Tonari.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

DEMO_TENANT_SLUG = "panasonic-demo"
DEMO_TENANT_NAME = "Panasonic (demo)"
DEMO_SEED = 20_140_301
CUSTOMER_COUNT = 300
HISTORY_DAYS = 730
# (stage, done, total) — stages: "catalogue", "customers", "history", "ledger jobs".
ProgressCallback = Callable[[str, int, int], None]


@dataclass(slots=True)
class DemoSummary:
    """What the demo brand holds; ``api_key`` is set only when this call created the brand."""

    tenant_slug: str
    tenant_id: int
    created: bool
    api_key: str | None
    products: int
    customers: int
    orders: int
    tiers: dict[str, int] = field(default_factory=dict)
    customers_with_points: int = 0
    points_available: int = 0
    points_pending: int = 0
    sample_customer: str | None = None
    sample_card: str | None = None
    sample_products: list[str] = field(default_factory=list)


def programme_document() -> dict[str, Any]:
    """The Panasonic programme shipped inside the package (same as examples/programmes)."""
    text = resources.files("tonari.demo").joinpath("panasonic.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


@dataclass(frozen=True, slots=True)
class DemoProduct:
    product_id: str
    name: str
    category: str
    price: int  # kopecks


def _rub(roubles: int) -> int:
    return roubles * 100


CATALOGUE: tuple[DemoProduct, ...] = (
    # kitchen
    DemoProduct("NN-ST34HMZPE", "Microwave oven NN-ST34H", "kitchen", _rub(8_990)),
    DemoProduct("NN-GT264MZPE", "Microwave with grill NN-GT264", "kitchen", _rub(11_490)),
    DemoProduct("NN-CD87KSZPE", "Combination oven NN-CD87", "kitchen", _rub(39_990)),
    DemoProduct("SD-YR2550SZX", "Bread maker SD-YR2550", "kitchen", _rub(17_990)),
    DemoProduct("SD-ZB2502WTS", "Bread maker SD-ZB2502", "kitchen", _rub(13_490)),
    DemoProduct("SR-TMH18LTW", "Multicooker SR-TMH18", "kitchen", _rub(7_490)),
    DemoProduct("MX-S401STQ", "Blender MX-S401", "kitchen", _rub(4_990)),
    DemoProduct("MJ-L500STQ", "Juicer MJ-L500", "kitchen", _rub(8_490)),
    DemoProduct("MK-GB1WTS", "Meat grinder MK-GB1", "kitchen", _rub(12_990)),
    DemoProduct("NC-EG3000RSW", "Thermopot NC-EG3000", "kitchen", _rub(9_990)),
    # photo
    DemoProduct("DC-G100KEE", "Lumix G100 kit 12-32 mm", "photo", _rub(64_990)),
    DemoProduct("DC-S5M2EE", "Lumix S5 II body", "photo", _rub(219_990)),
    DemoProduct("DC-GH6EE", "Lumix GH6 body", "photo", _rub(189_990)),
    DemoProduct("DC-S9EE", "Lumix S9 body", "photo", _rub(159_990)),
    DemoProduct("DC-TZ99EE", "Lumix TZ99 compact", "photo", _rub(39_990)),
    DemoProduct("DC-FZ82EE", "Lumix FZ82 bridge camera", "photo", _rub(34_990)),
    DemoProduct("H-FS12060E", "Lumix G Vario 12-60 mm lens", "photo", _rub(34_990)),
    DemoProduct("S-R24105E", "Lumix S 24-105 mm F4 lens", "photo", _rub(99_990)),
    DemoProduct("S-S50E", "Lumix S 50 mm F1.8 lens", "photo", _rub(44_990)),
    DemoProduct("H-H020AE", "Lumix G 20 mm F1.7 lens", "photo", _rub(29_990)),
    # audio
    DemoProduct("EAH-AZ80E-K", "Technics EAH-AZ80 earbuds", "audio", _rub(27_990)),
    DemoProduct("RZ-S500WE-K", "Wireless earbuds RZ-S500W", "audio", _rub(10_990)),
    DemoProduct("RB-M700BE-K", "Headphones RB-M700B", "audio", _rub(14_990)),
    DemoProduct("SC-PMX802E-S", "Technics micro system SC-PMX802", "audio", _rub(39_990)),
    DemoProduct("SC-HC410EE-K", "Micro system SC-HC410", "audio", _rub(19_990)),
    DemoProduct("SL-1500CEE-S", "Technics SL-1500C turntable", "audio", _rub(84_990)),
    DemoProduct("SC-TMAX50E-K", "Party speaker SC-TMAX50", "audio", _rub(29_990)),
    DemoProduct("RP-HF100E-K", "Headphones RP-HF100", "audio", _rub(1_790)),
    # accessories
    DemoProduct("DMW-BLK22E", "Battery DMW-BLK22", "accessories", _rub(6_990)),
    DemoProduct("DMW-BLF19E", "Battery DMW-BLF19", "accessories", _rub(5_990)),
    DemoProduct("DMW-BTC15E", "Battery charger DMW-BTC15", "accessories", _rub(3_990)),
    DemoProduct("DMW-BGS5E", "Battery grip DMW-BGS5", "accessories", _rub(19_990)),
    DemoProduct("RP-SDZA128", "SDXC card 128 GB", "accessories", _rub(2_490)),
    DemoProduct("BK-3MCCE4BE", "Eneloop AA batteries, 4 pcs", "accessories", _rub(1_690)),
    DemoProduct("CR-2032EL-6B", "Lithium coin cells CR2032, 6 pcs", "accessories", _rub(390)),
    DemoProduct("ES-LV67-K820", "Shaver ES-LV67", "accessories", _rub(24_990)),
    # promo: earn 30% whatever the tier (product_bonuses in panasonic.yaml)
    DemoProduct("PROMO-BQ-CC55", "Promo: Eneloop charger + 4 AA", "promo", _rub(2_990)),
    DemoProduct("PROMO-RZ-B110", "Promo: earbuds RZ-B110", "promo", _rub(2_990)),
    DemoProduct("PROMO-NC-GK1", "Promo: kettle NC-GK1", "promo", _rub(3_990)),
    DemoProduct("PROMO-LUMIX-BAG", "Promo: Lumix camera bag", "promo", _rub(3_490)),
)

INTERESTS = ("kitchen", "photo", "audio")

MALE_FIRST = (
    "Александр",
    "Дмитрий",
    "Максим",
    "Сергей",
    "Андрей",
    "Алексей",
    "Артём",
    "Илья",
    "Кирилл",
    "Михаил",
    "Никита",
    "Егор",
    "Иван",
    "Роман",
    "Павел",
    "Владимир",
    "Олег",
    "Денис",
    "Евгений",
    "Константин",
)
FEMALE_FIRST = (
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Екатерина",
    "Светлана",
    "Юлия",
    "Анастасия",
    "Дарья",
    "Ксения",
    "Виктория",
    "Полина",
    "Алина",
    "Марина",
    "Людмила",
    "Вера",
    "Софья",
)
# (masculine, feminine) surname forms
SURNAMES = (
    ("Иванов", "Иванова"),
    ("Смирнов", "Смирнова"),
    ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"),
    ("Васильев", "Васильева"),
    ("Петров", "Петрова"),
    ("Соколов", "Соколова"),
    ("Михайлов", "Михайлова"),
    ("Новиков", "Новикова"),
    ("Фёдоров", "Фёдорова"),
    ("Морозов", "Морозова"),
    ("Волков", "Волкова"),
    ("Алексеев", "Алексеева"),
    ("Лебедев", "Лебедева"),
    ("Семёнов", "Семёнова"),
    ("Егоров", "Егорова"),
    ("Павлов", "Павлова"),
    ("Козлов", "Козлова"),
    ("Степанов", "Степанова"),
    ("Николаев", "Николаева"),
    ("Орлов", "Орлова"),
    ("Андреев", "Андреева"),
    ("Макаров", "Макарова"),
    ("Никитин", "Никитина"),
    ("Захаров", "Захарова"),
    ("Зайцев", "Зайцева"),
    ("Соловьёв", "Соловьёва"),
    ("Белов", "Белова"),
    ("Медведев", "Медведева"),
    ("Тарасов", "Тарасова"),
)
# (city, weight)
CITIES = (
    ("Москва", 30),
    ("Санкт-Петербург", 15),
    ("Новосибирск", 6),
    ("Екатеринбург", 6),
    ("Казань", 5),
    ("Нижний Новгород", 5),
    ("Самара", 4),
    ("Краснодар", 4),
    ("Ростов-на-Дону", 4),
    ("Воронеж", 3),
    ("Пермь", 3),
    ("Владивосток", 2),
    ("Калининград", 2),
    ("Тюмень", 2),
)
# Reserved example domains: the synthetic addresses can never reach a real person.
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
# Mobile prefixes (DEF codes) that phonenumbers accepts as valid Russian mobile numbers.
MOBILE_PREFIXES = ("903", "905", "909", "915", "916", "917", "925", "926", "977", "985", "999")

_TRANSLIT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
}


def transliterate(text: str) -> str:
    """Latin letters for an email local part (simplified BGN/PCGN)."""
    return "".join(_TRANSLIT.get(char, char) for char in text.lower())
