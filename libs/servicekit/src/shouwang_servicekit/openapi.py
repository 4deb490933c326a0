"""What a service's OpenAPI document says beyond FastAPI's own: the problems each operation
can answer, the bearer token `/v1` needs, and the bodies endpoints read themselves."""

from __future__ import annotations

from typing import Any

from .problems import PROBLEM_JSON, ProblemDetails

COMPONENT_REF = "#/components/schemas/"

# The problems any /v1 operation can answer, documented on every operation they apply to;
# an operation's own description of a status wins.
_GENERIC_PROBLEMS: dict[int, str] = {
    400: "The body is not well-formed (not JSON, or broken multipart).",
    401: "No bearer token, or one that is invalid or expired.",
    403: "The caller's role, tier, campus or scope does not allow this.",
    404: "No such resource (in the caller's campus).",
    413: "The body is over this route's size limit.",
    415: "The body's Content-Type is not one this route reads.",
    422: "Some input failed validation; `errors` names each field.",
}
_BEARER = "bearerAuth"


def hoist_body_definitions(spec: dict[str, Any]) -> dict[str, Any]:
    """Move the `$defs` of inline request-body schemas into `components/schemas`, where
    their references (`json_body_openapi`) point."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                schema = media.get("schema", {})
                for name, definition in schema.pop("$defs", {}).items():
                    components.setdefault(name, definition)
    return spec


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Say what every authenticated operation answers besides success, and how.

    Every error is problem+json with `ProblemDetails`, whatever FastAPI would have documented
    (it calls its own 422 `application/json` with a shape we never send). Operations under
    `/v1` need a bearer token, so they may answer 401 and 403; one with a body may also answer
    400, 413, 415 and 422, one with parameters 422, one with a templated path 404.
    """
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template=COMPONENT_REF + "{model}")
    for name, definition in problem.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas["ProblemDetails"] = problem
    components.setdefault("securitySchemes", {})[_BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token of the campus identity provider (HS256 locally, RS256 via JWKS).",
    }
    body = {PROBLEM_JSON: {"schema": {"$ref": COMPONENT_REF + "ProblemDetails"}}}
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/"):
                operation.setdefault("security", [{_BEARER: []}])
                parameters = operation.get("parameters", [])
                codes = {401, 403}
                if "requestBody" in operation:
                    codes |= {400, 413, 415, 422}
                if parameters:
                    codes.add(422)
                if "{" in path:  # declared or not (a DirectRoute reads the request itself)
                    codes.add(404)
                for code in codes:
                    responses.setdefault(str(code), {"description": _GENERIC_PROBLEMS[code]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = body
                if status == "422" and response.get("description") == "Validation Error":
                    response["description"] = _GENERIC_PROBLEMS[422]  # FastAPI's own words
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, never sent
        schemas.pop(unused, None)
    return spec
