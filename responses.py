"""Response classes for bodies that are already JSON, or built by hand."""

from typing import Any

import orjson
from starlette.responses import Response


class JSONBytes(Response):
    """A JSON response rendered by orjson, for bodies built by hand (errors, health)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class JSONText(Response):
    """A body that is JSON text already (PostgreSQL rendered it): sent as it is."""

    media_type = "application/json"


def page_json(
    items: str, total: int, estimated: bool, limit: int, offset: int, **members: str
) -> str:
    """The list answer around a page PostgreSQL rendered; `members` are extra raw-JSON fields."""
    extra = "".join(f'"{name}":{value},' for name, value in members.items())
    flag = "true" if estimated else "false"
    return (
        f'{{{extra}"items":{items},"total":{total},"total_is_estimate":{flag},'
        f'"limit":{limit},"offset":{offset}}}'
    )
