"""/api/v1/docs: the OpenAPI document as a page to read, made on the server from the same spec
(no script from elsewhere, so it works offline and under the app's CSP)."""

import re

from flask import Blueprint, current_app, render_template
from markupsafe import Markup, escape

from web.api.problems import KINDS

bp = Blueprint("api_docs", __name__)


@bp.app_template_filter("inline_markdown")
def inline_markdown(text: str) -> Markup:
    """The document's `code` and *emphasis*, as HTML (the rest escaped)."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    return Markup(re.sub(r"\*([^*]+)\*", r"<em>\1</em>", html))


def _schema_fields(spec: dict, schema: dict) -> list[dict]:
    """The fields of a (referenced) object schema: name, type, required, description."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type", "object")
        if "$ref" in prop:
            kind = prop["$ref"].rsplit("/", 1)[-1]
        elif kind == "array" and "$ref" in prop.get("items", {}):
            kind = f"list of {prop['items']['$ref'].rsplit('/', 1)[-1]}"
        elif kind == "array":
            kind = f"list of {prop.get('items', {}).get('type', 'values')}"
        if isinstance(kind, list):
            kind = " or ".join(kind)
        fields.append(
            {
                "name": name,
                "type": kind,
                "required": name in required,
                "description": prop.get("description", ""),
                "enum": prop.get("enum") or prop.get("items", {}).get("enum"),
            }
        )
    return fields


def _operations(spec: dict) -> list[dict]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            ok = next((s for s in operation["responses"] if s.startswith("2")), None)
            answer = operation["responses"].get(ok, {}).get("content", {}).get("application/json")
            parameters = [p for p in operation.get("parameters", []) if "$ref" not in p]
            found.append(
                {
                    "anchor": operation.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "tag": (operation.get("tags") or [""])[0],
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": parameters,
                    "body": _schema_fields(spec, body["schema"]) if body else [],
                    "status": ok,
                    "answer": answer["schema"].get("$ref", "").rsplit("/", 1)[-1] if answer else "",
                }
            )
    return found


@bp.get("/api/v1/docs")
def reference():
    """The API's reference, from its OpenAPI document."""
    spec = current_app.extensions["api_v1"].spec.to_dict()
    schemas = {
        name: _schema_fields(spec, schema)
        for name, schema in spec["components"].get("schemas", {}).items()
    }
    return render_template(
        "api/docs.html",
        spec=spec,
        operations=_operations(spec),
        schemas=schemas,
        problems=KINDS,
    )
