"""Architecture files (JSON, version 1): parse into typed records first, build the graph last.

Reading happens in three stages so that a bad file never yields a half-built graph:
1. text → JSON value (syntax errors),
2. JSON value → checked against resources/schema/architecture-v1.schema.json (structure),
3. records → a fresh ``Graph`` built with the same rules the canvas uses (types, parameter
   ranges, duplicate ids, dangling edges, cycles, ports).
Any failure raises ``ArchitectureError`` naming the field, block or edge, in one line that
quotes at most a short excerpt of the bad value.

Every stage costs time in proportion to the file: the file is read up to a size limit,
the blocks and edges are checked by a fast pass that mirrors the schema (jsonschema only
words the message for the one item found wrong: on 100,000 items it takes ~10 s), and
loops are found by one topological sort for the whole document, not a search per edge.
"""

from __future__ import annotations

import json
import numbers
import os
import re
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any

from designer.core.atomic import remove_stale_temporaries, write_text_atomically
from designer.core.errors import ArchitectureError, DesignerError, excerpt
from designer.core.gc_pause import collection_paused
from designer.core.graph import Graph, loop_message
from designer.core.paths import RESOURCES

FORMAT = "network-designer/architecture"
VERSION = 1
SCHEMA_PATH = RESOURCES / "schema" / "architecture-v1.schema.json"
#: The largest design file read. The schema allows 100,000 blocks and 200,000 edges; the
#: writer's largest such document (64-character ids, every parameter, long positions) is
#: about 90 MB (tests/core/test_limits.py works it out), so this refuses only what cannot be
#: a design (``/dev/zero``, a video renamed .json) before it fills the memory.
MAX_FILE_BYTES = 128 * 1024 * 1024


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def max_blocks() -> int:
    return schema()["properties"]["blocks"]["maxItems"]


def max_edges() -> int:
    return schema()["properties"]["edges"]["maxItems"]


@lru_cache(maxsize=3)
def _validator(part: str = ""):
    """jsonschema for the whole document (``""``) or for one item of ``blocks``/``edges``."""
    # Imported here: jsonschema costs start-up time and is only needed when a file is read.
    import jsonschema

    whole = schema()
    return jsonschema.Draft202012Validator(whole["properties"][part]["items"] if part else whole)


def _where(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the document"


# ----------------------------------------------------------------------------- structure


_JSON_NUMBERS = frozenset({int, float})
_JSON_SCALARS = frozenset({int, float, bool, str})


class _ItemRules:
    """The schema's rules for one block or edge, as plain Python (about 1 µs an item).

    Mirrors resources/schema/architecture-v1.schema.json exactly (jsonschema's own type
    rules: bool is no number, 1.0 is an integer, ``pattern`` is ``re.search``);
    tests/core/test_limits.py checks on random items that both always agree.
    """

    def __init__(self, item_schema: dict) -> None:
        self.keys = frozenset(item_schema["properties"])
        self.required = tuple(item_schema["required"])
        self.properties = item_schema["properties"]
        id_schema = self.properties.get("id", {})
        self.id_pattern = re.compile(id_schema["pattern"]) if "pattern" in id_schema else None

    def block_ok(self, item: Any) -> bool:
        if not isinstance(item, dict) or not self.keys.issuperset(item):
            return False
        block_id, type_id = item.get("id"), item.get("type")
        if not isinstance(block_id, str) or not isinstance(type_id, str) or not self.id_pattern.search(block_id):
            return False
        if "params" in item:
            params = item["params"]
            if not isinstance(params, dict):
                return False
            for value in params.values():
                # The exact JSON types first: isinstance against the Number ABC is slow.
                if type(value) not in _JSON_SCALARS and not isinstance(value, (str, numbers.Number)):
                    return False
        if "pos" in item:
            position = item["pos"]
            if not isinstance(position, list) or len(position) != 2:
                return False
            for value in position:
                if type(value) not in _JSON_NUMBERS and (isinstance(value, bool)
                                                         or not isinstance(value, numbers.Number)):
                    return False
        return True

    def edge_ok(self, item: Any) -> bool:
        if not isinstance(item, dict) or not self.keys.issuperset(item):
            return False
        if not isinstance(item.get("from"), str) or not isinstance(item.get("to"), str):
            return False
        if "port" in item:
            port = item["port"]
            if isinstance(port, bool):
                return False
            if isinstance(port, float):
                if not port.is_integer():
                    return False
            elif not isinstance(port, int):
                return False
            if port < 0:
                return False
        return True


@lru_cache(maxsize=1)
def _rules() -> tuple[_ItemRules, _ItemRules]:
    properties = schema()["properties"]
    return _ItemRules(properties["blocks"]["items"]), _ItemRules(properties["edges"]["items"])


def _first_schema_error(validator, instance, prefix: tuple = ()):
    errors = sorted(validator.iter_errors(instance),
                    key=lambda error: (len(error.absolute_path), str(error.absolute_path)))
    if not errors:
        return None
    error = errors[0]
    return prefix + tuple(error.absolute_path), error


def check_structure(document: dict) -> None:
    """Raise ``ArchitectureError`` for the first place the document breaks the schema."""
    # The top level with the two long arrays left empty: jsonschema checks keys, types,
    # format, version, name and description at once, in no time.
    skeleton = dict(document)
    for key in ("blocks", "edges"):
        if isinstance(skeleton.get(key), list):
            skeleton[key] = []
    found = _first_schema_error(_validator(""), skeleton)
    if found is not None:
        raise ArchitectureError(f"{_where(found[0])}: {_schema_message(found[1])}")

    for key, limit, what in (("blocks", max_blocks(), "blocks"), ("edges", max_edges(), "wires")):
        count = len(document[key])
        if count > limit:
            raise ArchitectureError(f"{key}: the file has {count:,} {what}; a design may have at most {limit:,}")

    block_rules, edge_rules = _rules()
    problems = []
    for key, ok in (("blocks", block_rules.block_ok), ("edges", edge_rules.edge_ok)):
        for index, item in enumerate(document[key]):
            if not ok(item):
                # The fast rules found the item; jsonschema says precisely what is wrong with it
                # (and has the last word: should the two ever disagree, its verdict stands).
                found = _first_schema_error(_validator(key), item, (key, index))
                if found is not None:
                    problems.append(found)
                    break
    if problems:
        path, error = min(problems, key=lambda found: (len(found[0]), str(found[0])))
        raise ArchitectureError(f"{_where(path)}: {_schema_message(error)}")


_TYPE_NAMES = {"array": "a list", "object": "an object", "string": "text", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, numbers.Number):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _schema_message(error) -> str:
    """jsonschema's finding in words that never repeat a long value (its own messages do)."""
    validator, limit, instance = error.validator, error.validator_value, error.instance
    if validator == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = [key for key in instance if key not in known]
        more = f" and {len(extra) - 3:,} more" if len(extra) > 3 else ""
        return f"unknown key{'s' if len(extra) > 1 else ''}: {', '.join(excerpt(key) for key in extra[:3])}{more}"
    if validator == "required":
        missing = [name for name in limit if name not in instance]
        return f"{excerpt(missing[0] if missing else limit)} is missing"
    if validator == "type":
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in ([limit] if isinstance(limit, str) else limit))
        return f"must be {wanted}, not {_json_type(instance)}"
    if validator == "const":
        return f"must be {excerpt(limit)}, not {excerpt(instance)}"
    if validator == "maxLength":
        return f"is {len(instance):,} characters long; at most {limit:,} are allowed"
    if validator == "minItems":
        return f"has {len(instance):,} items; it needs at least {limit:,}"
    if validator == "maxItems":
        return f"has {len(instance):,} items; at most {limit:,} are allowed"
    if validator == "pattern":
        return (f"{excerpt(instance)} is not a valid id: use up to 64 letters, digits, '_' or '-', "
                f"starting with a letter or '_'")
    if validator == "minimum":
        return f"must be at least {limit}, not {excerpt(instance)}"
    return excerpt(error.message, 200)


# ----------------------------------------------------------------------------- reading


def parse_document(document: Any) -> Graph:
    """Build a graph from an already-decoded JSON value, or raise ``ArchitectureError``."""
    with collection_paused():
        return _parse_document(document)


def _parse_document(document: Any) -> Graph:
    if not isinstance(document, dict):
        raise ArchitectureError(f"an architecture file holds a JSON object, not {type(document).__name__}")
    if document.get("format") != FORMAT:
        raise ArchitectureError(
            f"'format' must be \"{FORMAT}\", found {excerpt(document.get('format'))}: "
            f"this is not a Network Designer architecture"
        )
    version = document.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise ArchitectureError(
            f"this file has version {excerpt(version)}, newer than this program reads ({VERSION}); "
            f"update Network Designer"
        )
    check_structure(document)

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
        edges = document["edges"]
        for index, record in enumerate(edges):
            source, target = record["from"], record["to"]
            for end in (source, target):
                if end not in graph:
                    _refuse_a_loop(graph, edges)
                    raise ArchitectureError(
                        f"edges[{index}] ({_end(source)} → {_end(target)}): there is no block {excerpt(end)}"
                    )
            try:
                # Loops are looked for once, below, for the whole document.
                graph.connect(source, target, record.get("port"), cycles=False)
            except DesignerError as error:
                # A loop among the edges before this one would have been refused first.
                _refuse_a_loop(graph, edges)
                raise ArchitectureError(f"edges[{index}] ({source} → {target}): {error}") from None
        _refuse_a_loop(graph, edges)
    except RecursionError:  # pragma: no cover - schema limits make this unlikely
        raise ArchitectureError("the document is nested too deeply") from None
    return graph


def _refuse_a_loop(graph: Graph, edges: list) -> None:
    """Refuse the edge that closes the first loop, with the message the canvas gives for it."""
    looping = graph.first_loop_edge()
    if looping is not None:
        source, target = edges[looping]["from"], edges[looping]["to"]
        raise ArchitectureError(f"edges[{looping}] ({source} → {target}): {loop_message(source, target)}")


def _end(block_id: str) -> str:
    return block_id if len(block_id) <= 64 else excerpt(block_id, 30)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads(text: str | bytes) -> Graph:
    with collection_paused():
        return _loads(text)


def _loads(text: str | bytes) -> Graph:
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
    return _parse_document(document)


def _size_text(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def read_design_bytes(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a design file, refusing what cannot be one before reading it all.

    A folder, a device (``/dev/zero``), a pipe or a socket is refused without reading (a pipe
    with no writer would block forever), and so is a file larger than ``MAX_FILE_BYTES``.
    """
    limit = MAX_FILE_BYTES if limit is None else limit
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise ArchitectureError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        info = os.fstat(descriptor)
        if stat.S_ISDIR(info.st_mode):
            raise ArchitectureError(f"cannot read {path}: it is a folder; choose a .json design file in it")
        if not stat.S_ISREG(info.st_mode):
            raise ArchitectureError(f"cannot read {path}: it is not a regular file (a device, pipe or "
                                    f"socket); save the design to a file and open that")
        if info.st_size > limit:
            raise ArchitectureError(_too_large(path, limit, info.st_size))
        with os.fdopen(descriptor, "rb") as handle:
            descriptor = -1  # the handle closes it
            data = handle.read(limit + 1)  # the file may have grown since fstat
    except OSError as error:
        raise ArchitectureError(f"cannot read {path}: {error.strerror or error}") from None
    finally:
        if descriptor >= 0:
            os.close(descriptor)
    if len(data) > limit:
        raise ArchitectureError(_too_large(path, limit))
    return data


def _too_large(path: Path, limit: int, size: int | None = None) -> str:
    found = f"{_size_text(size)}, more than" if size is not None else "larger than"
    return (f"{path.name} is {found} {_size_text(limit)}, the most a design file may be (the limit that "
            f"allows {max_blocks():,} blocks): it is not a design file, or not one this program can open")


def load_architecture(path: str | Path) -> Graph:
    path = Path(path)
    data = read_design_bytes(path)
    # A save of this file killed midway left a hidden temporary; opening is a good time to tidy.
    remove_stale_temporaries(path)
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
