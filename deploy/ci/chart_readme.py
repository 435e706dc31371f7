#!/usr/bin/env python3
"""The chart's README, made from its values: one row per value, leaves included (`image.tag`,
`metrics.serviceMonitor.enabled`, …), with its type (values.schema.json), its default
(values.yaml) and the comment above it in values.yaml. `--check` fails when the README in the
chart differs from what this makes (scripts/deploy-check runs it); without it, writes it.

    python3 deploy/ci/chart_readme.py          # regenerate deploy/helm/streamvault/README.md
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "streamvault"
README = CHART / "README.md"


def comments(lines: list[str]) -> dict[str, str]:
    """The comment block right above each key of values.yaml, by its dotted path."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    block: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        m = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):", line)
        if not m:
            block = []
            continue
        indent, key = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [key])
        stack.append((indent, key))
        if block:
            out[path] = " ".join(b for b in block if b)
        block = []
    return out


def schema_at(schema: dict, root: dict, path: list[str]) -> dict:
    node = schema
    for key in path:
        while "$ref" in node:
            node = root["definitions"][node["$ref"].split("/")[-1]]
        node = node.get("properties", {}).get(key, {})
    while "$ref" in node:
        node = root["definitions"][node["$ref"].split("/")[-1]]
    return node


def type_of(node: dict) -> str:
    if "type" in node:
        return node["type"] if isinstance(node["type"], str) else " or ".join(node["type"])
    if "oneOf" in node:
        return " or ".join(sorted({n.get("type", "?") for n in node["oneOf"]}))
    return ""


def rows(values: dict, schema: dict, notes: dict[str, str], prefix: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        node = schema_at(schema, schema, path.split("."))
        if isinstance(value, dict) and value and path.count(".") < 2 and key != "config":
            if path in notes:
                out.append(f"| `{path}` | object | | {notes[path].replace('|', chr(92) + '|')} |")
            out.extend(rows(value, schema, notes, f"{path}."))
            continue
        default = json.dumps(value, ensure_ascii=False)
        if len(default) > 60:
            default = "see values.yaml"
        note = (notes.get(path) or node.get("description", "")).replace("|", "\\|")
        out.append(f"| `{path}` | {type_of(node)} | `{default}` | {note} |")
    return out


def render() -> str:
    values_text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(values_text)
    schema = json.loads((CHART / "values.schema.json").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    head = [
        f"# The `{chart['name']}` chart",
        "",
        f"{chart.get('description', '').strip()}",
        "",
        "Made by `deploy/ci/chart_readme.py` from `values.yaml` (defaults and the comments above",
        "each value) and `values.schema.json` (types); `scripts/deploy-check` fails when it is",
        "out of date. How to install and run it: `docs/deploy.md` in the project.",
        "",
        "| value | type | default | what it is |",
        "|---|---|---|---|",
    ]
    body = rows(values, schema, comments(values_text.splitlines()))
    return "\n".join(head + body) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not README.exists() or README.read_text() != text:
            print("the chart's README is out of date: python3 deploy/ci/chart_readme.py", file=sys.stderr)
            return 1
        print(f"{README.relative_to(CHART.parents[2])} matches values.yaml and values.schema.json")
        return 0
    README.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
