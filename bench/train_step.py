"""Cost of one training step, to plan training runs: seconds per optimiser step of :class:`train.loop.Learner`.

Two recipes side by side, interleaved step by step so that they share the machine's noise:

* **supervised**: PCL and SAML off; ``batch`` labelled crops;
* **full**: PCL and SAML on (past their start steps): ``batch`` labelled plus ``unlabelled`` unlabelled crops
  through the student, the EMA teacher's forward pass over all of them, the SAML memory and anchors.

Crops are random log-feature-like frames of ``--crop`` seconds (the model's cost does not depend on the
values; data loading is not included: it runs in worker processes during training). The model is the
default config unless ``--d-model`` etc. are given; the recipe's defaults otherwise (AdamW, clipping).
Threads: ``torch.set_num_threads`` for each value of ``--threads``.

    python -m bench.train_step [--batch 16] [--unlabelled 8] [--crop 10] [--steps 3] [--threads 1 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from damer_core.model import DamerModel, ModelConfig
from damer_core.spec import FeatureSpec
from train.data import crop_frames
from train.distributed import Processes
from train.loop import Learner
from train.recipe import DataConfig, PCLConfig, SAMLConfig, SourceConfig, TrainRecipe


def random_batch(
    rng: np.random.Generator, n: int, frames: int, n_tokens: int, labelled: bool
) -> dict[str, torch.Tensor]:
    """``n`` crops shaped like :func:`train.data.assemble_batch` output, all tokens valid."""
    target = rng.uniform(-1, 1, (n, n_tokens, 2)) if labelled else np.full((n, n_tokens, 2), np.nan)
    return {
        "mel": torch.from_numpy(rng.normal(-5, 2, (n, frames, 128)).astype(np.float32)),
        "coch": torch.from_numpy(rng.normal(-9, 2, (n, frames, 84)).astype(np.float32)),
        "musicnn": torch.zeros(n, frames, 0),
        "target": torch.from_numpy(target.astype(np.float32)),
        "valid": torch.ones(n, n_tokens, dtype=torch.bool),
        "confidence": torch.ones(n),
        "source": torch.zeros(n, dtype=torch.int64),
        "track": torch.arange(n, dtype=torch.int64),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="labelled crops per step (default 16)")
    parser.add_argument("--unlabelled", type=int, default=8, help="unlabelled crops per step, full recipe (default 8)")
    parser.add_argument("--crop", type=float, default=10.0, help="crop length in seconds (default 10)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per recipe and thread count (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts (default 1 2)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    spec, config = FeatureSpec(), ModelConfig(device=args.device)
    source = SourceConfig(kind="csv", path="unused.csv")
    base = TrainRecipe(data=DataConfig(sources=(source,)), model=config)
    recipes = {
        "supervised": dataclasses.replace(base, pcl=PCLConfig(enabled=False), saml=SAMLConfig(enabled=False)),
        "full": dataclasses.replace(base, pcl=PCLConfig(start_step=0), saml=SAMLConfig(start_step=0)),
    }
    frames = crop_frames(spec, args.crop, config.frames_per_token)
    n_tokens = frames // config.frames_per_token
    device = torch.device(args.device)
    processes = Processes(0, 1, device)
    rng = np.random.default_rng(0)
    batches = {
        "supervised": {
            "labelled": random_batch(rng, args.batch, frames, n_tokens, True),
            "unlabelled": random_batch(rng, 0, frames, n_tokens, False),
        },
        "full": {
            "labelled": random_batch(rng, args.batch, frames, n_tokens, True),
            "unlabelled": random_batch(rng, args.unlabelled, frames, n_tokens, False),
        },
    }
    results: dict[str, dict[str, float]] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        learners = {}
        for name, recipe in recipes.items():
            torch.manual_seed(0)
            learners[name] = Learner(recipe, DamerModel(config, spec).to(device), 1, 1000, processes)
        wall: dict[str, list[float]] = {name: [] for name in recipes}
        for step in range(args.warmup + args.steps):
            for name, learner in learners.items():
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                learner.step(batches[name], step)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if step >= args.warmup:
                    wall[name].append(time.perf_counter() - start)
        for name in recipes:
            results[f"{name}, {threads} thread{'s' if threads > 1 else ''}"] = {
                "threads": threads,
                "median_s": float(np.median(wall[name])),
                "min_s": float(np.min(wall[name])),
                "crops": args.batch + (args.unlabelled if name == "full" else 0),
            }

    parameters = sum(p.numel() for p in DamerModel(config, spec).parameters())
    print(
        f"default model ({parameters:,} parameters), {args.batch} labelled crops of {args.crop:g} s "
        f"({n_tokens} tokens); full = + {args.unlabelled} unlabelled crops, EMA teacher, SAML; "
        f"{args.steps} timed steps; {platform.machine()}, {os.cpu_count()} CPUs, {args.device}"
    )
    print(f"{'recipe':<26}{'crops':>7}{'median s/step':>15}{'min s/step':>12}")
    for name, row in results.items():
        print(f"{name:<26}{row['crops']:>7}{row['median_s']:>15.2f}{row['min_s']:>12.2f}")
    if args.json is not None:
        summary = {
            "results": results,
            "parameters": parameters,
            "batch": args.batch,
            "unlabelled": args.unlabelled,
            "crop_s": args.crop,
            "tokens": n_tokens,
            "device": args.device,
            "torch": torch.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        }
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
