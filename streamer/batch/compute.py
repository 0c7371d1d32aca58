"""Sound files -> their tables of updates, by the offline batch pass, in chunks of bounded memory.

Per file: :class:`~streamer.sources.file.SoundFileReader` blocks of :data:`READ_BLOCK` samples ->
:func:`~streamer.sanitize.sanitize` (NaN/inf -> 0, damaged samples clipped, both counted, as the engine
does) -> :class:`~streamer.resample.SourceResampler` when the file's rate is not the model's ->
:class:`~damer_core.features.frontend.FrontEnd` (streaming) -> the frames collected into chunks of about
:data:`CHUNK_S` seconds -> one :meth:`DamerModel.forward` per chunk over the chunk preceded by
``model.context_tokens`` tokens of left context (the last frames of the previous chunk), of which only the
chunk's own tokens are kept. Memory per file: one chunk of frames with its context, the stages' state and
the table (40 bytes per update), whatever the file's length.

Equal to the live engine on the same file (``damer stream --pace fast``, the same smoothing): the same
updates at the same audio times (bit for bit: token ``n`` at ``(f * hop + win_length) / rate`` with
``f = (n + 1) * frames_per_token - 1``, the engine's own arithmetic), and values within :data:`BATCH_ATOL`
(the tests check it for several files and bundles). What differs is float rounding only: the Mel and
cochleagram frames are bit-identical for any block split, the musicnn view and the resampler equal up to
rounding (~1e-7), and the model's batched forward pass equals its traced per-token step up to rounding.

Several files go through the model together with :func:`compute_tables` (``batch`` > 1, the GPU path):
their chunks are stacked into one batch, right-padded to the longest; the model is causal, so padding
after a token never changes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from damer_core.bundle import Bundle
from damer_core.errors import AudioError
from damer_core.features.frontend import FrameViews, FrontEnd
from damer_core.model import DamerModel
from damer_core.spec import FeatureSpec
from streamer.log_out import COLUMNS
from streamer.resample import SourceResampler
from streamer.sanitize import sanitize
from streamer.smoothing import OnePoleSmoother
from streamer.sources.file import SoundFileReader

BATCH_ATOL = 5e-5
"""Largest difference between a value of the batch path and the live engine's for the same update (valence,
arousal and the two p(high)), as tested; measured differences are about 1e-6."""

READ_BLOCK = 65536
"""Input samples decoded and pushed through the front-end at once (about 1.5 s at 44.1 kHz)."""

CHUNK_S = 60.0
"""Audio per forward pass of the model, in seconds (plus the left context)."""


class Interrupted(AudioError):
    """The stop flag was set while the file was being computed: it has no result."""


class StopFlag(Protocol):
    """What asks a computation to stop: a :class:`threading.Event`, or a worker's view of its parent's."""

    def is_set(self) -> bool:
        """True once the run is to stop."""


@dataclass
class FileTable:
    """The updates of one file and what reading it found.

    Attributes:
        reader: the file's reader (closed): sample rate, channels, header length, decoder messages.
        table: column name (:data:`streamer.log_out.COLUMNS`) -> ``(n,)`` float64, one row per update.
        audio_s: seconds of audio decoded.
        nonfinite_samples: NaN/inf samples replaced by 0.
        clipped_samples: damaged samples beyond ``SAMPLE_LIMIT`` clipped.
        wall_s: wall time spent on the file (in a batch of files: the batch's time, shared).
    """

    reader: SoundFileReader
    table: dict[str, np.ndarray]
    audio_s: float
    nonfinite_samples: int
    clipped_samples: int
    wall_s: float = 0.0


@dataclass
class Chunk:
    """Frames for one forward pass: ``context`` tokens already computed, then ``tokens`` new ones.

    Attributes:
        frames: view -> ``((context + tokens) * frames_per_token, n_bins)`` float32, the views the model reads.
    """

    frames: dict[str, np.ndarray]
    context: int
    tokens: int


class ChunkedFrames:
    """Front-end frames in (any count per push), chunks of whole tokens with left context out.

    Args:
        views: the views the model reads.
        frames_per_token: frames per token.
        context_tokens: tokens of left context each chunk carries (fewer at the start of the file).
        chunk_tokens: new tokens per chunk (the last chunk of a file may have fewer).
    """

    def __init__(self, views: Sequence[str], frames_per_token: int, context_tokens: int, chunk_tokens: int) -> None:
        self.views = tuple(views)
        self.frames_per_token = frames_per_token
        self.context_tokens = context_tokens
        self.chunk_tokens = chunk_tokens
        self._pending: dict[str, list[np.ndarray]] = {view: [] for view in self.views}
        self._pending_frames = 0
        self._context: dict[str, np.ndarray] | None = None

    def add(self, views: FrameViews) -> None:
        """Frames of every view completed by one front-end push."""
        given = {"mel": views.mel, "cochleagram": views.coch, "musicnn": views.musicnn}
        if views.mel.shape[0] == 0:
            return
        for view in self.views:
            self._pending[view].append(given[view])
        self._pending_frames += views.mel.shape[0]

    def take(self, final: bool) -> Chunk | None:
        """The next chunk: ``chunk_tokens`` new tokens once that many are pending; with ``final`` (the input
        has ended), whatever whole tokens are pending. ``None`` when there is no chunk to take (trailing frames
        that make no token are never used, as offline)."""
        per_token = self.frames_per_token
        pending_tokens = self._pending_frames // per_token
        tokens = min(pending_tokens, self.chunk_tokens) if final else self.chunk_tokens
        if tokens == 0 or pending_tokens < tokens:
            return None
        frames: dict[str, np.ndarray] = {}
        for view in self.views:
            joined = np.concatenate(self._pending[view]) if len(self._pending[view]) > 1 else self._pending[view][0]
            new, rest = joined[: tokens * per_token], joined[tokens * per_token :]
            self._pending[view] = [rest] if rest.shape[0] else []
            frames[view] = new if self._context is None else np.concatenate((self._context[view], new))
        self._pending_frames -= tokens * per_token
        context = 0 if self._context is None else self._context[self.views[0]].shape[0] // per_token
        keep = min(self.context_tokens, context + tokens) * per_token
        self._context = {view: frames[view][frames[view].shape[0] - keep :].copy() for view in self.views}
        return Chunk(frames, context, tokens)


class FrontEnds:
    """Front-ends of one feature spec, built once and reused file after file: building one loads the musicnn
    weights (about 0.25 s, as long as analysing a few seconds of audio); :meth:`give` resets it for the next."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._free: list[FrontEnd] = []

    def take(self) -> FrontEnd:
        """A fresh front-end (new or reset)."""
        return self._free.pop() if self._free else FrontEnd(self.spec)

    def give(self, frontend: FrontEnd) -> None:
        """Return a front-end taken with :meth:`take`, whatever state it is in."""
        frontend.reset()
        self._free.append(frontend)


class FileComputation:
    """One file on its way through the stages, chunk by chunk.

    Args:
        reader: the opened file (closed by :meth:`close`).
        bundle: the model and its feature spec.
        frontend: a fresh front-end for ``bundle.spec`` (see :class:`FrontEnds`).
        stop: checked before every block read; when set, :meth:`next_chunk` raises :class:`Interrupted`.
        smoothing_s: the engine's one-pole smoothing time constant, seconds (0: off).
        chunk_s: audio per chunk, seconds.
    """

    def __init__(
        self,
        reader: SoundFileReader,
        bundle: Bundle,
        frontend: FrontEnd,
        stop: StopFlag,
        smoothing_s: float = 0.0,
        chunk_s: float = CHUNK_S,
    ) -> None:
        spec, model = bundle.spec, bundle.model
        self.reader = reader
        self.path = reader.path
        self.started = time.perf_counter()
        self._stop = stop
        self._spec = spec
        self._frames_per_token = model.frames_per_token
        self._smoothing_s = smoothing_s
        self.frontend = frontend
        rate = reader.sample_rate
        self._resampler = None if rate == spec.sample_rate else SourceResampler(rate, spec.sample_rate)
        token_s = model.frames_per_token * spec.hop / spec.sample_rate
        chunk_tokens = max(1, round(chunk_s / token_s))
        self._chunks = ChunkedFrames(model.views, model.frames_per_token, model.context_tokens, chunk_tokens)
        self._finite = np.zeros(READ_BLOCK, dtype=bool)
        self._ended = False
        self._outputs: list[np.ndarray] = []
        self.samples = 0
        self.nonfinite_samples = 0
        self.clipped_samples = 0

    def next_chunk(self) -> Chunk | None:
        """Read and push blocks until a chunk is ready; ``None`` once the file is done.

        Raises:
            AudioError: decoding failed part-way (the message names the file).
            Interrupted: the stop event was set.
        """
        while True:
            chunk = self._chunks.take(final=self._ended)
            if chunk is not None or self._ended:
                return chunk
            self._read()

    def _read(self) -> None:
        if self._stop.is_set():
            raise Interrupted(f"{self.path}: interrupted")
        block = self.reader.read(READ_BLOCK)
        n = block.shape[0]
        if n == 0:
            self._ended = True
            samples = self._resampler.flush() if self._resampler is not None else block
        else:
            nonfinite, clipped = sanitize(block, self._finite[:n])
            self.nonfinite_samples += nonfinite
            self.clipped_samples += clipped
            self.samples += n
            samples = block if self._resampler is None else self._resampler.push(block)
        try:
            views = self.frontend.push(samples)
        except AudioError as exc:  # the front-end's errors do not name the file
            raise AudioError(f"{self.path}: {exc}") from None
        self._chunks.add(views)

    def accept(self, values: np.ndarray) -> None:
        """The model's outputs for the last chunk's new tokens: ``(tokens, 4)`` valence, arousal, p(high
        valence), p(high arousal)."""
        self._outputs.append(values)

    def close(self) -> None:
        """Close the file (the front-end stays with the caller)."""
        self.reader.close()

    def table(self) -> FileTable:
        """The finished table (the update times are the engine's, see the module docstring)."""
        spec = self._spec
        values = np.concatenate(self._outputs) if self._outputs else np.zeros((0, 4), dtype=np.float32)
        frames = np.arange(1, values.shape[0] + 1, dtype=np.int64) * self._frames_per_token - 1
        times = (frames * spec.hop + spec.win_length) / spec.sample_rate
        rows = values.astype(np.float64)
        smoother = OnePoleSmoother(self._smoothing_s, 4)
        if smoother.enabled:
            for i in range(rows.shape[0]):
                row = rows[i].tolist()
                rows[i] = smoother(float(times[i]), row)
        table = {"time": times, **{name: rows[:, i].copy() for i, name in enumerate(COLUMNS[1:])}}
        audio_s = self.samples / self.reader.sample_rate
        wall_s = time.perf_counter() - self.started
        return FileTable(self.reader, table, audio_s, self.nonfinite_samples, self.clipped_samples, wall_s)


def forward_chunks(model: DamerModel, chunks: Sequence[Chunk]) -> list[np.ndarray]:
    """One forward pass over ``chunks`` stacked as a batch (right-padded with zero frames to the longest).

    Returns:
        Per chunk, ``(chunk.tokens, 4)`` float32: valence, arousal, p(high valence), p(high arousal) of its new
        tokens (the context tokens' outputs are dropped).
    """
    reference = model.head.linear.weight
    device = reference.device
    longest = max(next(iter(chunk.frames.values())).shape[0] for chunk in chunks)
    inputs: dict[str, torch.Tensor | None] = {"mel": None, "cochleagram": None, "musicnn": None}
    for view in model.views:
        if len(chunks) == 1:
            batch = torch.from_numpy(chunks[0].frames[view])[None]
        else:
            batch = torch.zeros(len(chunks), longest, model.n_bins[view])
            for i, chunk in enumerate(chunks):
                frames = chunk.frames[view]
                batch[i, : frames.shape[0]] = torch.from_numpy(frames)
        inputs[view] = batch.to(device, non_blocking=True)
    with torch.inference_mode():
        output = model(inputs["mel"], inputs["cochleagram"], inputs["musicnn"])
        values = torch.cat((output.va, torch.sigmoid(output.logits)), dim=-1).float().cpu().numpy()
    return [values[i, chunk.context : chunk.context + chunk.tokens] for i, chunk in enumerate(chunks)]


def compute_tables(
    paths: Sequence[Path],
    bundle: Bundle,
    frontends: FrontEnds,
    smoothing_s: float,
    stop: StopFlag,
    chunk_s: float = CHUNK_S,
) -> list[FileTable | AudioError]:
    """Compute every file of ``paths``, their chunks going through the model together.

    With one path this is the plain per-file computation; with several (the GPU path), one forward pass
    serves a chunk of each file still running.

    Returns:
        Per path, in order, its :class:`FileTable` or the :class:`AudioError` that stopped it (unreadable,
        damaged part-way, :class:`Interrupted`, ...). Nothing else is caught.
    """
    results: dict[int, FileTable | AudioError] = {}
    running: dict[int, FileComputation] = {}
    for i, path in enumerate(paths):
        try:
            reader = SoundFileReader(path)
        except AudioError as exc:
            results[i] = exc
        else:
            running[i] = FileComputation(reader, bundle, frontends.take(), stop, smoothing_s, chunk_s)
    try:
        while running:
            ready: list[tuple[FileComputation, Chunk]] = []
            for i, computation in list(running.items()):
                try:
                    chunk = computation.next_chunk()
                except AudioError as exc:
                    results[i], chunk = exc, None
                if chunk is None:
                    del running[i]
                    computation.close()
                    frontends.give(computation.frontend)
                    if i not in results:
                        results[i] = computation.table()
                else:
                    ready.append((computation, chunk))
            if ready:
                outputs = forward_chunks(bundle.model, [chunk for _, chunk in ready])
                for (computation, _), values in zip(ready, outputs, strict=True):
                    computation.accept(values)
    finally:
        for computation in running.values():
            computation.close()
            frontends.give(computation.frontend)
    return [results[i] for i in range(len(paths))]
