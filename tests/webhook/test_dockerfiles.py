"""The two Dockerfiles, linted by structure (no container engine is needed to read them).

Multi-stage with a slim base pinned by tag and digest, build tools and dependencies installed with
hashes (the tools from devtools/images/build-tools.txt, which must match uv.lock), build tools
only in the build stage, a numeric non-root USER in the final stage, an exec-form entry point
that exists in the package. `make images` builds and runs them for real.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from webhook.core.injection import SIDECAR_UID

ROOT = Path(__file__).resolve().parents[2]
BUILD_TOOLS = ("pip install", "uv ", "apt-get", "apk add", "gcc", "build-essential", "hatch")
PINNED_IMAGE = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+[\w.-]*@sha256:[0-9a-f]{64}$")
BUILD_TOOLS_FILE = ROOT / "devtools" / "images" / "build-tools.txt"


@dataclasses.dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]]

    def lines(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclasses.dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def parse(path: Path) -> Dockerfile:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args.setdefault(name, value)
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append(Stage(base, name, []))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(args, stages)


def resolve(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda match: args[match.group(1)], value)


IMAGES = [
    pytest.param("Dockerfile.webhook", id="webhook"),
    pytest.param("Dockerfile.sidecar", id="sidecar"),
]


@pytest.mark.parametrize("name", IMAGES)
def test_the_image_builds_in_stages_from_a_slim_base_pinned_by_tag_and_digest(name: str) -> None:
    dockerfile = parse(ROOT / name)
    assert len(dockerfile.stages) >= 2
    for stage in dockerfile.stages:
        base = resolve(stage.base, dockerfile.args)
        assert PINNED_IMAGE.match(base), f"{base} is not pinned"
        assert ":" in base, f"{base} has no version"
        assert "slim" in base or "distroless" in base, f"{base} is not a slim base"
    assert not any("latest" in value for value in dockerfile.args.values())


@pytest.mark.parametrize("name", IMAGES)
def test_the_final_stage_runs_as_a_numeric_non_root_user_with_no_build_tools(name: str) -> None:
    final = parse(ROOT / name).final
    (user,) = final.lines("USER")
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    for command in final.lines("RUN"):
        assert not any(tool in command for tool in BUILD_TOOLS), command
    assert any("pip uninstall" in command for command in final.lines("RUN"))
    (copied,) = final.lines("COPY")
    assert copied.startswith("--from=build ")


@pytest.mark.parametrize("name", IMAGES)
def test_tools_and_dependencies_are_installed_with_hashes_from_the_lock_file(name: str) -> None:
    dockerfile = parse(ROOT / name)
    build = " ".join(dockerfile.stages[0].lines("RUN"))
    assert "uv export --frozen --no-default-groups" in build
    assert "--requirement /tmp/build-tools.txt" in build
    assert build.count("--require-hashes") == 2, "both the tools and the dependencies"
    assert "--no-build-isolation" in build, "the wheel is built with the hash-checked hatchling"
    assert "devtools/images/build-tools.txt /tmp/build-tools.txt" in dockerfile.stages[0].lines(
        "COPY"
    )
    extras = "--extra webhook" in build
    assert extras == (name == "Dockerfile.webhook"), "only the webhook needs the extra"


def _requirements(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """``name -> (version, hashes)`` of a hash-pinned requirements file."""
    joined = re.sub(r"\\\n", " ", text)
    found = {}
    for line in joined.splitlines():
        requirement = line.split("#")[0].strip()
        if not requirement:
            continue
        pin, *options = requirement.split()
        name, _, version = pin.partition("==")
        hashes = frozenset(o.removeprefix("--hash=") for o in options if o.startswith("--hash="))
        found[name] = (version, hashes)
    return found


def test_the_build_tools_file_is_exactly_the_locked_image_build_group() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    locked = {
        package["name"]: (
            package["version"],
            frozenset(
                artifact["hash"]
                for artifact in [*package.get("wheels", []), package.get("sdist", {})]
                if "hash" in artifact
            ),
        )
        for package in lock
    }
    tools = _requirements(BUILD_TOOLS_FILE.read_text())
    assert {"uv", "hatchling"} <= set(tools)
    for name, (version, hashes) in tools.items():
        assert hashes, f"{name} has no hash"
        assert (version, hashes) == locked[name], f"{name} differs from uv.lock"


def test_the_images_install_the_uv_version_that_the_makefile_bootstraps() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (version,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert _requirements(BUILD_TOOLS_FILE.read_text())["uv"][0] == version


def test_the_sidecar_image_runs_the_console_script_as_the_injected_user() -> None:
    final = parse(ROOT / "Dockerfile.sidecar").final
    (entrypoint,) = final.lines("ENTRYPOINT")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == '["spot-failover-sidecar"]'
    assert "spot-failover-sidecar" in scripts
    (user,) = final.lines("USER")
    assert user == f"{SIDECAR_UID}:{SIDECAR_UID}"


def test_the_webhook_image_runs_the_webhook_module() -> None:
    final = parse(ROOT / "Dockerfile.webhook").final
    (entrypoint,) = final.lines("ENTRYPOINT")
    assert entrypoint == '["python", "-m", "webhook"]'
    assert (ROOT / "webhook" / "__main__.py").exists()
    assert final.lines("CMD") == ['["serve"]']


def test_the_build_context_holds_only_what_the_images_need() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"
    included = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    packages = set(_wheel_packages())
    tools = str(BUILD_TOOLS_FILE.relative_to(ROOT))
    assert included == {"pyproject.toml", "uv.lock", "README.md", tools, *packages}


def _wheel_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages: list[str] = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return packages


@pytest.mark.parametrize("name", IMAGES)
def test_the_build_stage_copies_every_package_the_wheel_is_built_from(name: str) -> None:
    copied = {args.split()[0] for args in parse(ROOT / name).stages[0].lines("COPY")}

    assert set(_wheel_packages()) <= copied


def test_the_sidecar_image_leaves_out_the_kubernetes_client() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(pyproject["dependencies"])
    assert "kubernetes" not in base, "the sidecar image holds the base dependencies only"
    assert any(d.startswith("kubernetes") for d in pyproject["optional-dependencies"]["webhook"])
