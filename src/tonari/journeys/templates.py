"""The seeds' triggers, shipped as journey templates a marketer switches on by name.

Each template is a journey definition plus the message templates it sends (subject, HTML and
text in the brand's voice, Jinja2 with the customer's current data: ``first_name``,
``points``, ``tier``, ``next_tier``, ``expiring``, ``wishlist``; and the journey's own
``cart``, ``promo_code``, ``temporary_points`` and ``data``). The seeds give the mechanics;
where they give no number (how long to wait, how many temporary points) the number here is
ours, stated in docs/journeys.md, and every one of them can be changed per journey.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HOUR = 3_600
DAY = 86_400

# How long the abandoned cart waits for the order before the reminder (issue 5: 2 hours),
# then for the order before the temporary points, and those points.
CART_WAIT_SECONDS = 2 * HOUR
CART_SECOND_WAIT_SECONDS = 1 * DAY
CART_TEMPORARY_POINTS = 500
CART_TEMPORARY_DAYS = 3
REACTIVATION_AFTER_DAYS = 90
PHOTO_GEAR_POOL = "photo-gear"


@dataclass(frozen=True)
class MessageSpec:
    key: str
    subject: str
    text: str
    html: str | None = None
    channel: str = "email"
    topic: str = "marketing"


@dataclass(frozen=True)
class ShippedTemplate:
    name: str
    title: str
    description: str
    definition: dict[str, Any]
    messages: list[MessageSpec] = field(default_factory=list)
    priority: int = 0

    @property
    def entry(self) -> str:
        entry = self.definition["entry"]
        if "event" in entry:
            return f"event {entry['event']}"
        if "segment" in entry:
            return f"segment {entry['segment']}"
        return f"date {entry['date']} ({entry.get('days_before', 0)} days before)"


def _html(text: str) -> str:
    """A plain HTML rendering of the text part: one paragraph per paragraph."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    body = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return (
        '<div style="font-family:Arial,sans-serif;max-width:600px">'
        f"{body}"
        '<p><a href="{{ magic_link }}">Open my account</a></p></div>'
    )


def _message(key: str, subject: str, text: str, **extra: Any) -> MessageSpec:
    return MessageSpec(key=key, subject=subject, text=text, html=_html(text), **extra)


HELLO = "{{ first_name or 'Hello' }},"
BALANCE = "You have {{ points.available }} points{% if tier %} ({{ tier.name }}){% endif %}."

ABANDONED_VIEW = ShippedTemplate(
    name="abandoned_view",
    title="Abandoned product view",
    description="Viewed a product and did not put it in the cart within 3 hours: a reminder "
    "with the customer's own price; again for the same product after 30 days at most.",
    definition={
        "entry": {
            "event": "product_viewed",
            "key": "entity",
            "reentry": "after_days",
            "reentry_days": 30,
        },
        "start": "wait_cart",
        "steps": {
            "wait_cart": {
                "type": "wait_for_event",
                "kind": "added_to_cart",
                "same_key": True,
                "timeout_seconds": 3 * HOUR,
                "on_timeout": "remind",
            },
            "remind": {"type": "send", "template": "abandoned_view.reminder", "next": "bought"},
            "bought": {"type": "goal", "event": "order.placed", "within_seconds": 3 * DAY},
        },
    },
    messages=[
        _message(
            "abandoned_view.reminder",
            "Still thinking it over, {{ first_name or 'friend' }}?",
            f"{HELLO}\n\nYou looked at a product on our site and did not add it to your cart. "
            "It is still there for you.\n\n"
            "{% for item in wishlist %}{{ item.name }}: {{ item.regular_price_text }}"
            "{% if item.personal_price_text %}, your price with points "
            "{{ item.personal_price_text }}{% endif %}\n{% endfor %}\n"
            f"{BALANCE} You can pay up to half of a product's price with them.",
        )
    ],
)

ABANDONED_CART = ShippedTemplate(
    name="abandoned_cart",
    title="Abandoned cart: reminder, then temporary points for that cart",
    description="No order for the cart within 2 hours: a reminder. Still no order a day "
    f"later: {CART_TEMPORARY_POINTS} temporary points usable on that cart only, burning after "
    f"{CART_TEMPORARY_DAYS} days if unused. One instance per cart id.",
    definition={
        "entry": {"event": "cart_updated", "key": "entity"},
        "start": "wait_order",
        "steps": {
            "wait_order": {
                "type": "wait_for_event",
                "kind": "order.placed",
                "same_key": True,
                "timeout_seconds": CART_WAIT_SECONDS,
                "on_timeout": "remind",
            },
            "remind": {"type": "send", "template": "abandoned_cart.reminder", "next": "wait_again"},
            "wait_again": {
                "type": "wait_for_event",
                "kind": "order.placed",
                "same_key": True,
                "timeout_seconds": CART_SECOND_WAIT_SECONDS,
                "on_timeout": "grant",
            },
            "grant": {
                "type": "grant_temporary_points",
                "points": CART_TEMPORARY_POINTS,
                "valid_days": CART_TEMPORARY_DAYS,
                "for_cart": True,
                "next": "points_letter",
            },
            "points_letter": {
                "type": "send",
                "template": "abandoned_cart.points",
                "next": "bought",
            },
            "bought": {
                "type": "goal",
                "event": "order.placed",
                "same_key": True,
                "within_seconds": CART_TEMPORARY_DAYS * DAY,
            },
        },
        "goal": {
            "event": "order.placed",
            "same_key": True,
            "within_seconds": CART_WAIT_SECONDS
            + CART_SECOND_WAIT_SECONDS
            + CART_TEMPORARY_DAYS * DAY,
        },
    },
    messages=[
        _message(
            "abandoned_cart.reminder",
            "{{ first_name or 'Hello' }}, your cart is waiting",
            f"{HELLO}\n\nYou left items in your cart. Finish your order while they are in "
            f"stock.\n\n{BALANCE}",
        ),
        _message(
            "abandoned_cart.points",
            "{{ temporary_points.points }} extra points for your cart",
            f"{HELLO}\n\nWe added {{{{ temporary_points.points }}}} temporary points to your "
            "account as an extra discount on the cart you left. They work on that order only "
            f"and burn after {CART_TEMPORARY_DAYS} days, on "
            "{{ (temporary_points.expires_at or '')[:10] }}.\n\n"
            "Follow the link to see your price: you are signed in automatically.",
        ),
    ],
    priority=10,
)

POINTS_EXPIRY = ShippedTemplate(
    name="points_expiry",
    title="Points expiry reminder",
    description="7 days before a batch of points expires, at 10:00 local time: how many "
    "points burn and when.",
    definition={
        "entry": {"date": "points_expiry", "days_before": 7, "at_local_time": "10:00"},
        "start": "remind",
        "steps": {"remind": {"type": "send", "template": "points_expiry.reminder"}},
    },
    messages=[
        _message(
            "points_expiry.reminder",
            "{{ expiring.points }} of your points expire on {{ expiring.date }}",
            f"{HELLO}\n\n{{{{ expiring.points }}}} points expire on {{{{ expiring.date }}}} "
            "({{ expiring.days_left }} days left). Spend them on your next order: they can pay "
            f"up to half of a product's price.\n\n{BALANCE}",
        )
    ],
)

WELCOME = ShippedTemplate(
    name="welcome",
    title="Welcome chain: tell us about yourself for points",
    description="On registration: the welcome letter listing how many points each profile "
    "section gives (from the programme: contacts 100, family 200, interests 200, kitchen 300); "
    "a reminder 3 days later at 10:00.",
    definition={
        "entry": {"event": "customer.registered", "key": "none"},
        "start": "welcome",
        "steps": {
            "welcome": {
                "type": "send",
                "template": "welcome.letter",
                "include": ["profile_sections"],
                "next": "pause",
            },
            "pause": {"type": "wait", "duration_seconds": 3 * DAY - 12 * HOUR, "next": "morning"},
            "morning": {"type": "wait", "until_local_time": "10:00", "next": "remind"},
            "remind": {
                "type": "send",
                "template": "welcome.tell_us",
                "include": ["profile_sections"],
            },
        },
    },
    messages=[
        _message(
            "welcome.letter",
            "Welcome to the club, {{ first_name or 'friend' }}",
            f"{HELLO}\n\nWelcome to the Panasonic club. Tell us about yourself and earn up to "
            "{{ data.profile_points_total }} points:\n\n"
            "{% for s in data.profile_sections %}- {{ s.section }}: {{ s.points }} points\n"
            f"{{% endfor %}}\n{BALANCE}",
        ),
        _message(
            "welcome.tell_us",
            "{{ data.profile_points_total }} points are waiting for your profile",
            f"{HELLO}\n\nFill in your profile and the points are yours:\n\n"
            "{% for s in data.profile_sections %}- {{ s.section }}: {{ s.points }} points\n"
            "{% endfor %}",
        ),
    ],
)

BIRTHDAY = ShippedTemplate(
    name="birthday",
    title="Birthday greeting",
    description="On the customer's birthday at 10:00 in their time zone, once a year.",
    definition={
        "entry": {"date": "birthday", "days_before": 0, "at_local_time": "10:00"},
        "start": "greet",
        "steps": {"greet": {"type": "send", "template": "birthday.greeting"}},
    },
    messages=[
        _message(
            "birthday.greeting",
            "Happy birthday, {{ first_name or 'friend' }}!",
            f"{HELLO}\n\nHappy birthday from all of us at Panasonic!\n\n{BALANCE} "
            "Treat yourself: your points can pay up to half of a product's price.",
        )
    ],
)

TIER_CHANGE = ShippedTemplate(
    name="tier_change",
    title="Tier change notice",
    description="Each change of tier: the new tier and its earn rate (Silver 5%, Gold 10%, "
    "Premium 15%), and how far the next one is.",
    definition={
        "entry": {"event": "customer.tier_changed", "key": "each"},
        "start": "notice",
        "steps": {"notice": {"type": "send", "template": "tier_change.notice"}},
    },
    messages=[
        _message(
            "tier_change.notice",
            "You are now {{ tier.name }}",
            f"{HELLO}\n\nYour tier is now {{{{ tier.name }}}}: every purchase earns "
            "{{ tier.earn_rate_bp // 100 }}% back in points."
            "{% if next_tier %} {{ next_tier.amount_left_text }} more in purchases and you "
            "reach {{ next_tier.name }}.{% endif %}\n\n" + BALANCE,
        )
    ],
)

REACTIVATION = ShippedTemplate(
    name="reactivation",
    title="Reactivation, different for women and men",
    description=f"No order for {REACTIVATION_AFTER_DAYS} days after the last one: a letter "
    "written for women or for men (the profile's gender), then 30 days to come back.",
    definition={
        "entry": {"event": "order.placed", "key": "none", "reentry": "after_exit"},
        "start": "quiet",
        "steps": {
            "quiet": {
                "type": "wait_for_event",
                "kind": "order.placed",
                "same_key": False,
                "timeout_seconds": REACTIVATION_AFTER_DAYS * DAY,
                "on_timeout": "by_gender",
            },
            "by_gender": {
                "type": "condition",
                "if": {"field": "gender", "values": ["female"]},
                "then": "for_women",
                "else": "for_men",
            },
            "for_women": {"type": "send", "template": "reactivation.women", "next": "back"},
            "for_men": {"type": "send", "template": "reactivation.men", "next": "back"},
            "back": {"type": "goal", "event": "order.placed", "within_seconds": 30 * DAY},
        },
    },
    messages=[
        _message(
            "reactivation.women",
            "{{ first_name or 'Hello' }}, we picked something for you",
            f"{HELLO}\n\nWe have missed you. New in beauty and kitchen: hair stylers, "
            f"multicookers and bread makers, at your own price with points.\n\n{BALANCE}",
        ),
        _message(
            "reactivation.men",
            "{{ first_name or 'Hello' }}, new gear is in",
            f"{HELLO}\n\nWe have missed you. New in photo and audio: cameras, lenses and "
            f"headphones, at your own price with points.\n\n{BALANCE}",
        ),
    ],
)

WISHLIST_CATEGORY = ShippedTemplate(
    name="wishlist_category",
    title="Wishlist category mailing: kitchen sale, photo-gear letter",
    description="A kitchen appliance in the wishlist: the kitchen sale letter. A camera or "
    f"photo accessory: the photo-gear letter with a personal promo code (pool "
    f"{PHOTO_GEAR_POOL!r}, when it exists) or up to 50% of the price in points (the usual "
    "limit is 30%). Once per customer.",
    definition={
        "entry": {"event": "wishlist_added", "key": "none"},
        "start": "kitchen",
        "steps": {
            "kitchen": {
                "type": "condition",
                "if": {"field": "wishlist", "categories": ["kitchen"]},
                "then": "kitchen_sale",
                "else": "photo",
            },
            "kitchen_sale": {"type": "send", "template": "wishlist.kitchen_sale", "next": "bought"},
            "photo": {
                "type": "condition",
                "if": {"field": "wishlist", "categories": ["photo"]},
                "then": "code",
                "else": "other",
            },
            "code": {"type": "issue_promo_code", "pool": PHOTO_GEAR_POOL, "next": "photo_gear"},
            "photo_gear": {"type": "send", "template": "wishlist.photo_gear", "next": "bought"},
            "other": {"type": "exit"},
            "bought": {"type": "goal", "event": "order.placed", "within_seconds": 14 * DAY},
        },
    },
    messages=[
        _message(
            "wishlist.kitchen_sale",
            "Kitchen sale: your wishlist is on offer",
            f"{HELLO}\n\nThe kitchen sale is on. From your wishlist:\n\n"
            "{% for item in wishlist %}{% if item.category == 'kitchen' %}{{ item.name }}: "
            "{{ item.regular_price_text }}{% if item.personal_price_text %}, your price "
            "{{ item.personal_price_text }}{% endif %}\n{% endif %}{% endfor %}\n" + BALANCE,
        ),
        _message(
            "wishlist.photo_gear",
            "Photo gear for you{% if promo_code %}: code {{ promo_code }}{% endif %}",
            f"{HELLO}\n\nFor the photo gear in your wishlist"
            "{% if promo_code %}, your personal promo code {{ promo_code }}{% endif %}"
            " - or pay up to 50% of the price with points (usually up to 30%).\n\n"
            "{% for item in wishlist %}{% if item.category == 'photo' %}{{ item.name }}: "
            "{{ item.regular_price_text }}\n{% endif %}{% endfor %}\n" + BALANCE,
        ),
    ],
)

NEWS_DIGEST = ShippedTemplate(
    name="news_digest",
    title="News digest by interests",
    description="Every 7 days at 10:00 local time, for customers who told us their interests "
    "(the profile attribute 'interests'): the news of those interests.",
    definition={
        "entry": {"event": "customer.registered", "key": "none"},
        "start": "week",
        "steps": {
            "week": {"type": "wait", "duration_seconds": 6 * DAY, "next": "morning"},
            "morning": {"type": "wait", "until_local_time": "10:00", "next": "has_interests"},
            "has_interests": {
                "type": "condition",
                "if": {"field": "attribute", "name": "interests"},
                "then": "digest",
                "else": "week",
            },
            "digest": {"type": "send", "template": "news_digest.weekly", "next": "week"},
        },
    },
    messages=[
        _message(
            "news_digest.weekly",
            "This week in {{ customer.attributes.interests }}",
            f"{HELLO}\n\nNews picked for your interests "
            "({{ customer.attributes.interests }}): new models, tips and offers.\n\n" + BALANCE,
        )
    ],
)

SHIPPED: dict[str, ShippedTemplate] = {
    t.name: t
    for t in (
        ABANDONED_VIEW,
        ABANDONED_CART,
        POINTS_EXPIRY,
        WELCOME,
        BIRTHDAY,
        TIER_CHANGE,
        REACTIVATION,
        WISHLIST_CATEGORY,
        NEWS_DIGEST,
    )
}
