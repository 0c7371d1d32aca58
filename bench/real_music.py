"""How a model behaves on real music and on non-music: per-track mean and spread of the streamed valence and
arousal, and whether silence and noise give finite, steady output.

Every track under ``--music`` (default ``data/music``, the DFSG-free Debian game-music tracks made by
``python -m train.fetch_music --out data/music``, listed with their packages in its ``manifest.csv``) is
decoded, resampled to the model's rate and streamed through the live path (the streaming front-end and the
model's traced step, in blocks of ``BLOCK`` samples). Per track: minutes, mean and standard deviation over
time of valence and arousal, and the share of updates in each quadrant (Q1 = high valence and arousal, Q2 =
low valence and high arousal, Q3 = both low, Q4 = high valence and low arousal). Per package: the mean of
the track means and their spread across tracks, and the mean within-track spread.

Then 30 s of digital silence, white noise at -20 dBFS and brown noise at about -30 dBFS, streamed the
same way: the output must be finite everywhere, and steady once the model's window is full (the standard
deviation over the last 20 s is reported).

Usage: ``python -m bench.real_music [--model BUNDLE] [--music DIR] [--json PATH]``; prints Markdown tables.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from bench.live_path import stream_va
from bench.report import machine_line, write_json
from damer_core.bundle import Bundle, default_bundle_path, load_bundle
from train.audio import load_audio

BLOCK = 22050
"""Samples pushed at once (the outputs do not depend on it: streamed == offline)."""

STEADY_TAIL_S = 20.0
TEST_SIGNAL_S = 30.0


def quadrant_shares(va: np.ndarray) -> list[float]:
    """Share of updates in Q1..Q4 (valence, arousal signs: ++, -+, --, +-)."""
    high_v, high_a = va[:, 0] > 0, va[:, 1] > 0
    masks = (high_v & high_a, ~high_v & high_a, ~high_v & ~high_a, high_v & ~high_a)
    return [float(mask.mean()) for mask in masks]


def track_rows(bundle: Bundle, music: Path) -> list[dict]:
    """One row per track of ``music/manifest.csv`` (see the module docstring)."""
    with (music / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        manifest = list(csv.DictReader(handle))
    rows = []
    for entry in manifest:
        va = stream_va(bundle, load_audio(music / entry["track"], bundle.spec.sample_rate), BLOCK)[1]
        rows.append(
            {
                "track": entry["track"],
                "package": entry["package"],
                "minutes": float(entry["duration_s"]) / 60,
                "valence_mean": float(va[:, 0].mean()),
                "valence_sd": float(va[:, 0].std()),
                "arousal_mean": float(va[:, 1].mean()),
                "arousal_sd": float(va[:, 1].std()),
                "quadrant_shares": quadrant_shares(va),
            }
        )
        print(f"  {entry['track']}: V {rows[-1]['valence_mean']:+.2f}, A {rows[-1]['arousal_mean']:+.2f}", flush=True)
    return rows


def probe_signals(rate: int) -> dict[str, np.ndarray]:
    """Digital silence, white noise (-20 dBFS) and brown noise (about -30 dBFS), ``TEST_SIGNAL_S`` s each."""
    rng = np.random.default_rng(0)
    n = int(TEST_SIGNAL_S * rate)
    brown = np.cumsum(rng.standard_normal(n))
    brown = 0.0316 * (brown - brown.mean()) / brown.std()
    return {
        "digital silence": np.zeros(n, np.float32),
        "white noise, -20 dBFS": (0.1 * rng.standard_normal(n)).astype(np.float32),
        "brown noise, -30 dBFS": brown.astype(np.float32),
    }


def signal_rows(bundle: Bundle) -> list[dict]:
    """Finiteness and steadiness of the output for each of :func:`probe_signals`."""
    updates_per_s = bundle.spec.sample_rate / (bundle.spec.hop * bundle.model.frames_per_token)
    rows = []
    for name, audio in probe_signals(bundle.spec.sample_rate).items():
        va = stream_va(bundle, audio, BLOCK)[1]
        tail = va[-int(STEADY_TAIL_S * updates_per_s) :]
        rows.append(
            {
                "signal": name,
                "finite": bool(np.isfinite(va).all()),
                "valence_tail_mean": float(tail[:, 0].mean()),
                "valence_tail_sd": float(tail[:, 0].std()),
                "arousal_tail_mean": float(tail[:, 1].mean()),
                "arousal_tail_sd": float(tail[:, 1].std()),
            }
        )
    return rows


def markdown(tracks: list[dict], signals: list[dict]) -> str:
    """The three tables: per package, per track, test signals."""
    lines = ["| package | tracks | valence: mean of track means (sd across tracks) | arousal: same | "
             "mean within-track sd V / A |", "|---|---|---|---|---|"]  # fmt: skip
    for package in sorted({row["package"] for row in tracks}):
        rows = [row for row in tracks if row["package"] == package]
        v, a = (np.array([row[f"{d}_mean"] for row in rows]) for d in ("valence", "arousal"))
        within = [np.mean([row[f"{d}_sd"] for row in rows]) for d in ("valence", "arousal")]
        lines.append(f"| {package} | {len(rows)} | {v.mean():+.2f} ({v.std():.2f}) | {a.mean():+.2f} ({a.std():.2f}) | "
                     f"{within[0]:.2f} / {within[1]:.2f} |")  # fmt: skip
    lines += [
        "",
        "| track | min | valence mean ± sd | arousal mean ± sd | time in Q1/Q2/Q3/Q4 |",
        "|---|---|---|---|---|",
    ]
    for row in tracks:
        shares = "/".join(f"{share:.0%}" for share in row["quadrant_shares"])
        lines.append(f"| {row['track']} | {row['minutes']:.1f} "
                     f"| {row['valence_mean']:+.2f} ± {row['valence_sd']:.2f} "
                     f"| {row['arousal_mean']:+.2f} ± {row['arousal_sd']:.2f} | {shares} |")  # fmt: skip
    lines += ["", f"| signal ({TEST_SIGNAL_S:g} s) | finite "
                  f"| valence, last {STEADY_TAIL_S:g} s: mean ± sd | arousal: same |",
              "|---|---|---|---|"]  # fmt: skip
    for row in signals:
        lines.append(f"| {row['signal']} | {row['finite']} "
                     f"| {row['valence_tail_mean']:+.3f} ± {row['valence_tail_sd']:.4f} "
                     f"| {row['arousal_tail_mean']:+.3f} ± {row['arousal_tail_sd']:.4f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, default=default_bundle_path(), help="model bundle (default: the shipped one)"
    )
    parser.add_argument(
        "--music", type=Path, default=Path("data/music"), help="folder with manifest.csv (default data/music)"
    )
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    bundle = load_bundle(args.model, device="cpu")
    tracks = track_rows(bundle, args.music) if (args.music / "manifest.csv").is_file() else []
    if not tracks:
        print(f"no {args.music / 'manifest.csv'}: test signals only (python -m train.fetch_music --out {args.music})")
    signals = signal_rows(bundle)
    print(markdown(tracks, signals))
    print(f"model: {args.model}\nmachine: {machine_line()}")
    write_json(args.json, {"model": str(args.model), "tracks": tracks, "signals": signals, "machine": machine_line()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
