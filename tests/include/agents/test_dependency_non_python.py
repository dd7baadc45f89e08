"""The dependency bump on npm and NuGet files: package.json sections and ranges, .csproj items in both version
forms, central package management, names compared per ecosystem, downgrades refused, reruns changing nothing,
and the precondition agreeing with what the playbook edits. Plain directories, real files, no SCM."""

from __future__ import annotations

import difflib
import json
import logging
from pathlib import Path

import pytest
from packaging.version import Version

from include.agents.errors import AgentError
from include.agents.playbooks import dependency, playbook_for
from include.agents.playbooks import dependency_npm as npm
from include.agents.playbooks import dependency_nuget as nuget
from include.agents.playbooks.preconditions import bump_declared, declared_in
from include.contracts import ChangeKind, RiskClass, Ticket
from include.scm import FileChange

APP_PACKAGE_JSON = """{
  "name": "invoice-portal",
  "version": "0.4.1",
  "private": true,
  "scripts": {
    "build": "vite build",
    "test": "vitest run"
  },
  "dependencies": {
    "@tanstack/react-query": "~5.28.4",
    "axios": "1.6.7",
    "date-fns": ">=2.30.0 <4",
    "lodash": "^4.17.20",
    "react": "^18.2.0",
    "react-dom": "^18.2.0",
    "left-pad": "latest",
    "shared-ui": "file:../shared-ui"
  },
  "devDependencies": {
    "@types/node": "^20.11.5",
    "@types/react": "^18.2.55",
    "typescript": "~5.3.3",
    "vite": "^5.1.4"
  },
  "optionalDependencies": {
    "fsevents": "2.3.3"
  },
  "overrides": {
    "semver": "7.5.4"
  }
}
"""

LIB_PACKAGE_JSON = """{
  "name": "@acme/charts",
  "version": "2.1.0",
  "main": "dist/index.js",
  "peerDependencies": {
    "react": "^17.0.0 || ^18.0.0",
    "chart.js": "4.4.1",
    "d3-scale": "^4.0.0"
  },
  "devDependencies": {
    "react": "^18.2.0",
    "chart.js": "4.4.1"
  }
}
"""

API_CSPROJ = (
    "\ufeff<Project Sdk=\"Microsoft.NET.Sdk.Web\">\r\n"
    "\r\n"
    "  <PropertyGroup>\r\n"
    "    <TargetFramework>net8.0</TargetFramework>\r\n"
    "    <Nullable>enable</Nullable>\r\n"
    "  </PropertyGroup>\r\n"
    "\r\n"
    "  <ItemGroup>\r\n"
    "    <PackageReference Include=\"Newtonsoft.Json\" Version=\"13.0.1\" />\r\n"
    "    <PackageReference Include=\"Serilog.AspNetCore\">\r\n"
    "      <Version>8.0.0</Version>\r\n"
    "    </PackageReference>\r\n"
    "    <PackageReference Include=\"Swashbuckle.AspNetCore\" Version=\"[6.5.0]\" />\r\n"
    "    <PackageReference Include=\"Polly\" Version=\"[8.2.0, 9.0.0)\" />\r\n"
    "    <PackageReference Include=\"Dapper\" Version=\"2.1.*\" />\r\n"
    "    <PackageReference Include=\"Npgsql\" Version=\"$(NpgsqlVersion)\" />\r\n"
    "    <!-- <PackageReference Include=\"Newtonsoft.Json\" Version=\"12.0.3\" /> -->\r\n"
    "  </ItemGroup>\r\n"
    "\r\n"
    "</Project>\r\n"
)

CENTRAL_PROPS = """<Project>
  <PropertyGroup>
    <ManagePackageVersionsCentrally>true</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <ItemGroup>
    <PackageVersion Include="Microsoft.Extensions.Http" Version="8.0.0" />
    <PackageVersion Include="xunit" Version="2.6.6" />
    <PackageVersion Include="FluentAssertions" Version="6.12.0" />
  </ItemGroup>
  <ItemGroup>
    <GlobalPackageReference Include="Nerdbank.GitVersioning" Version="3.6.133" />
  </ItemGroup>
</Project>
"""

CENTRAL_CSPROJ = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.Extensions.Http" />
    <PackageReference Include="xunit" VersionOverride="2.5.3" />
    <PackageReference Include="FluentAssertions" />
  </ItemGroup>
</Project>
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content.encode("utf-8"))  # bytes: CRLF stays CRLF
    return root


def apply(root: Path, changes: list[FileChange]) -> None:
    write(root, {change.path: change.content or "" for change in changes})


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(old line, new line) pairs; a one-line-per-pin diff has as many pairs as pins changed."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    pairs = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag != "equal":
            assert tag == "replace" and i2 - i1 == j2 - j1, (old[i1:i2], new[j1:j2])
            pairs += list(zip(old[i1:i2], new[j1:j2], strict=True))
    return pairs


def ticket(title: str) -> Ticket:
    return Ticket(tenant="acme", workitem_id=42, rev=1, title=title, repo="portal",
                  change_kind=ChangeKind.DEPENDENCY_BUMP, risk_class=RiskClass.R1)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An application with its lock file, a library beside it, no Python."""
    return write(tmp_path / "portal", {"package.json": APP_PACKAGE_JSON,
                                       "package-lock.json": '{"lockfileVersion": 3}\n',
                                       "packages/charts/package.json": LIB_PACKAGE_JSON})


# --- package.json -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("package", "version", "old", "new"), [
    ("lodash", "4.17.21", '"lodash": "^4.17.20"', '"lodash": "^4.17.21"'),
    ("@tanstack/react-query", "5.29.0", '"@tanstack/react-query": "~5.28.4"', '"@tanstack/react-query": "~5.29.0"'),
    ("axios", "1.7.2", '"axios": "1.6.7"', '"axios": "1.7.2"'),
    ("date-fns", "3.6.0", '"date-fns": ">=2.30.0 <4"', '"date-fns": ">=3.6.0 <4"'),
    ("@types/node", "20.14.2", '"@types/node": "^20.11.5"', '"@types/node": "^20.14.2"'),
    ("typescript", "5.4.0-beta", '"typescript": "~5.3.3"', '"typescript": "~5.4.0-beta"'),
    ("fsevents", "2.3.3", None, None),
], ids=["caret", "tilde, scoped", "exact", "lower bound of a range", "scoped devDependency", "pre-release target",
        "optional, already there"])
def test_package_json_pin_keeps_its_operator(app: Path, package: str, version: str, old: str | None,
                                             new: str | None) -> None:
    changes = dependency.bump(app, package, version)
    if old is None:
        assert changes == [], "a pin already at the version is left alone"
        return
    assert [change.path for change in changes] == ["package.json"]
    assert [(a.strip().rstrip(","), b.strip().rstrip(",")) for a, b in
            changed_lines(APP_PACKAGE_JSON, changes[0].content or "")] == [(old, new)]
    json.loads(changes[0].content or "")
    apply(app, changes)
    assert dependency.bump(app, package, version) == [], "a rerun on its own result changes nothing"


def test_application_and_library_manifests_are_each_treated_by_their_sections(app: Path) -> None:
    changes = {c.path: c.content or "" for c in dependency.bump(app, "react", "18.3.1")}
    assert [pair[1].strip() for pair in changed_lines(APP_PACKAGE_JSON, changes["package.json"])] == [
        '"react": "^18.3.1",']
    assert [pair[1].strip() for pair in changed_lines(LIB_PACKAGE_JSON, changes["packages/charts/package.json"])] \
        == ['"react": "^18.3.1",'], "the devDependency is raised; the peer range already admits 18.3.1 and stays"
    changes = {c.path: c.content or "" for c in dependency.bump(app, "chart.js", "4.4.3")}
    assert [pair[1].strip() for pair in changed_lines(LIB_PACKAGE_JSON, changes["packages/charts/package.json"])] \
        == ['"chart.js": "4.4.3",', '"chart.js": "4.4.3"'], "an exact peer pin is raised like any exact pin"


@pytest.mark.parametrize(("package", "version", "message"), [
    ("react", "19.0.0", r"peerDependencies.react: the peer range '\^17.0.0 \|\| \^18.0.0' excludes 19.0.0"),
    ("d3-scale", "5.0.0", r"the peer range '\^4.0.0' excludes 5.0.0; a library's peer range is not narrowed"),
    ("lodash", "4.17.15", r"dependencies.lodash: '\^4.17.20' is newer than 4.17.15; a bump never downgrades"),
    ("chart.js", "4.3.0", r"'4.4.1' is newer than 4.3.0; a bump never downgrades"),
    ("date-fns", "4.1.0", r"'>=4.1.0 <4' still excludes 4.1.0; widen its upper bound by hand"),
    ("typescript", "5.3.3-rc.1", r"'~5.3.3' is newer than 5.3.3-rc.1"),
    ("lodash", "4.17.21.1", r"'4.17.21.1' is not an npm version"),
], ids=["peer range excludes", "peer caret excludes a major", "downgrade", "exact peer downgrade",
        "upper bound excludes", "pre-release is below its release", "four-part version"])
def test_package_json_refusals(app: Path, package: str, version: str, message: str) -> None:
    before = {path.name: path.read_bytes() for path in app.rglob("package.json")}
    with pytest.raises(AgentError, match=message):
        dependency.bump(app, package, version)
    assert {path.name: path.read_bytes() for path in app.rglob("package.json")} == before


def test_npm_names_are_case_sensitive_and_unpinned_specs_are_reported(app: Path) -> None:
    with pytest.raises(AgentError, match="package.json declares 'react', not 'React': npm package names are "
                                         "case-sensitive"):
        dependency.bump(app, "React", "18.3.1")
    with pytest.raises(AgentError, match=r"'left-pad' has no version pin .*'latest' is no semver range"):
        dependency.bump(app, "left-pad", "1.3.0")
    with pytest.raises(AgentError, match=r"'file:../shared-ui' is no semver range"):
        dependency.bump(app, "shared-ui", "1.0.0")


def test_compound_application_range_is_left_to_a_person(tmp_path: Path) -> None:
    write(tmp_path, {"package.json": '{"dependencies": {"react": "^17.0.2 || ^18.2.0"}}\n'})
    with pytest.raises(AgentError, match="is a compound range; the playbook raises only"):
        dependency.bump(tmp_path, "react", "18.3.1")


def test_lock_file_and_override_are_named_not_edited(app: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=dependency.__name__):
        changes = dependency.bump(app, "lodash", "4.17.21")
    assert "package-lock.json" not in {change.path for change in changes}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["bump lodash to 4.17.21: package-lock.json is not edited by hand and still records the old "
                        "version: run `npm install` in the repository root to regenerate it (a frozen install such "
                        "as `npm ci` fails while it is out of step with package.json)"]
    write(app, {"package.json": APP_PACKAGE_JSON.replace('"semver": "7.5.4"', '"lodash": "4.17.20"')})
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=dependency.__name__):
        dependency.bump(app, "lodash", "4.17.21")
    assert any("overrides.lodash = '4.17.20' still decides the installed version" in r.getMessage()
               for r in caplog.records)


def test_workspace_lock_file_is_found_above_the_manifest(app: Path) -> None:
    assert npm.lockfile_notes(["package-lock.json", "packages/charts/package.json"],
                              "packages/charts/package.json")[0].startswith("package-lock.json is not edited")
    assert npm.lockfile_notes(["packages/charts/package.json"], "packages/charts/package.json") == []


# --- semver ---------------------------------------------------------------------------------------------------
def test_semver_orders_numerically_with_pre_releases_below_releases() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0", "2.0.0"]
    versions = [npm.parse_version(text) for text in ordered]
    assert all(a is not None and b is not None and a < b for a, b in zip(versions, versions[1:], strict=False))
    assert npm.parse_version("1.0.0+build.7") == npm.parse_version("1.0.0")
    assert nuget.parse_version("13.0") == nuget.parse_version("13.0.0.0")
    assert nuget.parse_version("1.0.0-Beta") == nuget.parse_version("1.0.0-beta"), "NuGet labels are case-blind"
    assert npm.parse_target("4.17") == npm.parse_version("4.17.0") and npm.parse_target("2.x") is None


@pytest.mark.parametrize(("spec", "version", "admitted"), [
    ("^1.2.3", "1.9.9", True), ("^1.2.3", "2.0.0", False), ("^1.2.3", "1.5.0-beta.1", False),
    ("^0.2.3", "0.2.9", True), ("^0.2.3", "0.3.0", False), ("^0.0.3", "0.0.4", False),
    ("~1.2.3", "1.2.9", True), ("~1.2.3", "1.3.0", False), ("1.x", "1.9.0", True), ("*", "9.0.0", True),
    (">=1.2.3 <2.0.0", "2.0.0", False), ("1.2.3 - 2.3", "2.3.9", True), ("1.2.3 - 2.3", "2.4.0", False),
    ("^17.0.0 || ^18.0.0", "18.3.1", True), (">1.2", "1.2.9", False), ("<=1.2", "1.2.9", True),
    ("^1.2.3-beta.1", "1.2.3-beta.2", True),
])
def test_npm_ranges_admit_as_node_semver_does(spec: str, version: str, admitted: bool) -> None:
    sets, parsed = npm.parse_range(spec), npm.parse_version(version)
    assert sets is not None and parsed is not None
    assert npm.admits(sets, parsed) is admitted


# --- NuGet ------------------------------------------------------------------------------------------------------
@pytest.fixture
def dotnet(tmp_path: Path) -> Path:
    """A .NET solution: one project with its own versions and lock file, one on central package management."""
    return write(tmp_path / "api", {"src/Api/Api.csproj": API_CSPROJ, "src/Api/packages.lock.json": "{}\n",
                                    "Directory.Packages.props": CENTRAL_PROPS,
                                    "tests/Api.Tests/Api.Tests.csproj": CENTRAL_CSPROJ})


@pytest.mark.parametrize(("package", "version", "path", "old", "new"), [
    ("Newtonsoft.Json", "13.0.3", "src/Api/Api.csproj", 'Version="13.0.1"', 'Version="13.0.3"'),
    ("newtonsoft.json", "13.0.3", "src/Api/Api.csproj", 'Version="13.0.1"', 'Version="13.0.3"'),
    ("Serilog.AspNetCore", "8.0.1", "src/Api/Api.csproj", "<Version>8.0.0</Version>", "<Version>8.0.1</Version>"),
    ("Swashbuckle.AspNetCore", "6.6.2", "src/Api/Api.csproj", 'Version="[6.5.0]"', 'Version="[6.6.2]"'),
    ("Polly", "8.4.0", "src/Api/Api.csproj", 'Version="[8.2.0, 9.0.0)"', 'Version="[8.4.0, 9.0.0)"'),
    ("Microsoft.Extensions.Http", "8.0.1", "Directory.Packages.props", 'Version="8.0.0"', 'Version="8.0.1"'),
    ("Nerdbank.GitVersioning", "3.6.143", "Directory.Packages.props", 'Version="3.6.133"', 'Version="3.6.143"'),
], ids=["attribute", "id case-blind", "child element", "exact", "interval lower bound", "central PackageVersion",
        "GlobalPackageReference"])
def test_nuget_version_forms(dotnet: Path, package: str, version: str, path: str, old: str, new: str) -> None:
    before = (dotnet / path).read_bytes().decode("utf-8")
    changes = dependency.bump(dotnet, package, version)
    assert [change.path for change in changes] == [path]
    after = changes[0].content or ""
    (line_before, line_after), = changed_lines(before, after)
    assert old in line_before and line_after == line_before.replace(old, new)
    assert after.startswith("\ufeff") is before.startswith("\ufeff") and after.count("\r\n") == before.count("\r\n")
    apply(dotnet, changes)
    assert dependency.bump(dotnet, package, version) == []


def test_central_version_and_project_override_are_both_raised(dotnet: Path) -> None:
    changes = {c.path: c.content or "" for c in dependency.bump(dotnet, "xunit", "2.8.1")}
    assert changed_lines(CENTRAL_PROPS, changes["Directory.Packages.props"]) == [
        ('    <PackageVersion Include="xunit" Version="2.6.6" />\n',
         '    <PackageVersion Include="xunit" Version="2.8.1" />\n')]
    assert changed_lines(CENTRAL_CSPROJ, changes["tests/Api.Tests/Api.Tests.csproj"]) == [
        ('    <PackageReference Include="xunit" VersionOverride="2.5.3" />\n',
         '    <PackageReference Include="xunit" VersionOverride="2.8.1" />\n')]


@pytest.mark.parametrize(("package", "version", "message"), [
    ("Newtonsoft.Json", "12.0.3", "13.0.1 is newer than 12.0.3; a bump never downgrades"),
    ("Polly", "9.0.0", r"the range's upper bound excludes 9.0.0; widen it by hand"),
    ("Dapper", "2.1.35", r"has no version pin .*a floating version names no version to raise"),
    ("Npgsql", "8.0.3", r"has no version pin .*the version comes from an MSBuild property"),
    ("FluentAssertions", "6.12.0-alpha.1", "6.12.0 is newer than 6.12.0-alpha.1"),
], ids=["downgrade", "interval excludes", "floating", "property", "pre-release below its release"])
def test_nuget_refusals(dotnet: Path, package: str, version: str, message: str) -> None:
    with pytest.raises(AgentError, match=message):
        dependency.bump(dotnet, package, version)


def test_commented_out_reference_is_not_touched_and_lock_file_is_named(dotnet: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=dependency.__name__):
        content = dependency.bump(dotnet, "Newtonsoft.Json", "13.0.3")[0].content or ""
    assert '<!-- <PackageReference Include="Newtonsoft.Json" Version="12.0.3" /> -->' in content
    assert [r.getMessage() for r in caplog.records] == [
        "bump Newtonsoft.Json to 13.0.3: src/Api/packages.lock.json is not edited by hand and still records the old "
        "version: run `dotnet restore --force-evaluate` to regenerate it (a locked-mode restore fails until then)"]


# --- the ticket, end to end, and the precondition ---------------------------------------------------------------
def test_ticket_drives_the_playbook_in_every_ecosystem(app: Path, dotnet: Path) -> None:
    write(app, {"requirements.txt": "requests==2.31.0\n"})
    bump = ticket("chore(deps): bump @types/node from 20.11.5 to 20.14.2")
    assert dependency.requested(bump) == ("@types/node", "20.14.2")
    changes = playbook_for(bump)(bump, app)
    assert [change.path for change in changes] == ["package.json"]
    assert '"@types/node": "^20.14.2"' in (changes[0].content or "")
    semver_only = ticket("Upgrade typescript to 5.5.0-next.1")
    assert dependency.requested(semver_only) == ("typescript", "5.5.0-next.1")
    assert '"typescript": "~5.5.0-next.1"' in (playbook_for(semver_only)(semver_only, app)[0].content or "")
    with pytest.raises(AgentError, match="'5.5.0-next.1' is not a PEP 440 version"):
        dependency.parse_bump(semver_only)
    python = playbook_for(ticket("Bump requests to 2.32.3"))(ticket("Bump requests to 2.32.3"), app)
    assert python == [FileChange(path="requirements.txt", content="requests==2.32.3\n")]
    assert dependency.bump(app, "requests", Version("2.32.3"))[0].content == "requests==2.32.3\n"
    nuget_ticket = ticket("Upgrade Newtonsoft.Json to 13.0.3")
    assert [c.path for c in playbook_for(nuget_ticket)(nuget_ticket, dotnet)] == ["src/Api/Api.csproj"]


def test_precondition_declares_what_the_playbook_can_edit(app: Path, dotnet: Path) -> None:
    assert declared_in(app, "@types/node") == ["package.json"]
    assert declared_in(app, "React") == [], "npm names are case-sensitive"
    assert declared_in(app, "react") == ["package.json", "packages/charts/package.json"]
    assert declared_in(dotnet, "NERDBANK.GITVERSIONING") == ["Directory.Packages.props"]
    assert declared_in(dotnet, "xunit") == ["Directory.Packages.props", "tests/Api.Tests/Api.Tests.csproj"]
    result = bump_declared(ticket("Upgrade typescript to 5.5.0-next.1"), app)
    assert result.ok, result.reason
    result = bump_declared(ticket("Bump React to 18.3.1"), app)
    assert (result.ok, result.reason.startswith("the repository declares no package 'React'")) == (False, True)


def test_unreadable_files_are_named_in_the_refusal(tmp_path: Path) -> None:
    write(tmp_path, {"package.json": '{"dependencies": {"lodash": "^4.17.20",}}\n',
                     "Api.csproj": '<Project><ItemGroup><PackageReference Include="Polly" Version="8.2.0">'
                                   "</Project>\n"})
    with pytest.raises(AgentError, match=r"Api.csproj is not well-formed XML .*; not read; package.json is not "
                                         r"valid JSON .*; not read"):
        dependency.bump(tmp_path, "lodash", "4.17.21")
