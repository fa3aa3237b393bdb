"""Removed when #9a lands: the old name of ctsd/db/promotion_store.py, kept only because
ctsd/db/uow.py (being rewritten in #9a) still imports it from here."""

from ctsd.db.promotion_store import SqlPromotionStore, SqlRemovalRequestStore

__all__ = ["SqlPromotionStore", "SqlRemovalRequestStore"]
