"""Deployment stays true: the Docker image and compose.yaml, the systemd steps, the Slack
app manifest, the package metadata and the README's set-up answers.

There is no Docker engine on most test machines, so the image is checked without one:
the files its COPY steps take build the package (offline, with setuptools' backend,
as `pip install .` does), and the container's command runs on a folder laid out as
compose.yaml mounts it.  Where `docker info` works, the image is also built and run.
The systemd steps run as written against a temporary root, with the service user
played by `nobody` (as root only: changing user needs it).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from bot.config import load_config
from bot.logs import secret_variables
from bot.metrics import Metrics, serve
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def readme_section(title: str) -> str:
    """The README text under the heading ``title``, up to the next heading of its level."""
    heading = re.search(rf"^(#+) {re.escape(title)}$", README, re.M)
    assert heading, f"README has no section {title!r}"
    rest = README[heading.end() :]
    end = re.search(rf"^#{{1,{len(heading.group(1))}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


# --- the Dockerfile, read as Docker reads it ---------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def exec_form(instruction: str) -> list[str]:
    """The JSON array of a CMD or ENTRYPOINT; fails for the shell form, in which
    `/bin/sh -c` is PID 1 and `docker stop`'s SIGTERM never reaches Python."""
    values = [args for kind, args in dockerfile() if kind == instruction]
    assert values, f"the Dockerfile has no {instruction}"
    try:
        form = json.loads(values[-1])
    except json.JSONDecodeError:
        form = None
    assert isinstance(form, list) and all(isinstance(a, str) for a in form), (
        f"{instruction} {values[-1]} is not in exec form"
    )
    return form


def copies(stop: str | None = None) -> list[tuple[list[str], str, str]]:
    """Each COPY as (sources, destination, WORKDIR then), all of them or those before the
    first RUN containing ``stop``."""
    workdir, found = "/", []
    for kind, args in dockerfile():
        if kind == "WORKDIR":
            workdir = str(Path(workdir, args))
        elif kind == "COPY":
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            found.append((words[:-1], words[-1], workdir))
        elif kind == "RUN" and stop is not None and stop in args:
            return found
    assert stop is None, f"the Dockerfile has no RUN with {stop!r}"
    return found


def copy_into(root: Path, steps: list[tuple[list[str], str, str]]) -> None:
    """Do these COPY steps from the checkout into the file system at ``root``."""
    for sources, destination, workdir in steps:
        for source in sources:
            target = container_path(root, destination, workdir)
            if destination.endswith("/") or len(sources) > 1:
                target = target / Path(source).name
            if (ROOT / source).is_dir():  # COPY takes a folder's contents
                shutil.copytree(ROOT / source, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, target)


def container_path(root: Path, path: str, workdir: str = "/") -> Path:
    return root / str(Path(workdir, path)).lstrip("/")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def service() -> dict[str, Any]:
    services = compose()["services"]
    assert list(services) == ["dozor"], "compose.yaml runs one service, dozor"
    return services["dozor"]


def mounts() -> list[tuple[str, str, bool]]:
    """compose.yaml's volumes as (source, target, read_only)."""
    found = []
    for entry in service()["volumes"]:
        source, target, *mode = entry.split(":")
        found.append((source, target, mode == ["ro"]))
    return found


def the_command() -> list[str]:
    """What the container runs: ENTRYPOINT + CMD (exec form)."""
    entry = exec_form("ENTRYPOINT") if any(k == "ENTRYPOINT" for k, _ in dockerfile()) else []
    return entry + exec_form("CMD")


def config_in_container() -> str:
    command = the_command()
    assert command[:4] == ["python", "-m", "bot", "run"], command
    assert "--config" in command, "the container's command names its config file"
    return command[command.index("--config") + 1]


@contextlib.contextmanager
def container_root() -> Iterator[tuple[Path, Path]]:
    """(host, root): a copy of what compose.yaml mounts from the checkout ("host"), and
    a container file system ("root") laid out as the image and compose.yaml make it: the
    image's COPYs into its WORKDIRs, then compose's mounts over them.  A bind-mounted
    folder is a symlink to the host's, so edits on the host show inside as they do in
    Docker; a bind-mounted file is a copy (its folder stays the container's)."""
    with tempfile.TemporaryDirectory(prefix="dozor-container-") as tmp:
        host, root = Path(tmp, "host"), Path(tmp, "root")
        copy_into(root, copies())
        for source, target, _ in mounts():
            inside = container_path(root, target)
            if not source.startswith("./"):
                inside.mkdir(parents=True, exist_ok=True)  # a named volume
                continue
            on_host = host / source.removeprefix("./")
            copy_into(host, [([source.removeprefix("./")], on_host.name, "/")])
            if inside.is_dir():
                shutil.rmtree(inside)
            elif inside.exists():
                inside.unlink()
            inside.parent.mkdir(parents=True, exist_ok=True)
            if on_host.is_dir():
                inside.symlink_to(on_host, target_is_directory=True)
            else:
                shutil.copy(on_host, inside)
        yield host, root


def test_the_image_is_built_from_a_python_that_pyproject_allows() -> None:
    bases = [args for kind, args in dockerfile() if kind == "FROM"]
    assert len(bases) == 1, bases
    match = re.fullmatch(r"python:(\d+\.\d+)(?:[.\d]*)(?:-[a-z0-9-]+)?", bases[0])
    assert match, f"FROM {bases[0]}: expected an official python image"
    assert match.group(1) in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_the_image_installs_the_package_as_pyproject_says(tmp_path: Path) -> None:
    """The files the Dockerfile copies before `pip install .` build the package with
    the backend pyproject names, without a warning; the wheel holds bot/ and watchers/
    and the `dozor` command (offline: the backend of this venv, not the index)."""
    installs = [args for kind, args in dockerfile() if kind == "RUN" and "pip install" in args]
    assert len(installs) == 1, installs
    words = shlex.split(installs[0].split("&&")[0])
    assert words[:2] == ["pip", "install"] and words[-1] == ".", installs[0]
    assert "-e" not in words and "--editable" not in words, "the image installs a wheel"
    build_dir = next(w for k, w in dockerfile() if k == "WORKDIR")

    context = tmp_path / "image"
    steps = copies("pip install")
    assert {workdir for _, _, workdir in steps} == {build_dir}
    copy_into(context, steps)
    assert PYPROJECT["build-system"]["build-backend"] == "setuptools.build_meta"
    source_dir = container_path(context, build_dir)
    out = tmp_path / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-W",
            "always",
            "-c",
            "import sys; from setuptools import build_meta as b;"
            " print('WHEEL', b.build_wheel(sys.argv[1]))",
            str(out),
        ],
        cwd=source_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert "Warning" not in build.stderr, build.stderr[-3000:]
    wheel = out / build.stdout.split("WHEEL ")[-1].strip()
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "dozor = bot.cli:main" in archive.read(entry_points).decode()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert {"bot/__main__.py", "bot/app.py", "watchers/rss.py"} <= set(names)
    assert {n.split("/")[0] for n in names if not n.startswith("dozor-")} == {"bot", "watchers"}
    assert "License-Expression: MIT" in metadata


def test_the_container_runs_python_in_exec_form_as_a_user_without_privileges() -> None:
    command = the_command()
    assert command[:4] == ["python", "-m", "bot", "run"], command
    users = [args for kind, args in dockerfile() if kind == "USER"]
    assert users, "the Dockerfile never leaves root (no USER)"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"USER {users[-1]}"
    created = [a for k, a in dockerfile() if k == "RUN" and re.search(rf"useradd\b.*\b{user}\b", a)]
    assert created, f"USER {user} is never created"
    assert "--system" in created[0] and "nologin" in created[0]
    owned = re.search(rf"install -d -o {user}\b[^&]* (/\S+)", created[0])
    assert owned and owned.group(1) == str(Path(config_in_container()).parent), (
        "the user owns the folder of the config, where the store is written"
    )


def test_compose_mounts_config_and_rules_read_only_and_the_store_on_a_volume() -> None:
    """Where the shipped config puts things, once mounted: the store on the named
    volume (not in a read-only mount), the rule files in the read-only rules mount."""
    config = config_in_container()
    with container_root() as (_host, root):
        settings = load_config(container_path(root, config))
        store = "/" + str(settings.storage.path.relative_to(root))
        patterns = settings.rules.paths
    volumes = [(s, t) for s, t, _ in mounts() if not s.startswith("./")]
    binds = {t: (s, ro) for s, t, ro in mounts() if s.startswith("./")}
    assert len(volumes) == 1, volumes
    volume, on_volume = volumes[0]
    assert volume in compose()["volumes"], f"the volume {volume} is declared"
    assert Path(store).parent == Path(on_volume), f"the store {store} is on the volume"
    assert not any(Path(store).is_relative_to(t) for t in binds), "the store is in a mount"
    assert binds[config] == ("./config.toml", True), "config.toml is mounted read-only"
    assert patterns
    for pattern in patterns:
        assert not Path(pattern).is_absolute(), pattern
        folder = str(Path(config).parent / Path(pattern).parent)
        assert binds.get(folder) == (f"./{Path(pattern).parent}", True), (
            f"rules {pattern}: {folder} is not mounted read-only from the checkout"
        )


def readme_token_variables() -> set[str]:
    return set(re.findall(r"\b((?:TELEGRAM|SLACK|VK)_[A-Z_]*(?:TOKEN|SECRET))\b", README))


def test_compose_passes_every_token_the_readme_names_from_the_shell_or_dot_env() -> None:
    names = readme_token_variables()
    secrets = set(secret_variables())
    assert all(re.search(rf"\b{n}\b", README) for n in secrets), "the README names each"
    environment = service()["environment"]
    for name in names | secrets:
        assert environment.get(name) == f"${{{name}:-}}", f"{name} is not passed through"
    assert "env_file" not in service(), "one way in: environment, filled from shell or .env"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", "*.db", ".git"} <= set(ignored), "tokens and the store stay out"
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_container_command_alerts_rereads_rules_and_stops_on_sigterm() -> None:
    """The image's command on the file system compose.yaml gives it, with the environment
    it passes when no token is set: alerts at once, the store lands on the volume, a rule
    file added on the host is in force within seconds (the README: every 5 s), and
    SIGTERM (`docker stop`) ends it with 0 well within stop_grace_period."""
    command = the_command()
    workdir = [args for kind, args in dockerfile() if kind == "WORKDIR"][-1]
    grace = float(str(service()["stop_grace_period"]).removesuffix("s"))
    env = {k: v for k, v in os.environ.items() if k not in secret_variables()}
    env.update({name: "" for name in service()["environment"]})  # ${NAME:-}, none set
    with container_root() as (host, root):
        argv = [str(container_path(root, a)) if a.startswith("/") else a for a in command]
        argv = [sys.executable if a == "python" else a for a in argv]
        out, err = root / "stdout.txt", root / "stderr.txt"
        with out.open("w") as stdout, err.open("w") as stderr:
            bot = await asyncio.create_subprocess_exec(
                *argv, cwd=container_path(root, workdir), env=env, stdout=stdout, stderr=stderr
            )
        try:
            await until(lambda: "Dozor alert" in out.read_text(), 90, "the first alert")
            assert bot.returncode is None
            volume = next(t for s, t, _ in mounts() if not s.startswith("./"))
            assert (container_path(root, volume) / "dozor.db").exists()
            assert not list(host.rglob("*.db")), "nothing is written to the mounted files"

            (host / "rules" / "added.toml").write_text(
                '[[rule]]\nname = "added-on-the-host"\nquery = "Пальмира"\n', encoding="utf-8"
            )
            took = await until(
                lambda: "rules reloaded" in err.read_text(), 60, "the added rule file read"
            )
            assert took < 30, f"a rule file added on the host took {took:.1f}s to be read"

            bot.send_signal(signal.SIGTERM)
            stopping = await until(lambda: bot.returncode is not None, grace, "the exit on SIGTERM")
        finally:
            if bot.returncode is None:
                bot.kill()
            await bot.wait()
        assert bot.returncode == 0, err.read_text()[-2000:]
        assert stopping < grace


def commented_healthcheck() -> dict[str, Any]:
    """compose.yaml's healthcheck, written commented out (it needs [metrics] listen)."""
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    block = re.search(r"^( *)# healthcheck:\n((?:\1#   .*\n)+)", text, re.M)
    assert block, "compose.yaml has no healthcheck to switch on"
    indent = block.group(1)
    lines = ["healthcheck:"] + [
        line.removeprefix(indent + "# ") for line in block.group(2).splitlines()
    ]
    return yaml.safe_load("\n".join(lines))["healthcheck"]


async def test_the_compose_healthcheck_passes_while_polling_and_fails_when_stalled() -> None:
    check = commented_healthcheck()
    assert check["test"][0] == "CMD", "exec form: the image has no curl, python checks"
    argv = [sys.executable if a == "python" else a for a in check["test"][1:]]
    assert "/healthz" in " ".join(argv)
    now = [datetime(2024, 12, 3, 7, 0, tzinfo=UTC)]
    metrics = Metrics(lambda: now[0])
    port = free_port()
    default = re.search(r"127\.0\.0\.1:(\d+)", " ".join(argv))
    assert default and default.group(0) in README, "the README names the metrics address"
    argv = [a.replace(default.group(0), f"127.0.0.1:{port}") for a in argv]
    runner = await serve(metrics, f"127.0.0.1:{port}")
    try:

        async def exit_code() -> int:
            probe = await asyncio.create_subprocess_exec(
                *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            return await probe.wait()

        assert await exit_code() == 0
        now[0] += timedelta(hours=1)  # no poll for more than 3x the longest interval
        assert await exit_code() != 0
    finally:
        await runner.cleanup()


def docker_engine() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "no docker command"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "docker info did not answer in 60 s"
    if info.returncode != 0:
        return (info.stderr.strip().splitlines() or ["docker info failed"])[-1]
    return None


@pytest.mark.timeout(1800)
def test_docker_builds_the_image_and_it_runs_the_samples() -> None:
    why = docker_engine()
    if why is not None:
        pytest.skip(
            f"no Docker engine here ({why}): the image is not built; the tests above check "
            "the Dockerfile and compose.yaml without it"
        )
    tag = "dozor-test:latest"
    build = subprocess.run(["docker", "build", "-t", tag, str(ROOT)], capture_output=True)
    assert build.returncode == 0, build.stderr[-3000:]
    try:
        uid = subprocess.run(["docker", "run", "--rm", tag, "id", "-u"], capture_output=True)
        assert uid.returncode == 0 and uid.stdout.strip() not in (b"", b"0")
        once = subprocess.run(
            ["docker", "run", "--rm", tag, *the_command(), "--once"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert once.returncode == 0, once.stderr[-3000:]
        assert "Dozor alert" in once.stdout
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


# --- systemd ---------------------------------------------------------------------------

UNIT = ROOT / "deploy" / "dozor.service"


def install_steps() -> list[str]:
    """The commands of the unit's header, in order, comments removed."""
    steps = []
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            break
        if line.startswith("#   "):
            steps.append(re.sub(r"\s+#\s.*$", "", line[4:]).strip())
    assert steps, "deploy/dozor.service has no install steps"
    return steps


def unit_settings() -> dict[str, str]:
    found = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key] = value
    return found


def test_the_service_user_owns_its_folder_before_it_installs_there() -> None:
    """The steps read as changes of ownership (runs anywhere; the test below runs them):
    every command run as the service user in its folder comes after one that made the
    user own it, and no later command run as root puts files there."""
    unit = unit_settings()
    home, user = unit["WorkingDirectory"], unit["User"]
    owner, in_home, ran_there = None, False, 0
    for step in install_steps():
        for command in re.split(r"&&|\|", step):
            words = shlex.split(command)
            if words[:2] == ["sudo", "useradd"]:
                assert words[-1] == user and home in words, "useradd: the user, its home"
            if words[0] == "cd":
                in_home = words[1].startswith(home)
                continue
            there = in_home or any(w.startswith(home) for w in words)
            if words[:3] == ["sudo", "-u", user]:
                ran_there += there
                assert not there or owner == user, f"{command.strip()!r} in a folder of {owner}"
            elif words[0] == "sudo" and there:
                gives = re.search(rf"install -d .*-o {user}\b|chown -R {user}\b", command)
                owner = user if gives else "root"
    assert ran_there, f"nothing is installed as {user}"
    assert unit["ExecStart"].split() == [
        f"{home}/.venv/bin/python",
        *("-m", "bot", "run", "--config", f"{home}/config.toml"),
    ]
    assert home in unit["ReadWritePaths"].split(), "the store beside the config is writable"
    env_file = unit["EnvironmentFile"].lstrip("-")
    assert f"install -m 600 -o {user} /dev/null {env_file}" in " ".join(install_steps())


NOBODY = 65534


def fake_root_script(root: Path, checkout: Path) -> str:
    """The header's steps as a shell script against ``root``: paths moved under it,
    `sudo -u dozor` as user nobody, `sudo` dropped (we are root), useradd (nobody
    exists), systemctl and journalctl (no systemd here) left out."""
    lines = ["set -eu", f"cd {shlex.quote(str(checkout))}"]
    as_user = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups env HOME=/nonexistent "
    for step in install_steps():
        if re.match(r"sudo useradd\b", step) or re.search(r"\b(systemctl|journalctl)\b", step):
            continue
        step = re.sub(r"sudo -u dozor( -H)? ", as_user, step)
        step = step.replace("sudo ", "")
        step = re.sub(r"(?<![\w.-])/(opt|etc)/", lambda m: f"{root}/{m.group(1)}/", step)
        step = re.sub(r"(?<![\w/.-])dozor(?![\w/.-])", str(NOBODY), step)
        lines.append(step)
    return "\n".join(lines) + "\n"


FAKE_MAKE = """#!/bin/sh
# Stand-in for `make .venv/.installed` (tests reach no package index): check the
# target exists, then write what it writes, as whoever runs it.
dir=.
while [ $# -gt 0 ]; do
  case "$1" in
    -C) dir=$2; shift 2 ;;
    .venv/.installed) shift ;;
    *) echo "fake make: unexpected argument $1" >&2; exit 2 ;;
  esac
done
cd "$dir"
/usr/bin/make -n .venv/.installed > /dev/null
mkdir -p .venv && touch .venv/.installed
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="playing the service user needs root")
def test_the_systemd_steps_leave_everything_to_the_service_user() -> None:
    with tempfile.TemporaryDirectory(prefix="systemd-steps-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # the service user must reach its folder
        checkout, root = base / "checkout", base / "root"
        checkout.mkdir()
        for name in ("Makefile", "pyproject.toml", "config.toml", "rules", "deploy"):
            source = ROOT / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, checkout / name)
        (checkout / ".venv" / "bin").mkdir(parents=True)  # the admin's own venv
        (checkout / ".venv" / "bin" / "python").write_text("stale\n")
        for folder in ("opt", "etc/systemd/system", "bin"):
            (root / folder).mkdir(parents=True, mode=0o755)
        (root / "bin" / "make").write_text(FAKE_MAKE)
        (root / "bin" / "make").chmod(0o755)
        script = fake_root_script(root, checkout)
        path = f"{root}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        run = subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            env={"PATH": path, "LANG": "C.UTF-8"},
            timeout=60,
        )
        assert run.returncode == 0, f"{script}\n{run.stderr}"

        home = root / "opt" / "dozor"
        assert (home / ".venv" / ".installed").exists()
        assert not (home / ".venv" / "bin").exists(), "the admin's .venv is not copied"
        for path_ in [home, *home.rglob("*")]:
            assert path_.lstat().st_uid == NOBODY, f"{path_} does not belong to the service"
        for name in ("config.toml", "Makefile", "rules/wagner.toml"):
            assert (home / name).is_file()
        as_service = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        probe = subprocess.run(  # the store is written beside the config, as the service
            [*as_service, "touch", str(home / "dozor.db"), str(home / "dozor.db-wal")],
            capture_output=True,
        )
        assert probe.returncode == 0, probe.stderr
        env_file = root / "etc" / "dozor.env"
        assert env_file.stat().st_uid == NOBODY
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert (root / "etc" / "systemd" / "system" / "dozor.service").read_bytes() == (
            UNIT.read_bytes()
        )


# --- the Slack app manifest --------------------------------------------------------------

# The bot scopes each Web API method the code calls needs (https://api.slack.com/methods),
# and chat:write.public, which chat.postMessage uses to post into a public channel the
# bot was not invited to.  A method missing here fails the test: add it with its scopes.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write", "chat:write.public"),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.delete": ("chat:write",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "users.info": ("users:read",),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.list": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.open": ("im:write",),
    "conversations.history": ("channels:history", "groups:history", "im:history"),
    "reactions.add": ("reactions:write",),
}
EVENT_SCOPES = {"app_mention": "app_mentions:read", "message.im": "im:history"}


def slack_modules() -> list[Path]:
    """Modules that import the Slack libraries (by the import contracts: the adapter)."""
    found = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"^(from|import) slack_(sdk|bolt)\b", text, re.M):
            found.append(path)
    assert found
    return found


def api_methods(python_name: str) -> set[str]:
    """The Web API methods an AsyncWebClient method calls, read from slack_sdk itself
    (files_upload_v2 is three calls: get an upload URL, upload, complete)."""
    from slack_sdk.web.async_client import AsyncWebClient

    source = inspect.getsource(getattr(AsyncWebClient, python_name))
    called = set(re.findall(r"api_call\(\s*\"([a-zA-Z.]+)\"", source))
    inner_calls = set(re.findall(r"self\.([a-z]+_[A-Za-z0-9_]+)\(", source))
    for inner in inner_calls - {python_name, "api_call"}:
        if hasattr(AsyncWebClient, inner) and not inner.startswith("_"):
            called |= api_methods(inner)
    assert called, f"AsyncWebClient.{python_name} calls no Web API method"
    return called


def slack_calls() -> tuple[set[str], set[str], bool]:
    """(Web API methods, events subscribed, whether a slash command is registered)."""
    from slack_sdk.web.async_client import AsyncWebClient

    methods: set[str] = set()
    events: set[str] = set()
    command = False
    for path in slack_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name, owner = node.func.attr, ast.unparse(node.func.value)
            if owner.endswith("client") and hasattr(AsyncWebClient, name):
                methods |= api_methods(name)
            if owner.endswith("app") and name == "event" and node.args:
                events.add(ast.literal_eval(node.args[0]))
            if owner.endswith("app") and name == "command":
                command = True
    return methods, events, command


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text(encoding="utf-8"))


def test_every_slack_scope_is_used_and_every_call_has_its_scope() -> None:
    methods, events, command = slack_calls()
    assert {"chat.postMessage", "users.info", "files.completeUploadExternal"} <= methods
    unknown = methods - set(METHOD_SCOPES)
    assert not unknown, f"add these methods and their scopes to METHOD_SCOPES: {unknown}"
    needed = {scope for method in methods for scope in METHOD_SCOPES[method]}
    needed |= {EVENT_SCOPES[event] for event in events}
    needed |= {"commands"} if command else set()
    granted = manifest()["oauth_config"]["scopes"]["bot"]
    assert len(granted) == len(set(granted))
    assert not needed - set(granted), f"the manifest lacks {needed - set(granted)}"
    assert not set(granted) - needed, f"the code never uses {set(granted) - needed}"
    assert set(manifest()["settings"]["event_subscriptions"]["bot_events"]) == events
    step = readme_section("Slack").split("2. ")[0]  # the README's list of them
    assert set(re.findall(r"`([a-z_]+:[a-z_.]+|commands)`", step)) == set(granted)


def test_the_slack_app_can_be_messaged_directly() -> None:
    home = manifest()["features"]["app_home"]
    assert home["messages_tab_enabled"] is True, "without it Slack refuses DMs to the bot"
    assert home["messages_tab_read_only_enabled"] is False


# --- package metadata, ignore files, the README's set-up answers -------------------------


def test_the_license_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    (requirement,) = PYPROJECT["build-system"]["requires"]
    assert requirement.replace(" ", "") == "setuptools>=77"  # the first to read it


def test_files_the_bot_writes_are_ignored_by_git() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert {"dozor-stats.png", "*.db", ".env", "bench-results.json"} <= set(ignored)


def make_dry_run(*args: str) -> str:
    """What `make -n ARGS` would run in the checkout (also when the suite runs under make)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    return dry.stdout


def test_make_run_takes_another_config() -> None:
    assert "elsewhere/my.toml" in make_dry_run("run", "CONFIG=elsewhere/my.toml")
    assert "make run CONFIG=" in README


def test_the_readme_names_what_make_clean_removes() -> None:
    removed = [
        word
        for line in make_dry_run("clean").splitlines()
        if line.startswith("rm ")
        for word in shlex.split(line)[1:]
        if not word.startswith("-")
    ]
    assert ".venv" in removed
    text = readme_section("Deployment")
    assert "make clean" in text
    for path in removed:
        assert f"`{path}`" in text or path in (".pytest_cache", "bench-results.json"), path


def test_the_readme_answers_the_first_hour_of_set_up() -> None:
    telegram = readme_section("Telegram")
    assert "message.from.id" in telegram, "how to find your own Telegram user id for admins"
    assert re.search(r"/setprivacy.{0,300}(remove|add it again|re-add)", telegram, re.S)
    deployment = readme_section("Deployment")
    assert "every 5 s" in deployment and "rules/" in deployment  # app.py: reload_rules
    assert "docker compose up -d" in deployment
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()[:3]:
        assert line.startswith("#")
    assert "docker compose down" in deployment and "userdel dozor" in deployment
