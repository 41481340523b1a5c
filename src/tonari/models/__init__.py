"""All tables, imported so that Alembic and the metadata see them."""

from tonari.models.activities import ActivityBudget, ActivityReport, ActivityReward
from tonari.models.base import Base
from tonari.models.catalog import Product
from tonari.models.codes import CodeBatch, CodePool, CodeRedemption, PromoCode
from tonari.models.consents import Consent
from tonari.models.customers import Customer
from tonari.models.delivery import Campaign, MessagingChannel, MessagingPolicy
from tonari.models.events import AnonymousLink, CustomerEvent, CustomerEventId
from tonari.models.idempotency import IdempotencyRecord
from tonari.models.identity import (
    CustomerSource,
    IdentityMerge,
    IdentityPair,
    IdentitySettings,
    MergedLot,
    SourceRecord,
)
from tonari.models.journeys import Journey, JourneyInstance, JourneyStepLog
from tonari.models.ledger import (
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    LotDraw,
    PointLot,
    PointsDebt,
)
from tonari.models.messaging import MessageSend, MessageTemplate
from tonari.models.messaging_content import MessagingSite, OnsiteBlock, UsedLoginToken
from tonari.models.offers import Membership, OfferApplication, OfferBudget, StampMovement
from tonari.models.orders import Order, OrderLine, OrderReturn
from tonari.models.outbox import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tonari.models.partners import PartnerAccrual, PartnerHolder
from tonari.models.programs import ProgrammeRecord
from tonari.models.reactions import CustomerReaction
from tonari.models.segments import Segment, SegmentBoundary, SegmentMembership
from tonari.models.tenants import ApiKey, AuditLog, Tenant

__all__ = [
    "ActivityBudget",
    "ActivityReport",
    "ActivityReward",
    "AnonymousLink",
    "ApiKey",
    "AuditLog",
    "Base",
    "Campaign",
    "CodeBatch",
    "CodePool",
    "CodeRedemption",
    "Consent",
    "Customer",
    "CustomerEvent",
    "CustomerEventId",
    "CustomerReaction",
    "CustomerSource",
    "IdempotencyRecord",
    "IdentityMerge",
    "IdentityPair",
    "IdentitySettings",
    "Journey",
    "JourneyInstance",
    "JourneyStepLog",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerPosting",
    "LotDraw",
    "Membership",
    "MergedLot",
    "MessageSend",
    "MessageTemplate",
    "MessagingChannel",
    "MessagingPolicy",
    "MessagingSite",
    "OfferApplication",
    "OfferBudget",
    "OnsiteBlock",
    "Order",
    "OrderLine",
    "OrderReturn",
    "OutboxEvent",
    "PartnerAccrual",
    "PartnerHolder",
    "PointLot",
    "PointsDebt",
    "Product",
    "ProgrammeRecord",
    "PromoCode",
    "Segment",
    "SegmentBoundary",
    "SegmentMembership",
    "SourceRecord",
    "StampMovement",
    "Tenant",
    "UsedLoginToken",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
