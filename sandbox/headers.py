"""The request id Amazon puts on every Login with Amazon and SP-API answer, errors included."""

import uuid

from werkzeug.wrappers import Response


def with_request_id(response: Response) -> Response:
    """Name this answer with a fresh `x-amzn-RequestId`, the id Amazon support asks for, so
    clients that log or quote it meet one here too."""
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response
