"""DEPENDENCY_BUMP for NuGet: `PackageReference`, `PackageVersion` (central package management in
Directory.Packages.props) and `GlobalPackageReference` items, with the version as an attribute
(`Version="1.2.3"`, `VersionOverride`) or a child element (`<Version>1.2.3</Version>`).

NuGet resolves the lowest version a reference allows, so the version written is the one installed: a plain
version and an exact `[1.2.3]` are raised, an interval has its inclusive lower bound raised while its upper bound
still admits the new version. Floating versions (`1.*`) and MSBuild properties (`$(LibVersion)`) name no version
here and are reported, not guessed at. Package ids compare case-blind, as NuGet does. The file is edited as text,
so only the version's characters change; comments are skipped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import PurePosixPath

from include.agents.errors import AgentError
from include.agents.playbooks.dependency_npm import Bumped, SemVer
from include.contracts.agent import StaleLockFile

PROJECT_SUFFIXES = (".csproj", ".fsproj", ".vbproj")
PROPS_FILES = ("Directory.Packages.props", "Directory.Build.props")
ITEMS = ("PackageReference", "PackageVersion", "GlobalPackageReference")
LOCKFILE = "packages.lock.json"

_IDS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION = re.compile(rf"(?P<release>\d+(?:\.\d+){{0,3}})(?:-(?P<pre>{_IDS}))?(?:\+{_IDS})?")
_INTERVAL = re.compile(r"(?P<open>[\[(])\s*(?P<low>[^,\[\]()]*?)\s*(?P<comma>,\s*(?P<high>[^,\[\]()]*?)\s*)?"
                       r"(?P<close>[\])])")
_ATTRIBUTES = r"(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*"
_ITEM = re.compile(rf"<(?P<tag>{'|'.join(ITEMS)})(?P<attributes>{_ATTRIBUTES})\s*(?P<empty>/?)>", re.I)
_ATTRIBUTE = re.compile(r"(?P<name>[\w:.-]+)\s*=\s*(?:\"(?P<double>[^\"]*)\"|'(?P<single>[^']*)')")
_CHILD = re.compile(r"<(?P<tag>Version|VersionOverride)\s*>(?P<value>[^<]*)</(?P=tag)\s*>", re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_NAME_ATTRIBUTES = ("include", "update")
_VERSION_ATTRIBUTES = ("version", "versionoverride")


def parse_version(text: str) -> SemVer | None:
    """A NuGet version: one to four release numbers (`13.0`, `1.2.3.4`), SemVer 2.0 pre-release and metadata;
    pre-release labels compare case-blind, as NuGet compares them."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    return SemVer.of(match["release"], match["pre"], match.group(0), fold_case=True)


def is_project_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(PROJECT_SUFFIXES) or name in PROPS_FILES


def declared_names(text: str) -> list[str]:
    """The package ids the items of a project or props file name (by `Include`, or `Update` in props files)."""
    root = ElementTree.fromstring(text.lstrip("\ufeff"))
    names = []
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] in ITEMS:
            name = element.get("Include") or element.get("Update")
            if name:
                names.append(name.strip())
    return names


def bump_project(path: str, text: str, package: str, target_text: str) -> Bumped:
    """Raise `package`'s versions in one project or props file; raises AgentError for a downgrade or a range
    that the playbook cannot raise."""
    try:
        declared_names(text)  # only well-formed XML is edited
    except ElementTree.ParseError as error:
        return Bumped(text, False, [f"{path} is not well-formed XML ({error}); not read"])
    masked = _COMMENT.sub(lambda comment: re.sub(r"[^\n]", " ", comment.group(0)), text)
    spans = [span for item in _ITEM.finditer(masked) if _names(item, package)
             for span in _version_spans(masked, item)]
    if not spans:
        return Bumped(text, False, [])
    target = parse_version(target_text)
    if target is None:
        raise AgentError(f"{path}: {target_text!r} is not a NuGet version")
    matched, notes = False, []
    for start, end in sorted(spans, reverse=True):  # from the end, so earlier offsets stay valid
        value = text[start:end]
        new_value, pinned = _bump_value(value, target, f"{path} {package} {value!r}", notes)
        matched = matched or pinned
        text = text[:start] + new_value + text[end:]
    return Bumped(text, matched, notes)


def _names(item: re.Match[str], package: str) -> bool:
    for attribute in _ATTRIBUTE.finditer(item["attributes"]):
        if attribute["name"].lower() in _NAME_ATTRIBUTES:
            value = attribute["double"] if attribute["double"] is not None else attribute["single"]
            if value.strip().casefold() == package.casefold():
                return True
    return False


def _version_spans(masked: str, item: re.Match[str]) -> list[tuple[int, int]]:
    """Where the item's version values stand in the file: its version attributes, and for an item with a body,
    its `<Version>` / `<VersionOverride>` children."""
    spans = []
    offset = item.start("attributes")
    for attribute in _ATTRIBUTE.finditer(item["attributes"]):
        if attribute["name"].lower() in _VERSION_ATTRIBUTES:
            group = "double" if attribute["double"] is not None else "single"
            spans.append((offset + attribute.start(group), offset + attribute.end(group)))
    if not item["empty"]:
        closing = re.compile(rf"</{item['tag']}\s*>", re.I).search(masked, item.end())
        body_end = closing.start() if closing else len(masked)
        spans += [(child.start("value"), child.end("value"))
                  for child in _CHILD.finditer(masked, item.end(), body_end)]
    return spans


def _bump_value(value: str, target: SemVer, where: str, notes: list[str]) -> tuple[str, bool]:
    """(the value with its version raised, whether it names a version at all)."""
    stripped = value.strip()
    lead = value[:len(value) - len(value.lstrip())]
    trail = value[len(value.rstrip()):]
    if "$(" in stripped:
        notes.append(f"{where}: the version comes from an MSBuild property; change it where it is defined")
        return value, False
    if "*" in stripped:
        notes.append(f"{where}: a floating version names no version to raise")
        return value, False
    interval = _INTERVAL.fullmatch(stripped)
    if interval is None:
        current = parse_version(stripped)
        if current is None:
            notes.append(f"{where}: not a NuGet version")
            return value, False
        return lead + _raised(stripped, current, target, where) + trail, True
    low, high = interval["low"], interval["high"]
    if not interval["comma"]:  # `[1.2.3]`: exact
        current = parse_version(low)
        if interval["open"] != "[" or interval["close"] != "]" or current is None:
            raise AgentError(f"{where}: not a NuGet version range; change it by hand")
    else:
        current = parse_version(low) if low else None
        if interval["open"] != "[" or current is None:
            raise AgentError(f"{where}: the range has no inclusive lower bound to raise; change it by hand")
        upper = parse_version(high) if high else None
        if high and upper is None:
            raise AgentError(f"{where}: not a NuGet version range; change it by hand")
        if upper is not None and (target > upper or (target == upper and interval["close"] == ")")):
            raise AgentError(f"{where}: the range's upper bound excludes {target}; widen it by hand")
    new_low = _raised(low, current, target, where)
    return lead + stripped[:interval.start("low")] + new_low + stripped[interval.end("low"):] + trail, True


def _raised(text: str, current: SemVer, target: SemVer, where: str) -> str:
    if current > target:
        raise AgentError(f"{where}: {text} is newer than {target}; a bump never downgrades")
    return str(target) if current < target else text


def stale_lock_files(files: list[str], changed: str) -> list[StaleLockFile]:
    """The `packages.lock.json` files the changed project (its own folder) or props file (its folder and below)
    governs, which the change leaves out of step until a restore regenerates them."""
    folder = PurePosixPath(changed).parent
    if PurePosixPath(changed).name in PROPS_FILES:
        locks = [f for f in files if PurePosixPath(f).name == LOCKFILE
                 and (str(folder) == "." or PurePosixPath(f).is_relative_to(folder))]
    else:
        locks = [f for f in files if PurePosixPath(f).name == LOCKFILE and PurePosixPath(f).parent == folder]
    return [StaleLockFile(path=lock, manifest=changed, command="dotnet restore --force-evaluate",
                          directory=str(PurePosixPath(lock).parent)) for lock in locks]


def lockfile_notes(files: list[str], changed: str) -> list[str]:
    """What must regenerate the `packages.lock.json` files the changed project or props file governs."""
    return [f"{lock.path} is not edited by hand and still records the old version: run `{lock.command}` to "
            f"regenerate it (a locked-mode restore fails until then)" for lock in stale_lock_files(files, changed)]
