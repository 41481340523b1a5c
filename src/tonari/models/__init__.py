"""All tables, imported so that Alembic and the metadata see them."""

from tonari.models.base import Base
from tonari.models.catalog import Product
from tonari.models.customers import Customer
from tonari.models.idempotency import IdempotencyRecord
from tonari.models.ledger import (
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    LotDraw,
    PointLot,
    PointsDebt,
)
from tonari.models.orders import Order, OrderLine, OrderReturn
from tonari.models.outbox import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tonari.models.programs import ProgrammeRecord
from tonari.models.tenants import ApiKey, AuditLog, Tenant

__all__ = [
    "ApiKey",
    "AuditLog",
    "Base",
    "Customer",
    "IdempotencyRecord",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerPosting",
    "LotDraw",
    "Order",
    "OrderLine",
    "OrderReturn",
    "OutboxEvent",
    "PointLot",
    "PointsDebt",
    "Product",
    "ProgrammeRecord",
    "Tenant",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
