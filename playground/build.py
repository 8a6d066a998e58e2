"""Builds the playground into playground/dist/: `python playground/build.py`.

Everything the page needs is copied into dist/, so that it runs from any static host with no
request to another origin: Pyodide from its npm package, the calcformula wheel built from this
checkout, the pure-Python wheels in wheels.txt (downloaded with pip, hash-checked), the page
bundled with esbuild, the bundled examples, and a snapshot of Pyodide's memory with calcformula
imported and warm, taken in Node (snapshot.mjs). Needs Python 3.11+ with pip, Node and npm.

`--if-stale` rebuilds only when an input changed since the last build (the browser test and
benchmark use it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DIST = HERE / "dist"
CACHE = HERE / ".cache"
PYODIDE_FILES = (
    "pyodide.js",
    "pyodide.asm.js",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)


def inputs() -> list[Path]:
    """Every file whose change changes dist/."""
    found = [
        HERE / "build.py",
        HERE / "snapshot.mjs",
        HERE / "package.json",
        HERE / "package-lock.json",
        HERE / "wheels.txt",
        HERE / "examples.json",
        ROOT / "pyproject.toml",
        ROOT / "grammar" / "calcformula.lark",
    ]
    found += sorted((HERE / "src").rglob("*"))
    found += sorted((ROOT / "calcformula").rglob("*.py"))
    for entry in _examples()["formulas"]:
        found.append(ROOT / entry["path"])
    for path in _examples()["schemas"].values():
        found.append(ROOT / path)
    for entry in _examples()["records"].values():
        found.append(ROOT / entry["path"])
    return [p for p in found if p.is_file()]


def digest() -> str:
    hasher = hashlib.sha256()
    for path in inputs():
        hasher.update(str(path.relative_to(ROOT)).encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def is_stale() -> bool:
    stamp = DIST / "build-stamp.json"
    if not stamp.is_file():
        return True
    try:
        return bool(json.loads(stamp.read_text())["inputs"] != digest())
    except (ValueError, KeyError):
        return True


def _examples() -> dict:  # type: ignore[type-arg]
    return json.loads((HERE / "examples.json").read_text(encoding="utf-8"))


def _run(*command: str, cwd: Path = HERE) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def _npm_ci() -> None:
    modules = HERE / "node_modules"
    marker = modules / ".package-lock.json"
    lock = HERE / "package-lock.json"
    if marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    _run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")


def _bundle() -> None:
    esbuild = HERE / "node_modules" / ".bin" / "esbuild"
    _run(
        str(esbuild),
        "src/main.js",
        "--bundle",
        "--minify",
        "--format=iife",
        "--target=es2020",
        f"--outfile={DIST / 'app.js'}",
        "--log-level=warning",
    )
    for name in ("index.html", "style.css", "worker.js"):
        shutil.copy2(HERE / "src" / name, DIST / name)


def _pyodide() -> str:
    source = HERE / "node_modules" / "pyodide"
    target = DIST / "pyodide"
    target.mkdir()
    for name in PYODIDE_FILES:
        shutil.copy2(source / name, target / name)
    lock = json.loads((source / "pyodide-lock.json").read_text())
    return str(lock["info"]["python"])


def _wheels(python: str) -> list[str]:
    target = DIST / "wheels"
    target.mkdir()
    downloads = CACHE / "wheels"
    downloads.mkdir(parents=True, exist_ok=True)
    major_minor = "".join(python.split(".")[:2])
    _run(
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--platform", "any", "--implementation", "py", "--python-version", major_minor,
        "--require-hashes", "-r", str(HERE / "wheels.txt"), "-d", str(downloads),
    )  # fmt: skip
    names = []
    for line in (HERE / "wheels.txt").read_text().splitlines():
        requirement = line.split("#")[0].split()
        if not requirement:
            continue
        name, version = requirement[0].split("==")
        wheel = next(downloads.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
        shutil.copy2(wheel, target / wheel.name)
        names.append(wheel.name)
    built = CACHE / "calcformula-wheel"
    shutil.rmtree(built, ignore_errors=True)
    _run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(built), str(ROOT)
    )  # fmt: skip
    wheel = next(built.glob("calcformula-*.whl"))
    shutil.copy2(wheel, target / wheel.name)
    names.append(wheel.name)
    (target / "wheels.json").write_text(json.dumps({"wheels": names}, indent=1))
    return names


def _snapshot() -> None:
    """dist/snapshot.bin.gz: Pyodide's memory with calcformula imported and warm, taken in Node
    and checked there (snapshot.mjs); the worker restores it instead of starting Python."""
    _run("node", "snapshot.mjs", str(DIST))


def _bundled_examples() -> None:
    spec = _examples()
    out: dict[str, object] = {
        "schemas": {k: (ROOT / p).read_text(encoding="utf-8") for k, p in spec["schemas"].items()},
        "records": {
            k: "".join(
                (ROOT / e["path"]).read_text(encoding="utf-8").splitlines(keepends=True)[
                    : e["lines"]
                ]
            )
            for k, e in spec["records"].items()
        },
        "formulas": [
            {
                "name": f["name"],
                "object": f["object"],
                "type": f["type"],
                "formula": (ROOT / f["path"]).read_text(encoding="utf-8").rstrip("\n"),
            }
            for f in spec["formulas"]
        ],
    }
    (DIST / "examples.json").write_text(json.dumps(out, ensure_ascii=False))


def build() -> None:
    stamp = digest()
    _npm_ci()
    shutil.rmtree(DIST, ignore_errors=True)
    DIST.mkdir()
    _bundle()
    python = _pyodide()
    wheels = _wheels(python)
    _snapshot()
    _bundled_examples()
    (DIST / "build-stamp.json").write_text(
        json.dumps({"inputs": stamp, "python": python, "wheels": wheels}, indent=1)
    )
    print(f"built {DIST} (Pyodide's Python {python}; wheels: {', '.join(wheels)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-stale", action="store_true", help="build only if an input changed")
    options = parser.parse_args()
    if options.if_stale and not is_stale():
        print(f"{DIST} is up to date")
        return
    build()


if __name__ == "__main__":
    main()
