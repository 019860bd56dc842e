"""Read playbook YAML, check it against schema.json and the rules beyond it.

Every problem is reported with the file, the 1-based line and column it was
found at, the path inside the document and a message that says what is wrong
and what to write instead. A broken playbook is refused as a whole
(docs/architecture.md "Playbooks are data": a broken playbook is refused with its file, line and reason).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import string
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

from crisis.playbooks.durations import DURATION_PATTERN, DurationError, parse_duration

SCHEMA: Mapping[str, Any] = json.loads(
    resources.files("crisis.playbooks").joinpath("schema.json").read_text(encoding="utf-8")
)
_VALIDATOR = Draft202012Validator(SCHEMA)


def schema_enum(name: str) -> tuple[str, ...]:
    """The allowed values of one of the schema's vocabularies, e.g. ``role``."""
    return tuple(SCHEMA["$defs"][name]["enum"])


CONDITION_FACTS: tuple[str, ...] = tuple(SCHEMA["$defs"]["condition"]["properties"])
RELATIVE_SCOPES: tuple[str, ...] = schema_enum("relativeScope")

# Placeholders each SMS template may use. An SMS carries no name, diagnosis or
# address (docs/architecture.md "Sensitive data stays in the system"; docs/domain.md "Special categories", GDPR
# art. 9-10), so templates get only references, links, deadlines and counts:
#   ref   the incident's or follow-up's reference in this system, never a name
#   link  the URL to log in and open it
#   kind  what the message is about in the message's language: the kind of
#         dispatch (e.g. "hembesök") or the overdue task's category
#   due   the deadline, formatted in Stockholm time by the sender
#   count_open / count_overdue / count_followups  the recipient's numbers today
MESSAGE_PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "dispatch": frozenset({"ref", "link", "kind"}),
    "dispatch_escalation": frozenset({"ref", "link", "kind"}),
    "followup_reminder": frozenset({"ref", "link", "due"}),
    "task_overdue": frozenset({"ref", "link", "due", "kind"}),
    "morning_summary": frozenset({"count_open", "count_overdue", "count_followups", "link"}),
}


@dataclass(frozen=True)
class PlaybookIssue:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    path: str  # e.g. phases[1].steps[3].due.in; empty for the file as a whole
    message: str
    severity: str = "error"  # or "warning": reported, but the playbook still loads

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{where}: {self.path}: {message}" if self.path else f"{where}: {message}"


class PlaybookError(Exception):
    """A playbook (or a directory of them) that cannot be used."""

    def __init__(self, issues: Iterable[PlaybookIssue]):
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass(frozen=True)
class Playbook:
    """A validated playbook. Treat `content` as read-only: incidents pin it."""

    id: str
    version: int
    content: dict[str, Any]
    content_hash: str
    source_text: str
    path: str
    warnings: tuple[PlaybookIssue, ...] = ()


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 of the content as canonical JSON (sorted keys, no spaces, UTF-8).

    Comments, whitespace, key order and YAML style do not change it; any change
    to what the playbook says does. An incident pins the hash it was activated
    with, so editing only comments does not look like a new plan.
    """
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_playbook(path: str | Path) -> Playbook:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:  # before reading it: a huge file is refused cheaply
            raise PlaybookError([_file_issue(path, _too_large_message(path.stat().st_size))])
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlaybookError(
            [_file_issue(path, "the file is not UTF-8 text; save it as UTF-8")]
        ) from None
    except OSError as error:
        raise PlaybookError(
            [_file_issue(path, f"cannot read the file: {error.strerror}")]
        ) from None
    return load_playbook_text(text, str(path))


def load_playbook_text(text: str, filename: str = "<text>") -> Playbook:
    content, issues = _check_text(text, filename)
    if any(issue.severity == "error" for issue in issues):
        raise PlaybookError(issues)
    return Playbook(
        id=content["id"],
        version=int(content["version"]),
        content=content,
        content_hash=content_hash(content),
        source_text=text,
        path=filename,
        warnings=tuple(issues),
    )


def playbook_files(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files named, and those directly inside the directories named."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(
                sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            )
        else:
            files.append(path)
    return files


def load_directory(directory: str | Path) -> list[Playbook]:
    """Every playbook in `directory`, or PlaybookError listing every problem."""
    playbooks, issues = _load_files(playbook_files([directory]))
    if any(issue.severity == "error" for issue in issues):
        raise PlaybookError(issues)
    return playbooks


def validate_paths(paths: Iterable[str | Path]) -> list[PlaybookIssue]:
    """Errors and warnings for the files and directories named, in file order."""
    issues: list[PlaybookIssue] = []
    paths = [Path(p) for p in paths]
    for directory in (p for p in paths if p.is_dir()):
        if not playbook_files([directory]):
            issues.append(
                _file_issue(directory, "no playbook files (*.yaml, *.yml) in this directory")
            )
    issues.extend(_load_files(playbook_files(paths))[1])
    return issues


def _load_files(files: list[Path]) -> tuple[list[Playbook], list[PlaybookIssue]]:
    playbooks: list[Playbook] = []
    issues: list[PlaybookIssue] = []
    first_file_of_id: dict[str, Playbook] = {}
    for file in files:
        try:
            playbook = load_playbook(file)
        except PlaybookError as error:
            issues.extend(error.issues)
            continue
        issues.extend(playbook.warnings)
        first = first_file_of_id.setdefault(playbook.id, playbook)
        if first is not playbook:
            # An incident names its playbook by id; two files with one id
            # would make "activate stockholm-skjutning" ambiguous.
            line = _top_level_key_line(playbook.source_text, "id")
            issues.append(
                PlaybookIssue(
                    playbook.path,
                    line,
                    1,
                    "id",
                    f"playbook id '{playbook.id}' is already used by {first.path}; give each playbook its own id",
                )
            )
            continue
        playbooks.append(playbook)
    return playbooks, issues


def _top_level_key_line(text: str, key: str) -> int:
    match = re.search(rf"^{re.escape(key)}\s*:", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1


# Limits (issue 14, finding 5): a playbook is tens of kilobytes, some 2,000 values, 7 levels deep.
# A "billion laughs" file (aliases of aliases) or one nested thousands of levels deep is refused,
# with its file and line, before anything is expanded or built recursively.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 40
MAX_VALUES = 50_000


def _too_large_message(size: int) -> str:
    return (f"the file is {size // 1024} KiB; a playbook may be at most {MAX_BYTES // 1024} KiB. "
            "Split it or remove what is not part of the plan")


def _file_issue(path: Path, message: str) -> PlaybookIssue:
    return PlaybookIssue(str(path), 1, 1, "", message)


# --- Reading YAML with positions --------------------------------------------


class _PlaybookYamlLoader(yaml.SafeLoader):
    """YAML 1.2-style scalars: only true/false are booleans and dates stay text.

    Under YAML 1.1 `no:` (Norwegian) would become the boolean False and a
    date would become a date object; playbooks are language maps and text.
    """


_PlaybookYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlaybookYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


# The same scalars, parsed by libyaml when PyYAML has it: several times faster, so that `crisis
# playbooks validate` answers in well under a second. Text it cannot read is read again by the
# pure-Python loader above, whose messages say where and what to fix.
_FastPlaybookYamlLoader = None
if getattr(yaml, "__with_libyaml__", False):
    class _FastPlaybookYamlLoader(yaml.CSafeLoader):  # noqa: N801
        yaml_implicit_resolvers = _PlaybookYamlLoader.yaml_implicit_resolvers


DocPath = tuple[str | int, ...]


class _Positions:
    """Where each value (and each mapping key) of the document starts."""

    def __init__(self) -> None:
        self.values: dict[DocPath, yaml.Mark] = {}
        self.keys: dict[DocPath, yaml.Mark] = {}

    def of_value(self, path: DocPath) -> yaml.Mark | None:
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path)

    def of_key(self, path: DocPath) -> yaml.Mark | None:
        return self.keys.get(path) or self.of_value(path)


class _Report:
    """Collects issues for one file, locating them by document path."""

    def __init__(self, filename: str, positions: _Positions):
        self.filename = filename
        self.positions = positions
        self.issues: list[PlaybookIssue] = []

    def at_mark(
        self, mark: yaml.Mark | None, path: DocPath, message: str, severity: str = "error"
    ) -> None:
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        self.issues.append(
            PlaybookIssue(self.filename, line, column, format_path(path), message, severity)
        )

    def at_value(self, path: DocPath, message: str, severity: str = "error") -> None:
        self.at_mark(self.positions.of_value(path), path, message, severity)

    def at_key(self, path: DocPath, message: str, severity: str = "error") -> None:
        self.at_mark(self.positions.of_key(path), path, message, severity)

    def sorted_unique(self) -> list[PlaybookIssue]:
        unique = dict.fromkeys(self.issues)
        return sorted(unique, key=lambda issue: (issue.line, issue.column))


def format_path(path: DocPath) -> str:
    """``("phases", 1, "when", "incident.type")`` -> ``phases[1].when["incident.type"]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text


def _check_text(text: str, filename: str) -> tuple[Any, list[PlaybookIssue]]:
    positions = _Positions()
    report = _Report(filename, positions)
    readable, content = _read_yaml(text, positions, report)
    if not readable:
        return content, report.sorted_unique()
    if content is None:
        report.at_mark(
            None, (), "the file is empty; a playbook starts with id, version, title and phases"
        )
    elif not isinstance(content, dict):
        report.at_value(
            (),
            "a playbook is a mapping of keys (id, version, title, phases ...), not a list or text",
        )
    else:
        _check_schema(content, report)
        _check_rules(content, report)
    return content, report.sorted_unique()


def _read_yaml(text: str, positions: _Positions, report: _Report) -> tuple[bool, Any]:
    """(whether the text is readable YAML, the data); problems go to `report`."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        report.issues.append(PlaybookIssue(report.filename, 1, 1, "", _too_large_message(len(text.encode()))))
        return False, None
    if _FastPlaybookYamlLoader is not None:
        try:
            yaml.reader.Reader(text)  # control characters: the careful reader says where
            within = _within_limits(text, report, _FastPlaybookYamlLoader)
        except yaml.YAMLError:
            within = None  # malformed: the careful reader below says where
        if within is False:
            return False, None
        fast = _fast_node(text) if within else None
        if fast is not None:
            node, loader = fast
            try:
                return True, None if node is None else _construct(node, (), loader, positions, report, set())
            finally:
                loader.dispose()
    try:
        loader = _PlaybookYamlLoader(text)  # refuses control characters at once
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        message = f"control character U+{error.character:04X} is not allowed in YAML; remove it"
        report.issues.append(PlaybookIssue(report.filename, line, 1, "", message))
        return False, None
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        report.issues.append(PlaybookIssue(report.filename, 1, 1, "", _too_large_message(len(text.encode()))))
        loader.dispose()
        return False, None
    try:
        if not _within_limits(text, report):
            return False, None
        node = loader.get_single_node()
        return True, None if node is None else _construct(
            node, (), loader, positions, report, set()
        )
    except yaml.MarkedYAMLError as error:
        report.at_mark(error.problem_mark or error.context_mark, (), _yaml_error_message(error))
    finally:
        loader.dispose()
    return False, None


def _fast_node(text: str):
    """(the document's node, its loader) by libyaml; None when the text needs the careful reader."""
    try:
        yaml.reader.Reader(text)  # control characters: the careful reader says where
        loader = _FastPlaybookYamlLoader(text)
        return loader.get_single_node(), loader
    except yaml.YAMLError:
        return None
def _within_limits(text: str, report: _Report, loader_class=None) -> bool:
    """Read the YAML events once (no recursion, nothing expanded) and check depth and expanded size.

    The size each anchor stands for is worked out as its events pass, so an
    alias adds the size of what it repeats: aliases of aliases ("billion
    laughs") are caught at the alias that crosses the limit.
    """
    deep = _deep_flow_bracket(text)
    if deep is not None:
        # PyYAML's scanner looks ahead across every open bracket (quadratic): refuse before it runs.
        line, column = deep
        report.issues.append(PlaybookIssue(report.filename, line, column, "",
                                           f"the YAML is nested more than {MAX_DEPTH} levels deep; "
                                           "a playbook needs fewer than ten"))
        return False
    probe = (loader_class or _PlaybookYamlLoader)(text)
    open_collections: list[list] = []  # [anchor, values so far] of each collection being read
    sizes: dict[str, int] = {}
    total = 0
    try:
        while probe.check_event():
            event = probe.get_event()
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                open_collections.append([event.anchor, 1])
                if len(open_collections) > MAX_DEPTH:
                    report.at_mark(event.start_mark, (), f"the YAML is nested more than {MAX_DEPTH} levels deep; "
                                   "a playbook needs fewer than ten")
                    return False
                continue
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                anchor, size = open_collections.pop()
                if anchor:
                    sizes[anchor] = size
            elif isinstance(event, yaml.ScalarEvent):
                size = 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                size = sizes.get(event.anchor, 1)
            else:
                continue
            if open_collections:
                open_collections[-1][1] += size
            else:
                total += size
            if size > MAX_VALUES or (open_collections and open_collections[-1][1] > MAX_VALUES) \
                    or total > MAX_VALUES:
                report.at_mark(event.start_mark, (), f"the YAML expands to more than {MAX_VALUES:,} values "
                               "(aliases repeating aliases?); write the plan out without nested aliases")
                return False
    finally:
        probe.dispose()
    return True


def _deep_flow_bracket(text: str) -> tuple[int, int] | None:
    """(line, column) of the first `[` or `{` more than MAX_DEPTH deep, outside quotes and comments."""
    depth, line, column, quote = 0, 1, 0, ""
    previous = "\n"
    index = 0
    while index < len(text):
        char = text[index]
        column += 1
        if char == "\n":
            line, column = line + 1, 0
            if quote == "#":
                quote = ""
        elif quote == "#":
            pass
        elif quote:
            if char == "\\" and quote == '"':
                index += 1
                column += 1
            elif char == quote:
                quote = ""
        elif char == "#" and previous in " \t\n":
            quote = "#"
        elif char in "'\"" and previous in " \t\n[{,:-":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, column
        elif char in "]}":
            depth = max(depth - 1, 0)
        previous = char
        index += 1
    return None


def _yaml_error_message(error: yaml.MarkedYAMLError) -> str:
    problem = error.problem or "invalid YAML"
    context = f"{error.context}, " if error.context else ""
    started = ""
    if (
        error.context_mark
        and error.problem_mark
        and error.context_mark.line != error.problem_mark.line
    ):
        started = f" (it started on line {error.context_mark.line + 1})"
    hint = (
        "indent with spaces, not tabs"
        if "\\t" in problem
        else "check indentation, colons and quotes"
    )
    return f"YAML syntax error: {context}{problem}{started}; {hint}"


def _construct(
    node: yaml.Node,
    path: DocPath,
    loader: _PlaybookYamlLoader,
    positions: _Positions,
    report: _Report,
    open_nodes: set[int],
) -> Any:
    """Build plain data from the composed node tree, remembering positions."""
    positions.values.setdefault(path, node.start_mark)
    if id(node) in open_nodes:
        report.at_mark(
            node.start_mark, path, "an alias refers to its own anchor; write the value out"
        )
        return None
    if isinstance(node, yaml.MappingNode):
        open_nodes.add(id(node))
        mapping: dict[str, Any] = {}
        first_line_of_key: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                report.at_mark(
                    key_node.start_mark, path, "a key must be plain text, not a list or mapping"
                )
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                report.at_mark(
                    key_node.start_mark,
                    path,
                    "merge keys (<<) are not supported; write the keys out so each step reads on its own",
                )
                continue
            key = key_node.value  # keys are always their text: `1:` and `true:` mean "1" and "true"
            if key in first_line_of_key:
                report.at_mark(
                    key_node.start_mark,
                    path + (key,),
                    f"duplicate key '{key}' (first on line {first_line_of_key[key]}); keep only one",
                )
                continue
            first_line_of_key[key] = key_node.start_mark.line + 1
            positions.keys[path + (key,)] = key_node.start_mark
            mapping[key] = _construct(
                value_node, path + (key,), loader, positions, report, open_nodes
            )
        open_nodes.discard(id(node))
        return mapping
    if isinstance(node, yaml.SequenceNode):
        open_nodes.add(id(node))
        items = [
            _construct(item, path + (index,), loader, positions, report, open_nodes)
            for index, item in enumerate(node.value)
        ]
        open_nodes.discard(id(node))
        return items
    return loader.construct_object(node)


# --- Schema errors, explained --------------------------------------------------

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}

# What a value at a key is called in messages ("unknown role 'x'").
_VALUE_NOUNS = {
    "role": "role",
    "category": "category",
    "agency": "agency",
    "for_each": "for_each scope",
    "after": "anchor",
    "channel": "channel",
    "applies_to": "incident type",
    "escalate_to": "escalation target",
    "task_overdue_notify": "recipient",
    "incident.type": "incident type",
    "incident.outcome": "outcome",
    "incident.threat_level": "threat level",
    "relative.consent": "consent state",
}
# Values that exist in the vocabulary but are not allowed at every key.
_WIDER_VOCABULARY = {"after": schema_enum("anchor"), "for_each": schema_enum("stepScope")}


def _check_schema(content: dict[str, Any], report: _Report) -> None:
    for error in _VALIDATOR.iter_errors(content):
        for path, at_key, message in _explain(error):
            (report.at_key if at_key else report.at_value)(path, message)


def _explain(error: ValidationError) -> Iterator[tuple[DocPath, bool, str]]:
    """Turn one jsonschema error into (path, point at the key?, message) items."""
    path: DocPath = tuple(error.absolute_path)
    keyword = error.validator
    instance = error.instance
    if keyword == "anyOf":
        yield from _explain_alternatives(error, path)
    elif keyword == "required":
        for key in error.validator_value:
            if key not in instance:
                yield path + (key,), False, _missing_key_message(key)
    elif keyword == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(instance) - set(allowed)):
            yield path + (key,), True, _unknown_key_message(key, allowed, path)
    elif keyword == "pattern" and "propertyNames" in error.absolute_schema_path:
        yield (
            path + (instance,),
            True,
            f"'{instance}' is not a language code; {error.schema['description']}",
        )
    else:
        yield path, False, _value_message(error, path)


def _explain_alternatives(
    error: ValidationError, path: DocPath
) -> Iterator[tuple[DocPath, bool, str]]:
    # Pick the alternative written for this kind of value (text, list or
    # mapping) and explain what is wrong inside it, instead of jsonschema's
    # "is not valid under any of the given schemas".
    branches: dict[Any, list[ValidationError]] = defaultdict(list)
    for sub_error in error.context:
        branches[sub_error.relative_schema_path[0]].append(sub_error)

    def rejects_type(errors: list[ValidationError]) -> bool:
        return any(e.validator == "type" and not e.relative_path for e in errors)

    fitting = [errors for _, errors in sorted(branches.items()) if not rejects_type(errors)]
    if fitting:
        for sub_error in fitting[0]:
            yield from _explain(sub_error)
        return
    expected = [
        _TYPE_NAMES[e.validator_value]
        for _, errors in sorted(branches.items())
        for e in errors
        if e.validator == "type" and not e.relative_path
    ]
    expected_text = (
        ", ".join(expected[:-1]) + f" or {expected[-1]}" if len(expected) > 1 else expected[0]
    )
    if any("not" in (branch.get("properties") or {}) for branch in error.validator_value):
        expected_text = expected_text.replace("a mapping", "{not: ...}")
    yield path, False, f"must be {expected_text}, not {_describe(error.instance)}"


def _missing_key_message(key: str) -> str:
    if key == "sv":
        return "missing Swedish text; every text needs sv (and en is expected)"
    if key == "agency":
        return "a practical_help step needs an agency; add agency: one of " + ", ".join(
            schema_enum("agency")
        )
    return f"missing required key '{key}'; add it"


def _unknown_key_message(key: str, allowed: list[str], path: DocPath) -> str:
    if path and path[-1] == "when":
        message = f"unknown fact '{key}'; conditions can use {', '.join(allowed)}"
    else:
        message = f"unknown key '{key}'; allowed here: {', '.join(allowed)}"
    return message + _did_you_mean(key, allowed)


def _value_message(error: ValidationError, path: DocPath) -> str:
    keyword, instance, expected = error.validator, error.instance, error.validator_value
    if keyword == "enum":
        noun = _noun_for(path)
        wider = _WIDER_VOCABULARY.get(_last_key(path), ())
        problem = (
            f"{noun} '{instance}' cannot be used here"
            if instance in wider
            else f"unknown {noun} '{instance}'"
        )
        return f"{problem}; use one of: {', '.join(map(str, expected))}" + _did_you_mean(
            str(instance), expected
        )
    if keyword == "type":
        message = f"must be {_TYPE_NAMES.get(expected, expected)}, not {_describe(instance)}"
        if error.schema.get("required") == ["sv"]:
            return message + "; write text per language, e.g. {sv: '...', en: '...'}"
        if expected == "string" and isinstance(instance, bool | int | float):
            return message + "; put it in quotes"
        return message
    if keyword == "pattern":
        if expected == DURATION_PATTERN:
            try:
                parse_duration(instance)
            except DurationError as duration_error:
                return str(duration_error)
        return f"'{instance}' is not valid here; {error.schema.get('description', 'it must match ' + expected)}"
    if keyword == "uniqueItems":
        repeated = next(item for index, item in enumerate(instance) if item in instance[:index])
        return f"lists '{repeated}' more than once; keep one"
    if keyword == "minItems":
        return (
            "must not be empty; list at least one item"
            if not instance
            else f"needs at least {expected} items"
        )
    if keyword == "minProperties":
        if _last_key(path) == "when":
            return "an empty condition matches everything; remove `when` or name a fact"
        return "must not be empty"
    if keyword == "minLength":
        return "must not be empty"
    if keyword == "minimum":
        return f"must be at least {expected}, not {instance}"
    return error.message


def _last_key(path: DocPath) -> str | None:
    return next((part for part in reversed(path) if isinstance(part, str) and part != "not"), None)


def _noun_for(path: DocPath) -> str:
    return _VALUE_NOUNS.get(_last_key(path) or "", "value")


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "empty (nothing after the colon)"
    if isinstance(value, str):
        return f"text '{value}'"
    if isinstance(value, int | float):
        return f"the number {value}"
    return "a list" if isinstance(value, list) else "a mapping"


def _did_you_mean(word: str, candidates: Iterable[Any]) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in candidates], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- Rules beyond the schema ----------------------------------------------------

_CONSENT_STATES = schema_enum("consent")
_OUTCOMES = schema_enum("outcome")

_CONSENT_RULE = (
    "a step that reaches out to a relative needs `when: {relative.consent: given}`; "
    'only coordination steps may be planned before consent (seed 000: "För att kontakt ska '
    'kunna tas med den anhöriga i ett sådant fall måste samtycke inhämtas.")'
)


def _check_rules(content: dict[str, Any], report: _Report) -> None:
    _check_unique_ids(content, report)
    for path, step in _steps(content):
        _check_step_scope(path, step, report)
    _check_follow_ups(content, report)
    _check_messages(content, report)
    _check_english(content, report)


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _phases(content: dict[str, Any]) -> Iterator[tuple[DocPath, dict[str, Any]]]:
    for index, phase in enumerate(_items(content.get("phases"))):
        if isinstance(phase, dict):
            yield ("phases", index), phase


def _steps(content: dict[str, Any]) -> Iterator[tuple[DocPath, dict[str, Any]]]:
    for phase_path, phase in _phases(content):
        for index, step in enumerate(_items(phase.get("steps"))):
            if isinstance(step, dict):
                yield phase_path + ("steps", index), step


def _check_unique_ids(content: dict[str, Any], report: _Report) -> None:
    # Step ids are the tasks' idempotency keys (plan.PlannedTask.key), so they
    # must be unique in the whole playbook, not only within a phase.
    for kind, entries in (("phase", _phases(content)), ("step", _steps(content))):
        first_line: dict[str, int] = {}
        for path, entry in entries:
            entry_id = entry.get("id")
            if not isinstance(entry_id, str):
                continue
            mark = report.positions.of_value(path + ("id",))
            if entry_id in first_line:
                report.at_value(
                    path + ("id",),
                    f"duplicate {kind} id '{entry_id}' (first on line {first_line[entry_id]}); "
                    f"{kind} ids must be unique in the playbook",
                )
            elif mark is not None:
                first_line[entry_id] = mark.line + 1


def _allowed_values(match: Any, vocabulary: tuple[Any, ...]) -> set[Any] | None:
    """The fact values a condition accepts, or None if the match is malformed."""
    if isinstance(match, dict):
        excluded = _allowed_values(match.get("not"), vocabulary)
        return None if excluded is None else set(vocabulary) - excluded
    values = set(match) if isinstance(match, list) else {match}
    return values if values <= set(vocabulary) else None


def _check_step_scope(path: DocPath, step: dict[str, Any], report: _Report) -> None:
    scope = step.get("for_each", "incident")
    per_relative = scope in RELATIVE_SCOPES
    when = _mapping(step.get("when"))
    anchor = _mapping(step.get("due")).get("after")
    if not per_relative:
        planned_once = "deceased person" if scope == "deceased" else "incident"
        for fact in when:
            if fact.startswith("relative."):
                report.at_key(
                    path + ("when", fact),
                    f"'{fact}' is a fact about a relative, but this step is planned once per {planned_once}; "
                    "set for_each to relative, child_relative or adult_relative, or remove the condition",
                )
        if anchor == "first_contact":
            report.at_value(
                path + ("due", "after"),
                "first_contact is known per relative; set for_each to relative, child_relative or "
                "adult_relative, or anchor the step to activation",
            )
    elif step.get("category") != "coordination":
        allowed = _allowed_values(
            when.get("relative.consent", list(_CONSENT_STATES)), _CONSENT_STATES
        )
        if allowed is not None and allowed != {"given"}:
            report.at_key(
                path + ("when",) if "when" in step else path + ("for_each",), _CONSENT_RULE
            )
    if anchor == "death" and scope != "deceased":
        outcomes = _allowed_values(when.get("incident.outcome", list(_OUTCOMES)), _OUTCOMES)
        if outcomes is not None and outcomes != {"deceased"}:
            report.at_value(
                path + ("due", "after"),
                "this step waits for a death date but is not limited to deaths; add "
                "`incident.outcome: deceased` to when, or use for_each: deceased",
                severity="warning",
            )


def _check_follow_ups(content: dict[str, Any], report: _Report) -> None:
    # A follow-up's key is its label (the canonical duration), so "1w" and
    # "1 week" in one schedule would be the same contact twice.
    first_index: dict[str, int] = {}
    for index, offset in enumerate(_items(_mapping(content.get("follow_ups")).get("at"))):
        try:
            label = str(parse_duration(offset))
        except DurationError:
            continue  # the schema reports it
        if label in first_index:
            report.at_value(
                ("follow_ups", "at", index),
                f"follow-up {label} is listed twice (also item {first_index[label]}); keep one",
            )
        else:
            first_index[label] = index


def _check_messages(content: dict[str, Any], report: _Report) -> None:
    for kind, texts in _mapping(content.get("messages")).items():
        allowed = MESSAGE_PLACEHOLDERS.get(kind)
        if allowed is None:
            continue  # unknown template: the schema reports it
        for language, template in _mapping(texts).items():
            if isinstance(template, str):
                for problem in _placeholder_problems(template, kind, allowed):
                    report.at_value(("messages", kind, language), problem)


def _placeholder_problems(template: str, kind: str, allowed: frozenset[str]) -> list[str]:
    names = ", ".join("{" + name + "}" for name in sorted(allowed))
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        return [f"{error}; write {{{{ or }}}} for a literal brace"]
    problems = []
    for name, spec, conversion in fields:
        if name == "":
            problems.append(f"empty placeholder {{}}; name it, one of {names}")
        elif name not in allowed:
            # Also refuses {ref.__class__} and {link[0]}: only plain names are filled in.
            problems.append(
                f"unknown placeholder {{{name}}} in the {kind} message; allowed: {names}"
                + _did_you_mean(name, allowed)
            )
        elif spec or conversion:
            problems.append(
                f"placeholder {{{name}}} takes no format or conversion; write {{{name}}}"
            )
    return problems


def _text_paths(content: dict[str, Any]) -> Iterator[DocPath]:
    yield ("title",)
    yield ("description",)
    for phase_path, _ in _phases(content):
        yield phase_path + ("title",)
        yield phase_path + ("description",)
    for step_path, step in _steps(content):
        yield step_path + ("title",)
        yield step_path + ("description",)
        for index, _ in enumerate(_items(step.get("checklist"))):
            yield step_path + ("checklist", index)
    for kind in _mapping(content.get("messages")):
        yield ("messages", kind)


def _lookup(content: Any, path: DocPath) -> Any:
    for part in path:
        if isinstance(content, dict) and isinstance(part, str):
            content = content.get(part)
        elif isinstance(content, list) and isinstance(part, int) and part < len(content):
            content = content[part]
        else:
            return None
    return content


def _check_english(content: dict[str, Any], report: _Report) -> None:
    for path in _text_paths(content):
        value = _lookup(content, path)
        if isinstance(value, dict) and "sv" in value and "en" not in value:
            report.at_value(
                path,
                "no English text (en); add one so staff who do not read Swedish can follow the plan",
                severity="warning",
            )
