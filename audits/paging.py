"""Route helpers for cursor paging: read a request's cursor, render a page with its cursors."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from audits import cursor
from audits.cursor import Cursor, InvalidCursor
from audits.listing import Page
from responses import page_json
from settings import Settings


def _key(settings: Settings) -> bytes:
    signing = settings.ledger_signing_key
    return cursor.cursor_key(signing.get_secret_value() if signing else None)


def invalid(location: tuple[str, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": location, "msg": message}])


def read_cursor(
    text: str | None,
    offset: int,
    filters: dict[str, Any],
    settings: Settings,
    location: tuple[str, ...] = ("query", "cursor"),
) -> Cursor | None:
    """The cursor a request sent, checked: signed by us, for these filters, without offset."""
    if text is None:
        return None
    if offset:
        raise invalid(location, "cursor cannot be combined with offset > 0; send one of them")
    try:
        return cursor.decode(text, filters, _key(settings))
    except InvalidCursor as error:
        raise invalid(location, str(error)) from None


def render_page(
    page: Page,
    filters: dict[str, Any],
    limit: int,
    offset: int,
    settings: Settings,
    /,
    **members: str,
) -> str:
    """The list answer: the page PostgreSQL rendered, with cursors to the pages beside it."""
    key = _key(settings)
    older = page.oldest and cursor.encode(page.oldest, filters, key)
    newer = page.newest and cursor.encode(page.newest, filters, key)
    return page_json(
        page.items,
        page.total,
        page.total_is_estimate,
        limit,
        offset,
        next_cursor=older,
        prev_cursor=newer,
        **members,
    )
