"""Architecture files (JSON, version 1): parse into typed records first, build the graph last.

Reading happens in three stages so that a bad file never yields a half-built graph:
1. text → JSON value (syntax errors),
2. JSON value → checked against resources/schema/architecture-v1.schema.json (structure),
3. records → a fresh ``Graph`` built with the same rules the canvas uses (types, parameter
   ranges, duplicate ids, dangling edges, cycles, ports).
Any failure raises ``ArchitectureError`` naming the field, block or edge.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from designer.core.atomic import write_text_atomically
from designer.core.errors import ArchitectureError, DesignerError
from designer.core.graph import Graph
from designer.core.paths import RESOURCES

FORMAT = "network-designer/architecture"
VERSION = 1
SCHEMA_PATH = RESOURCES / "schema" / "architecture-v1.schema.json"


@lru_cache(maxsize=1)
def _validator():
    # Imported here: jsonschema costs start-up time and is only needed when a file is read.
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _where(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the document"


def parse_document(document: Any) -> Graph:
    """Build a graph from an already-decoded JSON value, or raise ``ArchitectureError``."""
    if not isinstance(document, dict):
        raise ArchitectureError(f"an architecture file holds a JSON object, not {type(document).__name__}")
    if document.get("format") != FORMAT:
        raise ArchitectureError(
            f"'format' must be \"{FORMAT}\", found {document.get('format')!r}: this is not a Network Designer architecture"
        )
    version = document.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise ArchitectureError(
            f"this file has version {version}, newer than this program reads ({VERSION}); update Network Designer"
        )
    errors = sorted(_validator().iter_errors(document), key=lambda error: (len(error.absolute_path), str(error.absolute_path)))
    if errors:
        error = errors[0]
        raise ArchitectureError(f"{_where(error.absolute_path)}: {_schema_message(error)}")

    for key in ("name", "description"):
        if key in document and not _encodable(document[key]):
            # json.loads accepts "\ud800"; such a name could never be saved again as UTF-8.
            raise ArchitectureError(f"{key}: contains an unpaired UTF-16 surrogate (\\ud800-\\udfff escape)")

    graph = Graph(document.get("name", "Untitled"))
    graph.description = document.get("description", "")
    try:
        for index, record in enumerate(document["blocks"]):
            block_id = record["id"]
            try:
                graph.add_block(record["type"], record.get("params", {}), record.get("pos", [0, 0]), block_id)
            except DesignerError as error:
                message = str(error)
                # The graph's own messages start with the block id; the prefix below names it already.
                if message.startswith(f"{block_id}: "):
                    message = message[len(block_id) + 2:]
                raise ArchitectureError(f"blocks[{index}] ('{block_id}'): {message}") from None
        for index, record in enumerate(document["edges"]):
            source, target = record["from"], record["to"]
            for end in (source, target):
                if end not in graph:
                    raise ArchitectureError(f"edges[{index}] ({source} → {target}): there is no block '{end}'")
            try:
                graph.connect(source, target, record.get("port"))
            except DesignerError as error:
                raise ArchitectureError(f"edges[{index}] ({source} → {target}): {error}") from None
    except RecursionError:  # pragma: no cover - schema limits make this unlikely
        raise ArchitectureError("the document is nested too deeply") from None
    return graph


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _schema_message(error) -> str:
    if error.validator == "additionalProperties":
        return f"unknown key: {error.message.split('(')[-1].rstrip(')')}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    return error.message


def loads(text: str | bytes) -> Graph:
    if isinstance(text, bytes):
        try:
            # utf-8-sig: an editor may have put a byte-order mark in front; it is not an error.
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ArchitectureError(f"the file is not UTF-8 text (byte {error.start})") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise ArchitectureError("the document is nested too deeply to be an architecture") from None
    except ValueError as error:
        raise ArchitectureError(f"not valid JSON: {error}") from None
    return parse_document(document)


def load_architecture(path: str | Path) -> Graph:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ArchitectureError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return loads(data)
    except ArchitectureError as error:
        raise ArchitectureError(f"{path.name}: {error}") from None


def to_document(graph: Graph) -> dict:
    blocks = []
    for block in graph:
        blocks.append(
            {
                "id": block.id,
                "type": block.type_id,
                "params": dict(block.params),
                "pos": [_tidy(block.position[0]), _tidy(block.position[1])],
            }
        )
    edges = []
    for edge in graph.edges:
        record = {"from": edge.source, "to": edge.target}
        if edge.port or graph.block(edge.target).type.inputs > 1:
            record["port"] = edge.port
        edges.append(record)
    document = {"format": FORMAT, "version": VERSION, "name": graph.name}
    description = getattr(graph, "description", "")
    if description:
        document["description"] = description
    document["blocks"] = blocks
    document["edges"] = edges
    return document


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def dumps(graph: Graph) -> str:
    return json.dumps(to_document(graph), indent=2, ensure_ascii=False) + "\n"


def save_architecture(graph: Graph, path: str | Path) -> None:
    """Write atomically: a crash mid-save leaves the previous file intact."""
    write_text_atomically(Path(path), dumps(graph))
