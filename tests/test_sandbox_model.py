"""The stand-in's Sellers API held to Amazon's own model of it (tests/amazon_models/sellers.json):
every answer it can give, the 200 for each demo seller and each error status (injected faults,
refused tokens, another region's host, a withheld role), has the body the model's schema for that
status allows and the headers the model declares for it."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from sandbox.sellers import SELLERS
from tests.amazon_app import (
    arm_faults,
    control,
    exchange,
    get_code,
    participations,
    start_sandbox,
)

MODEL = json.loads((Path(__file__).parent / "amazon_models" / "sellers.json").read_text())
OPERATION = MODEL["paths"]["/sellers/v1/marketplaceParticipations"]["get"]
# Swagger 2.0 schemas are JSON Schema draft 4; their "#/definitions/..." refs point into the model.
MODEL_URI = "urn:amazon:sellers-api-model:sellers.json"
REGISTRY = Registry().with_resource(MODEL_URI, DRAFT4.create_resource(MODEL))


def check_against_model(answer: requests.Response) -> None:
    """The body validates against the model's schema for this status; the declared headers and
    the model's content type are there."""
    declared = OPERATION["responses"][str(answer.status_code)]
    validator = Draft4Validator({"$ref": MODEL_URI + declared["schema"]["$ref"]}, registry=REGISTRY)
    validator.validate(answer.json())
    assert answer.headers["Content-Type"].split(";")[0] in MODEL["produces"]
    for name, header in declared.get("headers", {}).items():
        assert header["type"] == "string"
        assert answer.headers.get(name), f"{name} missing from the {answer.status_code} answer"


@pytest.fixture
def amazon() -> Iterator[str]:
    """A stand-in of the test's own, so an armed fault or a withheld role ends with the test."""
    with start_sandbox() as base_url:
        yield base_url


def access_token(amazon: str, email: str = "seller-eu@example.com") -> str:
    return exchange(amazon, get_code(amazon, email)).json()["access_token"]


@pytest.mark.parametrize("email", list(SELLERS))
def test_participations_of_each_demo_seller_match_the_model(amazon: str, email: str) -> None:
    answer = participations(amazon, access_token(amazon, email))
    assert answer.status_code == 200
    assert len(answer.json()["payload"]) == len(SELLERS[email].marketplace_ids)
    check_against_model(answer)


@pytest.mark.parametrize("status", [400, 403, 404, 429, 500, 503])
def test_injected_errors_match_the_model(amazon: str, status: int) -> None:
    token = access_token(amazon)
    arm_faults(amazon, {"participations": {"status": status}})
    answer = participations(amazon, token)
    assert answer.status_code == status
    check_against_model(answer)


def _forged_token(amazon: str) -> requests.Response:
    return participations(amazon, "Atza|forged")


def _no_token(amazon: str) -> requests.Response:
    return participations(amazon, None)


def _another_regions_host(amazon: str) -> requests.Response:
    return participations(amazon, access_token(amazon), host="sellingpartnerapi-fe.amazon.com")


def _role_withheld(amazon: str) -> requests.Response:
    token = access_token(amazon)
    control(amazon, "roles", {"withheld": True}).raise_for_status()
    return participations(amazon, token)


@pytest.mark.parametrize(
    "refusal", [_forged_token, _no_token, _another_regions_host, _role_withheld]
)
def test_refusals_match_the_model(amazon: str, refusal: Callable[[str], requests.Response]) -> None:
    answer = refusal(amazon)
    assert answer.status_code == 403
    check_against_model(answer)
