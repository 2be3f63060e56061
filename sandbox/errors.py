"""Amazon's two error wire formats: Login with Amazon's OAuth JSON and SP-API's errors list."""

from flask import jsonify
from werkzeug.wrappers import Response

# The OAuth error code Login with Amazon gives with each HTTP status.
LWA_ERROR_FOR_STATUS = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    # Throttled. No public record found shows LWA's 429 body: the LWA token-error lists searched
    # name no throttling error, and searches of SP-API and client-library issues (python-amazon-
    # sp-api among them) found no captured 429 answer. So: LWA's own error shape, which clients
    # parse on any status, with the error it gives for 503, "temporarily unavailable, try later".
    429: "temporarily_unavailable",
    500: "server_error",
    503: "temporarily_unavailable",
}

# The SP-API error code that goes with each HTTP status.
SPAPI_ERROR_FOR_STATUS = {
    400: "InvalidInput",
    403: "Unauthorized",
    404: "NotFound",
    429: "QuotaExceeded",
    500: "InternalFailure",
    503: "ServiceUnavailable",
}


def no_store(response: Response) -> Response:
    """Mark a token response uncacheable (RFC 6749 section 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def lwa_error(error: str, description: str, status: int) -> Response:
    """`{"error", "error_description"}` with the given status, never cached."""
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    return no_store(response)


def spapi_error(status: int, code: str, message: str) -> Response:
    """`{"errors": [{"code", "message", "details"}]}` with the given status."""
    response = jsonify(errors=[{"code": code, "message": message, "details": ""}])
    response.status_code = status
    return response
