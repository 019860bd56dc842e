"""Finding 5 (issue 14): playbook YAML with limits on size, alias expansion and nesting depth.

Each malformed file gets one `file:line` error from `crisis playbooks validate`, and neither a traceback
nor a long wait. The command runs in a child process with a memory cap and a generous time bound, so a
regression fails the test instead of exhausting the machine."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from crisis.playbooks.loader import MAX_BYTES, MAX_DEPTH

MEMORY_CAP = 1024 * 1024 * 1024  # 1 GiB: the billion laughs needed 3.3 GB


def billion_laughs() -> str:
    text = 'id: laughs\nlol0: &lol0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, 10):
        text += f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * 9) + "]\n"
    return text + "phases: *lol9\n"


def nested_flow(levels: int = 5000) -> str:
    return "id: deep\nversion: 1\nphases: " + "[" * levels + "]" * levels + "\n"


def nested_block(levels: int = 200) -> str:
    return "id: deep\nversion: 1\nphases:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(levels)) \
        + "  " * (levels + 1) + "end\n"


def oversized() -> str:
    filler = "# " + "x" * 100 + "\n"
    return "id: big\nversion: 1\n" + filler * (MAX_BYTES // len(filler) + 10)


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def validate(path: Path) -> subprocess.CompletedProcess:
    code = ("import sys\nfrom crisis.playbooks.commands import playbooks_cli\n"
            "playbooks_cli.main(['validate', sys.argv[1]], standalone_mode=True)\n")
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=30,
                          preexec_fn=_cap_memory)


@pytest.mark.parametrize(("name", "make", "line", "words"), [
    ("laughs.yaml", billion_laughs, 6, "expands to more than"),  # the alias crossing the limit
    ("deep-flow.yaml", nested_flow, 3, f"nested more than {MAX_DEPTH} levels"),
    ("deep-block.yaml", nested_block, None, f"nested more than {MAX_DEPTH} levels"),
    ("huge.yaml", oversized, 1, "at most"),
])
def test_a_hostile_playbook_gets_one_file_and_line_error(tmp_path, name, make, line, words):
    path = tmp_path / name
    path.write_text(make(), encoding="utf-8")
    result = validate(path)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output and "RecursionError" not in output, output[-2000:]
    errors = [row for row in output.splitlines() if row.startswith(str(path))]
    assert len(errors) == 1 and words in errors[0], output[-2000:]
    if line is not None:
        assert errors[0].startswith(f"{path}:{line}:"), errors


def test_the_shipped_playbooks_are_well_within_the_limits():
    from crisis.playbooks.loader import load_playbook

    for path in sorted(Path("playbooks").glob("*.yaml")):
        load_playbook(path)  # raises on any error
