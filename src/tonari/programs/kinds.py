"""Small enumerations shared by the programme document and the pure rules that read it."""

from __future__ import annotations

from enum import StrEnum


class CustomerType(StrEnum):
    PERSON = "person"
    LEGAL_ENTITY = "legal_entity"
    EMPLOYEE = "employee"
