"""Schemathesis against the live server's own /openapi.json: generated requests to the API routes
(valid and invalid forms, garbage uploads) get no server error, and every answer matches the schema
in status code, content type, headers and body. Bounded and derandomized, so a run is repeatable."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from live import Server
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# The API (health, readiness and metrics are not), with valid forms and with invalid ones (fields
# missing or of the wrong type); /v1/info takes nothing that could be invalid.
OPERATIONS = [
    ("/separate", "POST", GenerationMode.POSITIVE),
    ("/separate", "POST", GenerationMode.NEGATIVE),
    ("/v1/info", "GET", GenerationMode.POSITIVE),
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("schema"), TEXTSEP_MAX_BATCH="2", TEXTSEP_MAX_SECONDS="30") as server:
        server.wait_ready()
        yield schemathesis.openapi.from_url(server.url + "/openapi.json")


# Hypothesis driven directly: schemathesis' own pytest plugin (`from_fixture`) fails on pytest 9.
@pytest.mark.parametrize("path, method, mode", OPERATIONS)
def test_api_answers_match_the_schema_and_never_fail(api_schema, path, method, mode):
    @given(case=api_schema[path][method].as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(timeout=60, checks=CHECKS)

    check()
