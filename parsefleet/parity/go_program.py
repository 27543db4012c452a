"""The reference ("legacy") Go outline: ``reference/go/outline.go`` on ``go/parser`` and ``go/ast``.

Built once with Debian's ``golang-go`` (``go build``, offline: the program needs only the standard
library; GOCACHE and GOPATH under the cache directory), then run on many files per process (see
``reference_program``). It follows the Go adapter's rules (``parsefleet.workers.languages.go``).
"""

from __future__ import annotations

from pathlib import Path

from parsefleet.contract.errors import ReferenceUnavailable
from parsefleet.parity.program import REFERENCE_SOURCES, Build, ReferenceProgram, find_tool, tool_version

__all__ = ["GoReference"]


class GoReference(ReferenceProgram):
    """go/parser, through the committed outline.go."""

    language = "go"
    suffix = ".go"
    source_dir = REFERENCE_SOURCES / "go"

    @property
    def parser_name(self) -> str:
        return "go/parser"

    def toolchain(self) -> tuple[str, str]:
        tool = find_tool(self.settings.go_command, [Path("/usr/lib/go/bin")])
        if tool is None:
            raise ReferenceUnavailable(
                f"{self.settings.go_command} not found: install golang-go (apt-get install golang-go) "
                "or set PARSEFLEET_GO_COMMAND"
            )
        version = tool_version([tool, "version"])  # "go version go1.19.8 linux/amd64"
        return tool, version.removeprefix("go version ").split(" ")[0]

    def build(self, tool: str, source: Path, build_dir: Path) -> Build:
        cache = self.settings.cache_dir
        env = {
            "GOCACHE": str(cache / "go-build"),
            "GOPATH": str(cache / "go-path"),
            "GOFLAGS": "-mod=mod",
            "GOPROXY": "off",
            "GO111MODULE": "on",
            "GOTOOLCHAIN": "local",
            "CGO_ENABLED": "0",
        }
        output = build_dir / "bin" / "outline"
        return Build([tool, "build", "-trimpath", "-o", str(output), "."], env, output)
