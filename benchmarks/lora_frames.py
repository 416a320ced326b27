"""Frame time with 0 and with 2 fused LoRA styles, same model, same inputs.

    .venv/bin/python benchmarks/lora_frames.py --model random:sd21 --size 512 --frames 5 --rounds 3

Two random rank-16 LoRAs (attention layers of the UNet and the text encoder, diffusers/PEFT
keys) are written to a temporary folder and fused through the engine's own ``set_loras``. The
rounds alternate (no styles, two styles), so a machine that slows down mid-run slows both; the
time to fuse (and to go back to the base weights) is reported apart, since it is paid once per
change, not per frame.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from desktop_app.core.types import RenderRequest
from desktop_app.engine.loading import load_engine

TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "q_proj", "k_proj", "v_proj", "out_proj")


def random_lora(engine, path: Path, seed: int, rank: int = 16) -> Path:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    models = {"unet": engine.parts.unet, "text_encoder": engine.parts.text_encoders[0]}
    if engine.packed_weights is not None:
        engine.packed_weights.unpack()  # the layers' shapes, read from their weights
    for prefix, model in models.items():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and name.endswith(TARGETS):
                state[f"{prefix}.{name}.lora_A.weight"] = (
                    torch.randn(rank, module.in_features, generator=gen) * 0.01
                )
                state[f"{prefix}.{name}.lora_B.weight"] = (
                    torch.randn(module.out_features, rank, generator=gen) * 0.01
                )
    if engine.packed_weights is not None:
        engine.packed_weights.pack()
    save_file(state, str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="random:sd21")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    engine = load_engine(args.model, device="cpu")
    folder = Path(tempfile.mkdtemp(prefix="live-canvas-loras-"))
    styles = tuple((str(random_lora(engine, folder / f"s{i}.safetensors", i)), 0.8) for i in (1, 2))
    sketch = np.full((512, 512, 3), 255, np.uint8)
    sketch[100:400, 250:256] = 0
    times: dict[str, list[float]] = {"0 LoRAs": [], "2 fused LoRAs": []}
    fuse_s: list[float] = []
    engine.render(RenderRequest(sketch=sketch, size=args.size, prompt="a house"))  # warm
    for _ in range(args.rounds):
        for label, loras in (("0 LoRAs", ()), ("2 fused LoRAs", styles)):
            start = time.perf_counter()
            engine.set_loras(loras)
            fuse_s.append(time.perf_counter() - start)
            request = RenderRequest(sketch=sketch, size=args.size, prompt="a house", loras=loras)
            engine.render(request)  # the prompt's encoding after a change, not timed
            for _ in range(args.frames):
                times[label].append(engine.render(request).timings.total_ms)
    print(f"{engine.info.describe()}, {args.size}px, {args.frames} frames x {args.rounds} rounds")
    for label, values in times.items():
        print(f"  {label}: median {statistics.median(values):.0f} ms, "
              f"min {min(values):.0f}, max {max(values):.0f} ({len(values)} frames)")
    change = statistics.median(fuse_s)
    print(f"  changing the styles (fuse, or back to base): median {change:.1f} s")


if __name__ == "__main__":
    main()
