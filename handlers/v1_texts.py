"""The existing CTS's wording, kept word for word where it has one: dashboards and
scripts grep error messages and history rows (release-engineering/cts views and
models). Texts for what the existing service does not have stay ours, elsewhere."""

from __future__ import annotations

NO_SUCH_COMPOSE = "No such compose found."
NO_SUCH_TAG = "No such tag found."
NO_ACTION_FIELD = 'No "action" field in JSON PATCH data.'
NO_TAG_FIELD = 'No "tag" field in JSON PATCH data.'
NO_COMPOSE_URL_FIELD = 'No "compose_url" field in JSON PATCH data.'
UNKNOWN_ACTION = "Unknown action."
NO_COMPOSE_INFO_FIELD = 'No "compose_info" field in JSON POST data.'

_ROLE_WORDS = {"tagger": ("Tagger", "taggers"), "untagger": ("Untagger", "untaggers")}


def json_decode_failed(detail: str) -> str:
    return f"Failed to decode JSON object: {detail}"


def tag_does_not_exist(name: str) -> str:
    return f'Tag "{name}" does not exist'


def tag_added(user: str, tag: str) -> str:
    return f'User "{user}" added "{tag}" tag.'


def tag_removed(user: str, tag: str) -> str:
    return f'User "{user}" removed "{tag}" tag.'


def lacks_tag_permission(user: str, role: str, tag: str) -> str:
    return f'User "{user}" does not have "{_ROLE_WORDS[role][1]}" permission for tag "{tag}".'


def permission_changed(action: str, kind: str, name: str) -> str:
    """The history text of add_tagger / remove_untagger / ... for a user or group."""
    verb, role = action.split("_", 1)
    change = "granted to" if verb == "add" else "removed from"
    return f'{_ROLE_WORDS[role][0]} permission {change} {kind} "{name}".'
