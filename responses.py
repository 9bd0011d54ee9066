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
