"""DEPENDENCY_BUMP for npm: the pins in package.json, read and compared the way node-semver does.

package.json states ranges; the lock file records what is installed. In an application's sections
(dependencies, devDependencies, optionalDependencies) each pin's version text is raised and the operator the
project wrote stays (`^1.2.3` -> `^1.4.0`, `~`, `>=`, exact), so the diff is one line per pin. peerDependencies
are a library's promise, treated like pyproject.toml's ranges: an exact pin is raised, a range that admits the
version stays, a range that excludes it is refused for a person to widen. The lock file is never edited by
hand: the playbook names the command that regenerates it.

Also home of `SemVer`, the semver.org version both npm and NuGet compare numerically (pre-release lower than
its release); dependency_nuget.py reads NuGet's spelling of it."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from json.decoder import scanstring
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from include.agents.errors import AgentError
from include.contracts.agent import StaleLockFile

SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
PEER = "peerDependencies"
LOCKFILES = (("package-lock.json", "npm install"), ("npm-shrinkwrap.json", "npm install"),
             ("yarn.lock", "yarn install"), ("pnpm-lock.yaml", "pnpm install"))
"""Lock files next to (or above) a package.json, with the command that brings each in step with it."""

_IDS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_SEMVER = re.compile(rf"[v=]?\s*(?P<release>\d+\.\d+\.\d+)(?:-(?P<pre>{_IDS}))?(?:\+{_IDS})?")
_PARTIAL_TARGET = re.compile(r"\d+(?:\.\d+)?")
_XR = r"\d+|[xX*]"
_COMPARATOR = re.compile(
    rf"(?P<op>\^|~>?|[<>]=?|=)?\s*[v=]*(?P<version>(?P<major>{_XR})(?:\.(?P<minor>{_XR})"
    rf"(?:\.(?P<patch>{_XR})(?:-(?P<pre>{_IDS}))?(?:\+{_IDS})?)?)?)(?=\s|$)"
)
_HYPHEN = re.compile(r"\s*(?P<low>\S+)\s+-\s+(?P<high>\S+)\s*")
_PIN_OPERATORS = ("", "=", "^", "~", "~>", ">=")
"""Operators whose version names the version the project wants; the bump raises that version text."""


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class SemVer:
    """A version as semver.org orders it: release numbers numerically (a missing part is 0, so NuGet's
    `1.2.3.0` equals `1.2.3`), then a pre-release below its release, its identifiers compared numerically when
    numeric and below any alphanumeric one. Build metadata does not order. `text` is what a rewrite writes."""

    release: tuple[int, ...]
    prerelease: tuple[int | str, ...] = ()
    text: str = ""

    @classmethod
    def of(cls, release: str, pre: str | None, text: str, fold_case: bool = False) -> SemVer:
        identifiers = pre.split(".") if pre else []
        return cls(tuple(int(part) for part in release.split(".")),
                   tuple(int(p) if p.isdigit() else (p.lower() if fold_case else p) for p in identifiers), text)

    def _key(self) -> tuple[Any, ...]:
        release = self.release + (0,) * (4 - len(self.release))
        if not self.prerelease:
            return release, 1, ()
        return release, 0, tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text or ".".join(map(str, self.release))


def parse_version(text: str) -> SemVer | None:
    """An npm version (`1.2.3`, `1.2.3-beta.1`, `1.2.3+build`; node-semver's loose leading `v`/`=`)."""
    match = _SEMVER.fullmatch(text.strip())
    if match is None:
        return None
    return SemVer.of(match["release"], match["pre"], match.group(0).lstrip("v=").strip())


def parse_target(text: str) -> SemVer | None:
    """The version a ticket asks for, as npm writes it: `4.17` means `4.17.0` (an exact pin of `4.17` would be
    the range 4.17.x)."""
    text = text.strip().lstrip("v")
    if _PARTIAL_TARGET.fullmatch(text):
        parts = [*text.split("."), "0", "0"][:3]
        return SemVer(tuple(map(int, parts)), (), ".".join(parts))
    return parse_version(text)


# --- ranges -------------------------------------------------------------------------------------------------
def _ver(major: int, minor: int, patch: int, pre: str | None = None) -> SemVer:
    return SemVer.of(f"{major}.{minor}.{patch}", pre, "")


@dataclass(frozen=True)
class Comparator:
    """One comparator as written: its operator, its (possibly partial) version, where that version stands in
    the spec (`start`, `end`: a rewrite replaces exactly its text) and where the comparator ends."""

    op: str
    major: str
    minor: str | None
    patch: str | None
    pre: str | None
    start: int
    end: int
    token_end: int

    @property
    def complete(self) -> bool:
        return all(part is not None and part.isdigit() for part in (self.major, self.minor, self.patch))

    @property
    def version(self) -> SemVer:
        """Only for a complete comparator."""
        return SemVer.of(f"{self.major}.{self.minor}.{self.patch}", self.pre, "")

    def bounds(self) -> list[tuple[str, SemVer]]:
        """node-semver's desugaring into primitive comparators; [] admits any version."""
        parts = [self.major, self.minor, self.patch]
        wild = next((i for i, part in enumerate(parts) if part is None or not part.isdigit()), 3)
        major, minor, patch = (int(p) if i < wild and p is not None else 0 for i, p in enumerate(parts))
        low = _ver(major, minor, patch, self.pre if wild == 3 else None)
        if wild == 0:  # `*`, `x`: any version, except that nothing is above or below all of them
            return [("<", _ver(0, 0, 0, "0"))] if self.op in ("<", ">") else []
        following = (major + 1, 0, 0) if wild == 1 else (major, minor + 1, 0)
        below_next = _ver(*following, "0")  # below every version of the next minor (major), pre-releases too
        if self.op in ("", "="):
            return [("=", low)] if wild == 3 else [(">=", low), ("<", below_next)]
        if self.op == "~":
            return [(">=", low), ("<", below_next)]
        if self.op == "^":
            if wild == 1 or major > 0:
                return [(">=", low), ("<", _ver(major + 1, 0, 0, "0"))]
            if wild == 2 or minor > 0:
                return [(">=", low), ("<", _ver(0, minor + 1, 0, "0"))]
            return [(">=", low), ("<", _ver(0, 0, patch + 1, "0"))]
        if wild == 3:
            return [(self.op, low)]
        return {">": [(">=", _ver(*following))], ">=": [(">=", low)], "<": [("<", _ver(major, minor, patch, "0"))],
                "<=": [("<", below_next)]}[self.op]


@dataclass(frozen=True)
class ComparatorSet:
    """Comparators that must all hold (`>=1.2.3 <2`), or a hyphen range (`1.2.3 - 2.3`)."""

    comparators: tuple[Comparator, ...]
    hyphen: bool = False

    def bounds(self) -> list[tuple[str, SemVer]]:
        if not self.hyphen:
            return [bound for comparator in self.comparators for bound in comparator.bounds()]
        low, high = self.comparators
        lower = [bound for bound in low.bounds() if bound[0] in (">=", "=")][:1]
        if not high.complete:
            return [(">=" if op == "=" else op, v) for op, v in lower] + [b for b in high.bounds() if b[0] == "<"]
        return [(">=" if op == "=" else op, v) for op, v in lower] + [("<=", high.version)]

    def admits(self, version: SemVer) -> bool:
        """node-semver's `satisfies`: every bound holds, and a pre-release only where a comparator of the same
        release names a pre-release (so `^1.2.3` does not admit `1.5.0-beta.1`)."""
        bounds = self.bounds()
        if not all(_holds(op, version, bound) for op, bound in bounds):
            return False
        return not version.prerelease or any(
            bound.prerelease and bound.release == version.release for _, bound in bounds)


def _holds(op: str, version: SemVer, bound: SemVer) -> bool:
    return {"=": version == bound, ">": version > bound, ">=": version >= bound, "<": version < bound,
            "<=": version <= bound}[op]


def parse_range(spec: str) -> list[ComparatorSet] | None:
    """The `||`-separated sets of a semver range, or None for what is not one (a tag, URL, path, alias)."""
    sets, start = [], 0
    for piece in spec.split("||"):
        parsed = _parse_set(spec, start, start + len(piece))
        if parsed is None:
            return None
        sets.append(parsed)
        start += len(piece) + 2
    return sets


def _parse_set(spec: str, start: int, end: int) -> ComparatorSet | None:
    hyphen = _HYPHEN.fullmatch(spec, start, end)
    if hyphen:
        low = _comparator_at(spec, hyphen.start("low"), hyphen.end("low"))
        high = _comparator_at(spec, hyphen.start("high"), hyphen.end("high"))
        if low is None or high is None or low.op or high.op:
            return None
        return ComparatorSet((low, high), hyphen=True)
    comparators, position = [], start
    while True:
        while position < end and spec[position].isspace():
            position += 1
        if position >= end:
            return ComparatorSet(tuple(comparators))
        comparator = _comparator_at(spec, position, end)
        if comparator is None:
            return None
        comparators.append(comparator)
        position = comparator.token_end


def _comparator_at(spec: str, start: int, end: int) -> Comparator | None:
    match = _COMPARATOR.match(spec[:end], start)
    if match is None:
        return None
    op = {"~>": "~"}.get(match["op"] or "", match["op"] or "")
    return Comparator(op, match["major"], match["minor"], match["patch"], match["pre"],
                  match.start("version"), match.end("version"), match.end())


def admits(sets: list[ComparatorSet], version: SemVer) -> bool:
    return any(group.admits(version) for group in sets)


# --- package.json -------------------------------------------------------------------------------------------
class Bumped(NamedTuple):
    """A dependency file after the bump: its text, whether it pins the package, what a person should know."""

    text: str
    matched: bool
    notes: list[str]


def is_manifest(path: str) -> bool:
    return PurePosixPath(path).name == "package.json"


def declared_names(text: str) -> list[str]:
    """The package names package.json's dependency sections declare, exactly as written (npm is case-sensitive)."""
    data = json.loads(text.lstrip("\ufeff"))
    if not isinstance(data, dict):
        return []
    return [name for section in SECTIONS if isinstance(data.get(section), dict) for name in data[section]]


def bump_manifest(path: str, text: str, package: str, target_text: str) -> Bumped:
    """Raise `package`'s pins in one package.json; raises AgentError for a downgrade, a compound range in an
    application section, or a peer range that excludes the version."""
    offset = len(text) - len(text.lstrip("\ufeff"))
    data = json.loads(text[offset:])
    if not isinstance(data, dict):
        return Bumped(text, False, [])
    notes = _override_notes(path, data, package)
    values = [(section, start, end) for (section, name), start, end in _dependency_values(text, offset)
              if name == package]
    if not values:
        near = sorted({name for name in declared_names(text) if name.lower() == package.lower()})
        notes += [f"{path} declares {name!r}, not {package!r}: npm package names are case-sensitive" for name in near]
        return Bumped(text, False, notes)
    target = parse_target(target_text)
    if target is None:
        raise AgentError(f"{path}: {target_text!r} is not an npm version (major.minor.patch[-pre-release])")
    matched = False
    for section, start, end in reversed(values):  # from the end, so earlier offsets stay valid
        spec = json.loads(text[start:end])
        where = f"{path} {section}.{package}"
        new_spec, pinned = _bump_spec(spec, target, section == PEER, where, notes)
        matched = matched or pinned
        if new_spec != spec:
            text = text[:start] + json.dumps(new_spec, ensure_ascii=False) + text[end:]
    return Bumped(text, matched, notes)


def _bump_spec(spec: str, target: SemVer, peer: bool, where: str, notes: list[str]) -> tuple[str, bool]:
    """(the spec with its pins raised, whether it pins a version at all)."""
    sets = parse_range(spec)
    if sets is None:
        notes.append(f"{where}: {spec!r} is no semver range (a tag, URL, path or alias); nothing to raise")
        return spec, False
    single = sets[0] if len(sets) == 1 and not sets[0].hyphen else None
    if peer:
        exact = single is not None and len(single.comparators) == 1 and single.comparators[0].op in ("", "=")
        if exact and single.comparators[0].complete:
            return _raise(spec, single.comparators, target, where), True
        if admits(sets, target):
            return spec, True
        raise AgentError(f"{where}: the peer range {spec!r} excludes {target}; a library's peer range is not "
                         "narrowed or widened by a playbook: change the range by hand")
    if single is None:
        raise AgentError(f"{where}: {spec!r} is a compound range; the playbook raises only ^, ~, >= and exact "
                         "versions: change it by hand")
    pins = [c for c in single.comparators if c.op in _PIN_OPERATORS and c.complete]
    if not pins:
        notes.append(f"{where}: {spec!r} names no version to raise (a wildcard or an upper bound)")
        return spec, False
    spec = _raise(spec, pins, target, where)
    if not admits(parse_range(spec) or [], target):
        raise AgentError(f"{where}: {spec!r} still excludes {target}; widen its upper bound by hand")
    return spec, True


def _raise(spec: str, pins: tuple[Comparator, ...] | list[Comparator], target: SemVer, where: str) -> str:
    for pin in sorted(pins, key=lambda c: c.start, reverse=True):
        if pin.version > target:
            raise AgentError(f"{where}: {spec!r} is newer than {target}; a bump never downgrades")
        if pin.version < target:
            spec = spec[:pin.start] + str(target) + spec[pin.end:]
    return spec


def _override_notes(path: str, data: dict[str, Any], package: str) -> list[str]:
    """`overrides` (npm) and `resolutions` (yarn) decide the installed version over the sections; the playbook
    leaves them alone and says so."""
    return [f"{path} {field}.{package} = {data[field][package]!r} still decides the installed version; "
            "not changed by the bump"
            for field in ("overrides", "resolutions") if isinstance(data.get(field), dict) and package in data[field]]


def _dependency_values(text: str, offset: int) -> list[tuple[tuple[str, str], int, int]]:
    """((section, name), start, end) of each string value in the dependency sections, spans in `text` including
    the quotes; `text` is known to be valid JSON."""
    found: list[tuple[tuple[str, str], int, int]] = []
    _walk(text, offset, (), found)
    return [((path[0], path[1]), start, end) for path, start, end in found
            if len(path) == 2 and path[0] in SECTIONS]


_LITERAL = re.compile(r"-?[\d.eE+-]+|true|false|null")


def _skip(text: str, i: int) -> int:
    while text[i] in " \t\r\n":
        i += 1
    return i


def _walk(text: str, i: int, path: tuple[str, ...], found: list[tuple[tuple[str, ...], int, int]]) -> int:
    """Walk the JSON value at `i`, recording each string value's key path and span; returns the index after the
    value. `text` is known to be valid JSON."""
    i = _skip(text, i)
    char = text[i]
    if char == '"':
        _, end = scanstring(text, i + 1)
        found.append((path, i, end))
        return end
    if char not in "{[":
        literal = _LITERAL.match(text, i)
        return literal.end() if literal else i + 1
    closing, index = ("}" if char == "{" else "]"), 0
    i = _skip(text, i + 1)
    while text[i] != closing:
        key = str(index)
        if char == "{":
            key, i = scanstring(text, i + 1)
            i = _skip(text, i) + 1  # past the colon
        i = _skip(text, _walk(text, i, (*path, key), found))
        if text[i] == ",":
            i = _skip(text, i + 1)
        index += 1
    return i + 1


def stale_lock_files(files: list[str], manifest: str) -> list[StaleLockFile]:
    """The lock files governing `manifest` (in the nearest directory up that has any), which a change to it
    leaves out of step until they are regenerated."""
    present = set(files)
    directory = PurePosixPath(manifest).parent
    for folder in (directory, *directory.parents):
        here = [(f"{folder}/{name}" if str(folder) != "." else name, command) for name, command in LOCKFILES]
        locks = [StaleLockFile(path=lock, manifest=manifest, command=command, directory=str(folder))
                 for lock, command in here if lock in present]
        if locks:
            return locks
    return []


def lockfile_notes(files: list[str], manifest: str) -> list[str]:
    """What must regenerate the lock file governing `manifest` (the nearest directory up with one)."""
    notes = []
    for lock in stale_lock_files(files, manifest):
        where = "the repository root" if lock.directory == "." else lock.directory
        notes.append(f"{lock.path} is not edited by hand and still records the old version: run `{lock.command}` in "
                     f"{where} to regenerate it (a frozen install such as `npm ci` fails while it is out of step "
                     f"with {manifest})")
    return notes
