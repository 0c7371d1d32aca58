"""On-disk cache of front-end features: the front-end runs once per clip and spec.

Layout: ``ROOT/<spec hash>-<storage dtype>-v<FORMAT_VERSION>/<h[:2]>/<h>.npz`` where ``h`` is the SHA-256
of the audio file's bytes, so a renamed or copied file hits and an edited one misses; the directory also
holds ``spec.json`` (the spec it was computed with). Each entry is an uncompressed ``.npz`` with ``mel``
``(n_frames, n_mels)`` and ``coch`` ``(n_frames, n_channels)``, and ``musicnn`` ``(n_frames, size)`` when the
spec has the musicnn view.

Safe to interrupt and resume: an entry is written to a temporary file in its own folder, flushed to disk
and renamed over its final name (atomic on POSIX), so a final name always holds a whole entry; temporary
files (``.*.partial``) left by a killed process are never read. An entry that still fails to load (damaged
by something else) is logged, deleted and recomputed. Bump :data:`FORMAT_VERSION` when the front-end's
output changes without a change of FeatureSpec.

Storage dtype: ``float32`` (default) stores the front-end's output exactly. ``float16`` halves the size
(30 s at 22050 Hz / hop 256 with 128 + 84 bins: 2.2 MB -> 1.1 MB) at a rounding error of at most
``|x| * 2**-11`` on each log-power value ``x``: below 0.0039 for |x| < 8 and 0.0078 for |x| < 16, at most
0.012 at the cochleagram floor ``log(1e-10) = -23``, i.e. under 1.2 % in power. Loaded features are always
float32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch

from damer_core.atomic import write_atomically
from damer_core.errors import AudioError, ConfigError
from damer_core.features.frontend import frontend_offline
from damer_core.spec import FeatureSpec
from damer_core.threads import torch_threads
from train.audio import load_audio
from train.datasets.clip import ClipFeatures

FORMAT_VERSION = 1
STORAGE_DTYPES = ("float32", "float16")
_HASH_CHUNK = 1 << 20
_log = logging.getLogger(__name__)


def extract_features(path: str | Path, spec: FeatureSpec) -> ClipFeatures:
    """Decode ``path`` at ``spec.sample_rate`` and run the offline front-end (the streaming front-end fed
    the whole file at once) over it, with the musicnn view when the spec has one. One torch thread, as in
    the live engine: the musicnn view's last bits depend on the thread count, and every process filling a
    cache must give the same entries.

    Raises:
        AudioError: the file cannot be decoded or is shorter than one analysis window.
    """
    audio = load_audio(path, spec.sample_rate)
    if spec.n_frames(audio.size) == 0:
        raise AudioError(
            f"{path}: {audio.size / spec.sample_rate:.3f} s of audio is shorter than one analysis window "
            f"({spec.win_length / spec.sample_rate:.3f} s)"
        )
    with torch_threads(1):
        views = frontend_offline(audio, spec)
    return ClipFeatures(views.mel, views.coch, None if spec.musicnn is None else views.musicnn)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes.

    Raises:
        AudioError: the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return digest.hexdigest()


class FeatureCache:
    """Features of audio files for one :class:`FeatureSpec`, computed once and kept on disk.

    Args:
        root: cache folder (created on first write); several specs can share it.
        spec: the front-end spec; must describe audio (``source == "audio"``).
        storage_dtype: ``"float32"`` or ``"float16"`` (see the module docstring for its error).
    """

    def __init__(self, root: str | Path, spec: FeatureSpec, storage_dtype: str = "float32") -> None:
        if spec.source != "audio":
            raise ConfigError(f"feature cache: spec source {spec.source!r} is not computed from audio")
        if storage_dtype not in STORAGE_DTYPES:
            raise ConfigError(f"storage_dtype: must be one of {', '.join(STORAGE_DTYPES)}, got {storage_dtype!r}")
        self.root = Path(root)
        self.spec = spec
        self.storage_dtype = np.dtype(storage_dtype)
        self.directory = self.root / f"{spec.hash()}-{storage_dtype}-v{FORMAT_VERSION}"
        self._hashes: dict[tuple[str, int, int], str] = {}

    def content_hash(self, path: str | Path) -> str:
        """SHA-256 of the file at ``path``, remembered per (path, size, modification time)."""
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise AudioError(f"{path}: cannot read ({exc.strerror or exc})") from None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(path)
        return self._hashes[key]

    def entry_path(self, content_hash: str) -> Path:
        """Where the entry of audio with this content hash lives."""
        return self.directory / content_hash[:2] / f"{content_hash}.npz"

    def load(self, content_hash: str) -> ClipFeatures | None:
        """The stored features (float32) for ``content_hash``, or ``None`` when absent. An entry that cannot
        be read or does not match the spec is deleted (and logged) and reported as absent."""
        entry = self.entry_path(content_hash)
        try:
            with np.load(entry, allow_pickle=False) as stored:
                mel, coch = stored["mel"], stored["coch"]
                musicnn = stored["musicnn"] if self.spec.musicnn is not None else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            return self._discard(entry, f"unreadable ({exc})")
        expected = (self.spec.mel.n_mels, self.spec.cochleagram.n_channels)
        if (
            mel.ndim != 2
            or coch.ndim != 2
            or (mel.shape[1], coch.shape[1]) != expected
            or mel.shape[0] != coch.shape[0]
            or mel.dtype != self.storage_dtype
            or coch.dtype != self.storage_dtype
        ):
            return self._discard(entry, f"holds mel {mel.shape} {mel.dtype} and coch {coch.shape} {coch.dtype}")
        if musicnn is not None and (
            musicnn.shape != (mel.shape[0], self.spec.musicnn.size) or musicnn.dtype != self.storage_dtype
        ):
            return self._discard(entry, f"holds musicnn {musicnn.shape} {musicnn.dtype}")
        return ClipFeatures(mel.astype(np.float32), coch.astype(np.float32), _as_float32(musicnn))

    @staticmethod
    def _discard(entry: Path, reason: str) -> None:
        _log.warning("feature cache entry %s %s; recomputing it", entry, reason)
        entry.unlink(missing_ok=True)
        return None

    def store(self, content_hash: str, features: ClipFeatures) -> ClipFeatures:
        """Write ``features`` as the entry for ``content_hash`` (atomically; an existing entry is replaced).

        Returns:
            The features as :meth:`load` will return them (rounded through the storage dtype).
        """
        if not (self.directory / "spec.json").is_file():
            text = json.dumps(self.spec.to_dict(), indent=2, sort_keys=True).encode("utf-8")
            write_atomically(self.directory / "spec.json", lambda handle: handle.write(text))
        arrays = {"mel": features.mel, "coch": features.coch}
        if self.spec.musicnn is not None:
            if features.musicnn is None:
                raise ConfigError("feature cache: the spec has a musicnn view but the features to store have none")
            arrays["musicnn"] = features.musicnn
        stored = {name: array.astype(self.storage_dtype) for name, array in arrays.items()}
        write_atomically(self.entry_path(content_hash), lambda handle: np.savez(handle, **stored))
        return ClipFeatures(*(_as_float32(stored.get(name)) for name in ("mel", "coch", "musicnn")))

    def get(self, path: str | Path) -> ClipFeatures:
        """Features of the audio file at ``path``: from the cache, or computed, stored and returned.

        Raises:
            AudioError: the file cannot be read or decoded, or is shorter than one analysis window.
        """
        content_hash = self.content_hash(path)
        cached = self.load(content_hash)
        return cached if cached is not None else self.store(content_hash, extract_features(path, self.spec))

    def fill(
        self, paths: Sequence[str | Path], workers: int = 1, progress: Callable[[int, int], None] | None = None
    ) -> list[str]:
        """Make sure every file in ``paths`` has an entry, computing the missing ones.

        Args:
            paths: audio files.
            workers: processes computing missing entries (1: in this process).
            progress: called as ``progress(done, total)`` after each missing entry is computed.

        Returns:
            The content hash of each path, in order (keys for :meth:`load`).

        Raises:
            AudioError: a file cannot be read or decoded (entries finished before it are kept).
        """
        if workers < 1:
            raise ConfigError(f"workers: must be >= 1, got {workers}")
        hashes = [self.content_hash(path) for path in paths]
        missing = {h: p for h, p in zip(hashes, paths, strict=True) if not self.entry_path(h).is_file()}
        total = len(missing)
        if workers == 1 or total <= 1:
            for done, (content_hash, path) in enumerate(missing.items(), start=1):
                self.store(content_hash, extract_features(path, self.spec))
                if progress is not None:
                    progress(done, total)
            return hashes
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
            jobs = [
                pool.submit(_fill_entry, str(self.root), self.spec.to_dict(), self.storage_dtype.name, h, str(p))
                for h, p in missing.items()
            ]
            try:
                for done, job in enumerate(as_completed(jobs), start=1):
                    job.result()
                    if progress is not None:
                        progress(done, total)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return hashes


def _as_float32(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None else array.astype(np.float32)


def _init_worker() -> None:
    torch.set_num_threads(1)


def _fill_entry(root: str, spec: dict, storage_dtype: str, content_hash: str, path: str) -> None:
    cache = FeatureCache(root, FeatureSpec.from_dict(spec), storage_dtype)
    cache.store(content_hash, extract_features(path, cache.spec))
