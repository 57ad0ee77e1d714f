"""A copy of the OpenAPI 3.1 schema that Swagger UI 4 (the offline /docs page) can render."""

from __future__ import annotations

from typing import Any


def downgrade_schema(node: Any) -> Any:
    """Return `node` with 3.1-only constructs rewritten for OpenAPI 3.0: `anyOf [X, null]`
    becomes X with `nullable: true`, and `examples` lists become one `example`."""
    if isinstance(node, list):
        return [downgrade_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    variants = node.get("anyOf")
    nullable = isinstance(variants, list) and {"type": "null"} in variants
    if nullable:
        rest = [v for v in variants if v != {"type": "null"}]
        del node["anyOf"]
        if len(rest) == 1 and isinstance(rest[0], dict):
            node = {**rest[0], **node}
        else:
            node["anyOf"] = rest
    out = {key: downgrade_schema(value) for key, value in node.items()}
    if nullable:
        out["nullable"] = True
    if str(out.get("openapi", "")).startswith("3.1"):
        out["openapi"] = "3.0.3"
    if isinstance(out.get("examples"), list) and "schema" not in out:
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    if out.get("type") == "null":
        out.pop("type")
        out["nullable"] = True
    return out
