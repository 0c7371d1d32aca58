"""Time reading a labelled dataset and decoding + resampling all of its clips in one process.

Default: the 4Q development clips in ../shared/data/4q. Pass 1 decodes every file with soundfile only
(it also warms the page cache); pass 2 runs ``train.audio.load_audio`` (decode, downmix, resample to the
spec's rate), which is what the feature cache does before the front-end. Optionally pass 3 runs the
front-end on the first N decoded clips to estimate the cost of filling the feature cache.

    python bench/dataset_decoding.py [--root DIR] [--threads 1] [--frontend-clips 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import soundfile
import torch

from damer_core.features.frontend import frontend_offline
from damer_core.spec import FeatureSpec
from train.audio import load_audio
from train.datasets.four_q import read_four_q

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "4q"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="4Q dataset folder")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: one core)")
    parser.add_argument("--frontend-clips", type=int, default=20, help="clips to run the front-end on (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = FeatureSpec()

    start = time.perf_counter()
    clips = read_four_q(args.root)
    read_s = time.perf_counter() - start

    rates: collections.Counter = collections.Counter()
    audio_s = 0.0
    start = time.perf_counter()
    for clip in clips:
        info = soundfile.info(str(clip.audio_path))
        soundfile.read(str(clip.audio_path), dtype="float32", always_2d=True)
        rates[info.samplerate] += 1
        audio_s += info.duration
    decode_s = time.perf_counter() - start

    start = time.perf_counter()
    decoded = [load_audio(clip.audio_path, spec.sample_rate) for clip in clips]
    load_s = time.perf_counter() - start

    n_frontend = min(args.frontend_clips, len(decoded))
    start = time.perf_counter()
    for audio in decoded[:n_frontend]:
        frontend_offline(audio, spec)
    frontend_s = time.perf_counter() - start
    frontend_audio_s = sum(a.size for a in decoded[:n_frontend]) / spec.sample_rate

    rows = [
        ("read tables (676 rows, file checks)", read_s, None),
        ("decode only (soundfile)", decode_s, audio_s / decode_s),
        ("decode + downmix + resample (load_audio)", load_s, audio_s / load_s),
        ("  of which downmix + resample (difference)", load_s - decode_s, audio_s / max(load_s - decode_s, 1e-9)),
        (f"front-end on {n_frontend} clips", frontend_s, frontend_audio_s / frontend_s if n_frontend else None),
    ]
    rate_counts = dict(sorted(rates.items()))
    print(
        f"{len(clips)} clips, {audio_s / 60:.1f} min of audio, file rates {rate_counts}, torch threads {args.threads}"
    )
    print(f"{'stage':<46} {'seconds':>9} {'x real time':>12}")
    for name, seconds, speed in rows:
        print(f"{name:<46} {seconds:>9.2f} {'' if speed is None else f'{speed:.0f}':>12}")
    total = read_s + load_s
    print(f"{'total: reader + decode + resample':<46} {total:>9.2f} {audio_s / total:>12.0f}")
    if args.json is not None:
        result = {
            "clips": len(clips),
            "audio_seconds": audio_s,
            "torch_threads": args.threads,
            "file_rates": {str(k): v for k, v in sorted(rates.items())},
            "read_s": read_s,
            "decode_s": decode_s,
            "load_audio_s": load_s,
            "total_s": total,
            "frontend_clips": n_frontend,
            "frontend_s": frontend_s,
            "frontend_audio_s": frontend_audio_s,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
