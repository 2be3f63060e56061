"""Injected faults: make the next calls to an endpoint slow or failing, for retry tests."""

import time

from werkzeug.wrappers import Response

from .errors import LWA_ERROR_FOR_STATUS, SPAPI_ERROR_FOR_STATUS, lwa_error, spapi_error
from .store import get_store

# Endpoints that faults can target, as named in POST /_sandbox/faults.
ENDPOINTS = ("token", "participations")


def apply_fault(endpoint: str) -> Response | None:
    """Serve this call's armed fault: sleep, then the error response (or None to carry on)."""
    fault = get_store().take_fault(endpoint)
    if fault is None:
        return None
    if fault.delay:
        # The request still completes after the sleep, as Amazon's would after a client timeout.
        time.sleep(fault.delay)
    if fault.status is None:
        return None
    if fault.bare:
        return Response("", status=fault.status, mimetype="text/plain")
    if endpoint == "token":
        error = fault.error or LWA_ERROR_FOR_STATUS.get(fault.status, "server_error")
        return lwa_error(error, f"Injected fault ({fault.status})", fault.status)
    code = fault.error or SPAPI_ERROR_FOR_STATUS.get(fault.status, "InternalFailure")
    return spapi_error(fault.status, code, f"Injected fault ({fault.status})")
