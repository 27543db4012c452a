"""The reference ("legacy") Rust outline: ``reference/rust/src/main.rs`` on the ``syn`` crate.

syn (1.x, features full/parsing/printing), proc-macro2 (span-locations) and quote come from a
directory registry, Debian's ``librust-syn-dev`` in /usr/share/cargo/registry by default: the
build is ``cargo build --offline --release`` with crates-io replaced by that directory (the same
replacement ``reference/rust/.cargo/config.toml`` declares for a build by hand), CARGO_HOME and
the target directory under the cache directory. It follows the Rust adapter's rules
(``parsefleet.workers.languages.rust``).
"""

from __future__ import annotations

from pathlib import Path

from parsefleet.contract.errors import ReferenceUnavailable
from parsefleet.parity.program import REFERENCE_SOURCES, Build, ReferenceProgram, find_tool, tool_version

__all__ = ["RustReference"]


class RustReference(ReferenceProgram):
    """syn, through the committed main.rs."""

    language = "rust"
    suffix = ".rs"
    source_dir = REFERENCE_SOURCES / "rust"

    @property
    def parser_name(self) -> str:
        return f"syn {self._syn_version()}".rstrip()

    def _syn_version(self) -> str:
        """The newest syn 1.x of the registry ('' when there is none)."""
        found = sorted(self.settings.cargo_registry_dir.glob("syn-1.*"), key=lambda path: _version_key(path.name))
        return found[-1].name.removeprefix("syn-") if found else ""

    def toolchain(self) -> tuple[str, str]:
        tool = find_tool(self.settings.cargo_command, [Path.home() / ".cargo" / "bin"])
        if tool is None:
            raise ReferenceUnavailable(
                f"{self.settings.cargo_command} not found: install cargo (apt-get install cargo, or rustup) "
                "or set PARSEFLEET_CARGO_COMMAND"
            )
        registry = self.settings.cargo_registry_dir
        if not self._syn_version():
            raise ReferenceUnavailable(
                f"no syn 1.x crate in {registry}: install librust-syn-dev (apt-get install librust-syn-dev) "
                "or set PARSEFLEET_CARGO_REGISTRY_DIR"
            )
        version = tool_version([tool, "--version"])  # "cargo 1.95.0 (f2d3ce0bd 2026-03-21)"
        return tool, " ".join(version.split(" ")[:2])

    def cache_key(self) -> str:
        return f"{self.settings.cargo_registry_dir} syn {self._syn_version()}"

    def build(self, tool: str, source: Path, build_dir: Path) -> Build:
        registry = str(self.settings.cargo_registry_dir).replace("\\", "\\\\").replace('"', '\\"')
        env = {
            "CARGO_HOME": str(self.settings.cache_dir / "cargo-home"),
            "CARGO_TARGET_DIR": str(build_dir / "target"),
            "CARGO_TERM_COLOR": "never",
        }
        argv = [tool, "build", "--offline", "--release", "--config", f'source.debian.directory="{registry}"']
        return Build(argv, env, build_dir / "target" / "release" / "outline")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in name.removeprefix("syn-").split("."))
