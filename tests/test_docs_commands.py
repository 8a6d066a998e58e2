"""Every command in README.md and docs/*.md runs as written, from a clean checkout.

Commands are the lines of ```sh and ```bash blocks (a trailing `\\` continues a line; `#`
lines are comments) and the `$ ` lines of ```console blocks, whose following lines are the
expected standard output. Each block runs as one shell session (so `cd` carries over) in its
own copy of the checkout's tracked files, with this environment's `calcformula` and `python`
first on PATH and standard input on a terminal, as a reader would type them.

HTML comments right above a block (invisible on GitHub, visible in the source) say what a
reader should expect, and the test holds the docs to them:

- `<!-- expect: exit N -->`: every command exits N (the default is 0);
  `<!-- expect: exit 0, 0, 3 -->`: one status per command.
- `<!-- cwd: DIR -->`: the session starts in DIR of the checkout (default: its root).
- `<!-- portal: fake -->`: the commands talk to tests/hubspot_fake.py (HUBSPOT_ACCESS_TOKEN and
  HUBSPOT_API_BASE_URL are set; the portal holds HubSpot's own deal and contact properties).
- `<!-- answer: y -->`: what the reader types when a command asks.
- `<!-- not run: REASON -->`: the test skips the block and says why (installs, benchmarks,
  editors); the reason shows in `pytest -rs`.

`$EDITOR` is `true`: the editing is the reader's part. A fenced block without a language that
starts with `calcformula ` is an error: label it `sh` to run it, or `text` for a synopsis.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hubspot_fake import FakeHubSpot

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = {"sh", "bash", "shell", "console"}
MARKER = re.compile(r"^<!--\s*(expect|cwd|portal|answer|not run)\s*:\s*(.*?)\s*-->$")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)[^\n]*$")
BLOCK_SECONDS = 60


@dataclass
class Command:
    text: str
    output: list[str] | None = None  # console blocks: the standard output shown


@dataclass
class Block:
    path: Path
    line: int
    language: str
    commands: list[Command]
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def statuses(self) -> list[int]:
        expected = self.markers.get("expect", "exit 0")
        match = re.fullmatch(r"exit\s+(\d+(?:\s*,\s*\d+)*)", expected)
        assert match, f"{self.where}: `expect: {expected}` is not `exit N` or `exit N, N, ...`"
        codes = [int(code) for code in match.group(1).split(",")]
        if len(codes) == 1:
            return codes * len(self.commands)
        assert len(codes) == len(self.commands), (
            f"{self.where}: {len(codes)} exit codes for {len(self.commands)} commands"
        )
        return codes


def _commands(language: str, body: list[str]) -> list[Command]:
    commands: list[Command] = []
    if language == "console":
        for line in body:
            if line.startswith("$ "):
                commands.append(Command(line[2:], []))
            elif commands and commands[-1].output is not None:
                commands[-1].output.append(line)
        return commands
    pending = ""
    for line in body:
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        commands.append(Command(pending + line))
        pending = ""
    return commands


def blocks_in(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").split("\n")
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        close = next(
            (j for j in range(index + 1, len(lines)) if lines[j].startswith(fence.group(1))),
            len(lines),
        )
        language, body = fence.group(2).lower(), lines[index + 1 : close]
        if not language and body and body[0].startswith("calcformula "):
            UNLABELLED.append(f"{path.relative_to(ROOT)}:{index + 1}")
        if language in SHELLS:
            markers: dict[str, str] = {}
            above = index - 1
            while above >= 0 and (match := MARKER.match(lines[above].strip())):
                markers.setdefault(match.group(1), match.group(2))
                above -= 1
            yield Block(path, index + 1, language, _commands(language, body), markers)
        index = close + 1


UNLABELLED: list[str] = []
BLOCKS = [block for path in DOCS for block in blocks_in(path)]


def test_no_command_hides_in_an_unlabelled_block() -> None:
    assert not UNLABELLED, (
        f"commands in blocks without a language at {', '.join(UNLABELLED)}: label each "
        "```sh (run by this test) or ```text (a synopsis)"
    )


def test_the_docs_have_commands() -> None:
    where = {block.path.name for block in BLOCKS if "not run" not in block.markers}
    assert {"README.md", "push.md", "scale.md"} <= where
    assert all(block.commands for block in BLOCKS), [b.where for b in BLOCKS if not b.commands]


@pytest.fixture(scope="session")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files as they are now: what a clean checkout of this tree holds."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: which files a clean checkout holds is unknown")
    copy = tmp_path_factory.mktemp("checkout") / "calcformula"
    for name in listed.decode().split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


@pytest.fixture
def portal() -> Iterator[str]:
    fake = FakeHubSpot()
    for name, group in (("deals", "dealinformation"), ("contacts", "contactinformation")):
        data = json.loads((ROOT / "examples" / "schema" / f"{name}.json").read_text())
        fake.add_object(name, [group], [{**p, "hubspotDefined": True} for p in data["results"]])
    server = fake.serve()
    url = next(server)
    yield f"{fake.token}\n{url}"
    next(server, None)


def _script(block: Block, results: Path) -> str:
    """One shell session: each command's output and status go to files of their own."""
    parts = []
    for number, command in enumerate(block.commands):
        out, err, status = (results / f"{number}.{kind}" for kind in ("out", "err", "status"))
        parts.append(
            f"{{ {command.text}\n}} >{shlex.quote(str(out))} 2>{shlex.quote(str(err))}\n"
            f"echo $? >{shlex.quote(str(status))}"
        )
    return "\n".join(parts) + "\n"


def _run_session(script: str, cwd: Path, env: dict[str, str], answer: str | None) -> None:
    """Run the script with standard input on a pseudo-terminal (a reader's shell)."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-c", script],
            cwd=cwd,
            env=env,
            stdin=terminal,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(terminal)
        terminal = -1
        if answer is not None:
            os.write(controller, (answer + "\n").encode())
        deadline = time.monotonic() + BLOCK_SECONDS
        while process.poll() is None:
            if time.monotonic() > deadline:
                os.killpg(process.pid, 9)
                process.wait()
                raise AssertionError(f"still running after {BLOCK_SECONDS} s (waiting for input?)")
            time.sleep(0.05)
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)


def _environment(portal: str | None) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    env: dict[str, str] = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HUBSPOT_", "PYTEST_")) and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", EDITOR="true")
    if portal is not None:
        token, url = portal.split("\n")
        env.update(HUBSPOT_ACCESS_TOKEN=token, HUBSPOT_API_BASE_URL=url)
    return env


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.where)
def test_documented_commands_run(
    block: Block, checkout: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    unknown = set(block.markers) - {"expect", "cwd", "portal", "answer", "not run"}
    assert not unknown, f"{block.where}: unknown markers {unknown}"
    if "not run" in block.markers:
        pytest.skip(f"{block.where}: not run: {block.markers['not run']}")
    statuses = block.statuses()
    portal: str | None = None
    if "portal" in block.markers:
        assert block.markers["portal"] == "fake", f"{block.where}: `portal: fake` is the option"
        portal = request.getfixturevalue("portal")
    copy = tmp_path / "calcformula"
    shutil.copytree(checkout, copy, symlinks=True)
    cwd = copy / block.markers.get("cwd", ".")
    assert cwd.is_dir(), f"{block.where}: no folder {block.markers['cwd']} in the checkout"
    results = tmp_path / "results"
    results.mkdir()
    _run_session(
        _script(block, results),
        cwd,
        _environment(portal),
        block.markers.get("answer"),
    )
    for number, (command, expected) in enumerate(zip(block.commands, statuses, strict=True)):
        status_file = results / f"{number}.status"
        out = (results / f"{number}.out").read_text(errors="replace")
        err = (results / f"{number}.err").read_text(errors="replace")
        assert status_file.is_file(), f"{block.where}: `{command.text}` did not finish"
        status = int(status_file.read_text())
        assert status == expected, (
            f"{block.where}: `{command.text}` exited {status}, the docs expect {expected}\n"
            f"--- stdout\n{out[-2000:]}\n--- stderr\n{err[-2000:]}"
        )
        if command.output:
            shown = "\n".join(command.output).rstrip()
            assert out.rstrip() == shown, (
                f"{block.where}: `{command.text}` printed\n{out}\nbut the docs show\n{shown}"
            )
