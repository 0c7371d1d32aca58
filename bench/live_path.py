"""The live path over a signal in memory, for benchmarks that need its outputs rather than its timing."""

from __future__ import annotations

import numpy as np
import torch

from damer_core.bundle import Bundle
from damer_core.features.frontend import FrontEnd


def stream_va(bundle: Bundle, audio: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Stream mono ``audio`` at the model's rate through the streaming front-end and the bundle's traced step
    in blocks of ``block`` samples, as the engine does.

    Returns:
        ``(times_s (N,), va (N, 2))``: each token's end time in seconds of audio and its float64
        ``(valence, arousal)``.
    """
    front_end, stream, outputs = FrontEnd(bundle.spec), bundle.streaming(), []
    with torch.inference_mode():
        for start in range(0, audio.size, block):
            outputs.append(stream.push(*front_end.push(audio[start : start + block])).va[0].double().cpu().numpy())
    times = np.array([bundle.model.token_end_seconds(n) for n in range(stream.tokens)])
    return times, np.concatenate(outputs)
