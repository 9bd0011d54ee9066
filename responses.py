"""Response classes for bodies that are already JSON, or built by hand."""

from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse


class JSONBytes(Response):
    """A JSON response rendered by orjson, for bodies built by hand (errors, health)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class JSONText(Response):
    """A body that is JSON text already (PostgreSQL rendered it): sent as it is."""

    media_type = "application/json"


def page_json(
    items: str,
    total: int | None,
    estimated: bool,
    limit: int,
    offset: int,
    *,
    next_cursor: str | None = None,
    prev_cursor: str | None = None,
    **members: str,
) -> str:
    """The list answer around a page PostgreSQL rendered; `members` are extra raw-JSON fields.
    Cursors are base64url text with a dot, so they need no JSON escaping."""
    extra = "".join(f'"{name}":{value},' for name, value in members.items())
    flag = "true" if estimated else "false"
    after = f'"{next_cursor}"' if next_cursor else "null"
    before = f'"{prev_cursor}"' if prev_cursor else "null"
    return (
        f'{{{extra}"items":{items},"next_cursor":{after},"prev_cursor":{before},'
        f'"total":{total},"total_is_estimate":{flag},"limit":{limit},"offset":{offset}}}'
    )


class ClosingStream(StreamingResponse):
    """A stream whose body generator is closed as soon as the response ends, however it ends.

    A client that disconnects ends the response with an error at the next send; closing the
    generator then (not whenever it is garbage collected) is what stops the database query
    behind it at once. The disconnect itself is the client's choice, not a server error."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (ClientDisconnect, OSError):
            pass
        finally:
            await self.body_iterator.aclose()
