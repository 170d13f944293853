"""Archive segments: closed history kept out of Redis, in files that standard tools read.

A segment is one partition's archived records, sorted by position, one stored record (exactly
the bytes the log held) per line, compressed with zstd in frames of up to ``FRAME_EVENTS``
lines: ``<name>.jsonl.zst``, which ``zstd -d``, DuckDB's ``read_json`` and pandas read as they
are. Beside it, ``<name>.manifest.json`` says what it holds: the positions it covers, its event
count, the SHA-256 of the file and of each frame, and where each frame starts, so that one
archived incident is read by decompressing only the frames that hold it.

A segment is written to a temporary name, fsynced, read back and checked, then renamed, and its
manifest last: a segment exists once its manifest does. Reads check each frame's SHA-256 and
fail naming the file rather than return records that are not the ones written.

``SegmentStore`` is what the archiver and the readers need of a place to keep segments;
``DirectorySegments`` keeps them in a directory. An object store (an S3-compatible bucket)
would implement the same few methods: put the segment, then the manifest, as two objects;
read a frame with a ranged GET.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import msgspec
import zstandard

FORMAT = "coordination-archive/1"
FRAME_EVENTS = 1000
LEVEL = 9  # above zstd's default of 3: a segment is written once and kept for years


class ArchiveError(Exception):
    """The archive cannot be written or read as it should: the message names the place."""


class CorruptSegment(ArchiveError):
    """A segment's bytes are not the ones its manifest describes."""


class Frame(msgspec.Struct, frozen=True):
    offset: int
    length: int
    first: int
    last: int
    events: int
    sha256: str


class Manifest(msgspec.Struct, frozen=True):
    format: str
    partition: str
    name: str
    file: str
    bytes: int
    sha256: str
    events: int
    first: int
    last: int
    frames: tuple[Frame, ...]


class SegmentStore(Protocol):
    def check(self, partition: str) -> None:
        """Raise ``ArchiveError`` unless segments of ``partition`` can be written now."""

    def write(
        self,
        partition: str,
        name: str,
        records: Sequence[bytes],
        on_step: Callable[[str], None] | None = None,
    ) -> Manifest:
        """Keep ``records`` (sorted by position) as segment ``name``, durably and checked."""

    def manifest(self, partition: str, name: str) -> Manifest | None:
        """Segment ``name``'s manifest, or None if it was never completely written."""

    def manifests(self, partition: str) -> list[Manifest]:
        """The partition's complete segments, oldest first."""

    def frame(self, manifest: Manifest, index: int) -> list[bytes]:
        """The records of one frame, checked against the manifest."""

    def verify(self, manifest: Manifest) -> None:
        """Check the whole segment against its manifest."""


def position_of(record: bytes) -> int:
    """The position a stored record starts with (``{"position":N,...``)."""
    return _POSITIONS.decode(record).position


def positions_of(records: Sequence[bytes]) -> list[int]:
    return [position_of(r) for r in records]


class _Positioned(msgspec.Struct):
    position: int


_POSITIONS = msgspec.json.Decoder(_Positioned)
_MANIFESTS = msgspec.json.Decoder(Manifest)


class DirectorySegments:
    """Segments as files under ``root/<partition>/``. ``root`` must exist: a directory that
    is not there (an unmounted volume) is an error, not something to create."""

    def __init__(self, root: Path, cached_frames: int = 64) -> None:
        self.root = Path(root)
        self._cache: OrderedDict[tuple[str, str, int], list[bytes]] = OrderedDict()
        self._manifests: dict[tuple[str, str], Manifest] = {}  # a manifest never changes
        self._cached_frames = cached_frames
        self._lock = threading.Lock()

    def check(self, partition: str) -> None:
        if not self.root.is_dir():
            raise ArchiveError(
                f"the archive directory {self.root} does not exist (COORDINATION_ARCHIVE_DIR)"
            )
        folder = self.root / partition
        try:
            folder.mkdir(exist_ok=True)
            probe = folder / ".probe"
            with open(probe, "wb") as f:
                f.write(b"ok")
                f.flush()
                os.fsync(f.fileno())
            probe.unlink()
        except OSError as exc:
            raise ArchiveError(
                f"cannot write to the archive directory {folder}: {_why(exc)}"
            ) from exc

    def write(
        self,
        partition: str,
        name: str,
        records: Sequence[bytes],
        on_step: Callable[[str], None] | None = None,
    ) -> Manifest:
        if not records:
            raise ValueError("an empty segment")
        positions = positions_of(records)
        if positions != sorted(set(positions)):
            raise ValueError("a segment's records go in increasing positions")
        folder = self.root / partition
        final, manifest_path = self._paths(partition, name)
        temp = final.with_name(final.name + ".tmp")
        compressor = zstandard.ZstdCompressor(level=LEVEL, write_checksum=True)
        frames: list[Frame] = []
        whole = hashlib.sha256()
        offset = 0
        try:
            with open(temp, "wb") as f:
                for start in range(0, len(records), FRAME_EVENTS):
                    chunk = records[start : start + FRAME_EVENTS]
                    data = compressor.compress(b"".join(r + b"\n" for r in chunk))
                    f.write(data)
                    whole.update(data)
                    frames.append(
                        Frame(
                            offset,
                            len(data),
                            positions[start],
                            positions[start + len(chunk) - 1],
                            len(chunk),
                            hashlib.sha256(data).hexdigest(),
                        )
                    )
                    offset += len(data)
                f.flush()
                os.fsync(f.fileno())
            if on_step is not None:
                on_step("temporary")  # written, not yet read back
            manifest = Manifest(
                FORMAT, partition, name, final.name, offset, whole.hexdigest(), len(records),
                positions[0], positions[-1], tuple(frames),
            )  # fmt: skip
            self._verify_file(temp, manifest, records)  # read back from the disk
            os.replace(temp, final)
            _write_durably(manifest_path, msgspec.json.format(msgspec.json.encode(manifest)))
            _fsync_dir(folder)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise ArchiveError(f"cannot write the archive segment {final}: {_why(exc)}") from exc
        return manifest

    def manifest(self, partition: str, name: str) -> Manifest | None:
        if (known := self._manifests.get((partition, name))) is not None:
            return known
        path = self._paths(partition, name)[1]
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ArchiveError(f"cannot read the archive manifest {path}: {_why(exc)}") from exc
        try:
            found = _MANIFESTS.decode(raw)
        except msgspec.DecodeError as exc:
            raise CorruptSegment(f"the archive manifest {path} is unreadable: {exc}") from exc
        if found.format != FORMAT or found.partition != partition or found.name != name:
            raise CorruptSegment(f"the archive manifest {path} is not segment {name}'s")
        self._manifests[(partition, name)] = found
        return found

    def manifests(self, partition: str) -> list[Manifest]:
        folder = self.root / partition
        if not folder.is_dir():
            return []
        found = folder.glob("*.manifest.json")
        names = sorted(p.name.removesuffix(".manifest.json") for p in found)
        return [m for name in names if (m := self.manifest(partition, name)) is not None]

    def frame(self, manifest: Manifest, index: int) -> list[bytes]:
        key = (manifest.partition, manifest.name, index)
        with self._lock:
            if (found := self._cache.get(key)) is not None:
                self._cache.move_to_end(key)
                return found
        path = self.root / manifest.partition / manifest.file
        entry = manifest.frames[index]
        try:
            with open(path, "rb") as f:
                f.seek(entry.offset)
                data = f.read(entry.length)
        except OSError as exc:
            raise ArchiveError(f"cannot read the archive segment {path}: {_why(exc)}") from exc
        records = _records(data, entry, path, index)
        with self._lock:
            self._cache[key] = records
            while len(self._cache) > self._cached_frames:
                self._cache.popitem(last=False)
        return records

    def verify(self, manifest: Manifest) -> None:
        self._verify_file(self.root / manifest.partition / manifest.file, manifest, None)

    def paths(self, partition: str, name: str) -> tuple[Path, Path]:
        """Where segment ``name`` and its manifest are kept."""
        return self._paths(partition, name)

    def _paths(self, partition: str, name: str) -> tuple[Path, Path]:
        folder = self.root / partition
        return folder / f"{name}.jsonl.zst", folder / f"{name}.manifest.json"

    def _verify_file(
        self, path: Path, manifest: Manifest, expected: Sequence[bytes] | None
    ) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArchiveError(f"cannot read the archive segment {path}: {_why(exc)}") from exc
        if len(data) != manifest.bytes or hashlib.sha256(data).hexdigest() != manifest.sha256:
            raise CorruptSegment(f"the archive segment {path} does not match its SHA-256")
        count = 0
        for i, entry in enumerate(manifest.frames):
            records = _records(data[entry.offset : entry.offset + entry.length], entry, path, i)
            if expected is not None and records != list(expected[count : count + len(records)]):
                raise CorruptSegment(f"the archive segment {path} read back differently")
            count += len(records)
        if count != manifest.events:
            raise CorruptSegment(
                f"the archive segment {path} holds {count} events, not {manifest.events}"
            )


def parse_location(location: str) -> tuple[str, list[int], int]:
    """An archived stream's location as Redis keeps it: ``<segment>|<frames>|<events>``."""
    name, frames, events = location.split("|")
    return name, [int(i) for i in frames.split(",")], int(events)


def location(name: str, frames: Sequence[int], events: int) -> str:
    return f"{name}|{','.join(map(str, frames))}|{events}"


def _records(data: bytes, entry: Frame, path: Path, index: int) -> list[bytes]:
    """A frame's records, if its bytes are the ones written (else ``CorruptSegment``)."""
    if len(data) != entry.length or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise CorruptSegment(f"the archive segment {path} is corrupt (frame {index}: SHA-256)")
    try:
        text = zstandard.ZstdDecompressor().decompress(data)
    except zstandard.ZstdError as exc:
        raise CorruptSegment(
            f"the archive segment {path} is corrupt (frame {index}): {exc}"
        ) from exc
    records = text.split(b"\n")[:-1]
    positions = positions_of(records) if records else []
    ends = positions[:1] + positions[-1:]
    if len(records) != entry.events or ends != [entry.first, entry.last]:
        raise CorruptSegment(f"the archive segment {path} is corrupt (frame {index}: contents)")
    return records


def _write_durably(path: Path, data: bytes) -> None:
    temp = path.with_name(path.name + ".tmp")
    try:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full (No space left on device)"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"it is read-only ({exc.strerror})"
    return exc.strerror or str(exc)


def iter_frames(
    store: SegmentStore, manifest: Manifest, after: int, upto: int
) -> Iterator[list[bytes]]:
    """The frames of a segment that hold positions in (``after``, ``upto``], in order."""
    for i, entry in enumerate(manifest.frames):
        if entry.first > upto:
            return
        if entry.last > after:
            yield store.frame(manifest, i)
