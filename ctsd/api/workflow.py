"""Removed when #9a lands: the old name of ctsd/api/promotion_views.py, kept only because
ctsd/api/app.py (being rewritten in #9a) still imports it from here."""

from ctsd.api.promotion_views import (
    compose_locations_view,
    compose_promotions,
    compose_status,
    get_tag_gates,
    list_promotions,
    perform_promotion,
    put_tag_gates,
    reject_promotion,
    remove_compose,
    request_promotion,
    withdraw_promotion,
)

__all__ = ["compose_locations_view", "compose_promotions", "compose_status", "get_tag_gates",
           "list_promotions", "perform_promotion", "put_tag_gates", "reject_promotion",
           "remove_compose", "request_promotion", "withdraw_promotion"]
