"""Times the diffusers generator on a GPU with full-size random-weight Wan 2.1 1.3B or LTX-Video 2B models.

Builds the pipeline from the published configs (no download), saves it with save_pretrained, loads it
through `DiffusersGenerator` (the adapter's real loading code) and reports seconds per denoising step,
per clip and for encoding, as JSON. The text encoder keeps its real width but one layer: it runs once per
clip and is not what this measures. `--size tiny` runs the same path on CPU in seconds (a smoke test).

    python benchmarks/bench_diffusers_gpu.py --model wan --steps 10 --out $OUT/bench.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reelwright.generators.base import ClipRequest  # noqa: E402
from reelwright.generators.diffusers import DiffusersGenerator  # noqa: E402


def text_encoder(kind: str, width: int, vocab: int):
    """Full-width, one-layer encoder: the transformer's cross-attention sees real-sized embeddings."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    if kind == "umt5":
        return UMT5EncoderModel(UMT5Config(vocab_size=vocab, d_model=width, d_kv=64, d_ff=10240, num_layers=1,
                                           num_heads=64, relative_attention_num_buckets=32))
    return T5EncoderModel(T5Config(vocab_size=vocab, d_model=width, d_kv=64, d_ff=10240, num_layers=1, num_heads=64,
                                   relative_attention_num_buckets=32))


def build_wan_1_3b(out: Path) -> None:
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from tiny_pipelines import tiny_tokenizer

    tok = tiny_tokenizer()
    # Wan2.1-T2V-1.3B transformer config; AutoencoderKLWan's defaults are the Wan 2.1 VAE.
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128,
                                        in_channels=16, out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960,
                                        num_layers=30, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        eps=1e-6, rope_max_seq_len=1024)
    pipe = WanPipeline(tokenizer=tok, text_encoder=text_encoder("umt5", 4096, len(tok)), vae=AutoencoderKLWan(),
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), transformer=transformer)
    pipe.to(torch.bfloat16).save_pretrained(out)


def build_ltx_2b(out: Path) -> None:
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline, LTXVideoTransformer3DModel
    from tiny_pipelines import tiny_tokenizer

    tok = tiny_tokenizer()
    # The defaults of both classes are LTX-Video 2B 0.9.x.
    pipe = LTXPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=AutoencoderKLLTXVideo(),
                       text_encoder=text_encoder("t5", 4096, len(tok)), tokenizer=tok,
                       transformer=LTXVideoTransformer3DModel())
    pipe.to(torch.bfloat16).save_pretrained(out)


def build_tiny(out: Path, model: str) -> None:
    from tiny_pipelines import build_tiny_ltx, build_tiny_wan

    (build_tiny_wan if model == "wan" else build_tiny_ltx)(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["wan", "ltx"], default="wan")
    ap.add_argument("--size", choices=["full", "tiny"], default="full")
    ap.add_argument("--steps", type=int, default=10, help="denoising steps timed (50 is the real default)")
    ap.add_argument("--seconds", type=Fraction, default=None, help="clip length; default the preset's longest")
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--height", type=int, default=None)
    ap.add_argument("--clips", type=int, default=2, help="clips timed after loading (the first warms up)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--out", type=Path, default=None, help="write the JSON report here too")
    args = ap.parse_args()

    report: dict = {"model": args.model, "size": args.size, "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / f"{args.model}-{args.size}"
        t0 = time.perf_counter()
        if args.size == "tiny":
            build_tiny(folder, args.model)
        else:
            # Random init is far faster on the GPU; save_pretrained writes bf16 weights either way.
            with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
                (build_wan_1_3b if args.model == "wan" else build_ltx_2b)(folder)
        report["build_and_save_s"] = round(time.perf_counter() - t0, 2)

        options = {"steps": args.steps, "device": args.device, "dtype": args.dtype}
        gen = DiffusersGenerator(model=str(folder), **{k: v for k, v in options.items() if v is not None})
        preset = gen.preset
        seconds = args.seconds or Fraction(preset.max_frames) / preset.fps
        width = args.width or (32 if args.size == "tiny" else preset.width)
        height = args.height or (32 if args.size == "tiny" else preset.height)
        sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)

        clips = []
        for i in range(args.clips):
            marks: dict[str, float] = {}

            def progress(fraction: float, message: str, marks=marks) -> None:
                sync()  # host timestamps mean GPU time only once the queue is drained
                key = "loading" if message.startswith("loading") else "run" if "Pipeline:" in message else message
                marks[key] = time.perf_counter()

            req = ClipRequest(shot_id=f"bench{i}", prompt="a dog walks in the park", duration=seconds, width=width,
                              height=height, aspect="16:9", seed=i, out_path=Path(tmp) / f"clip{i}.mp4")
            start = time.perf_counter()
            result = gen.generate(req, progress)
            total = time.perf_counter() - start
            step_times = sorted(t for k, t in marks.items() if k.startswith("step "))
            edges = [marks["run"]] + step_times  # the first step also encodes the prompt
            per_step = [b - a for a, b in zip(edges, edges[1:])]
            clips.append({
                "clip_s": round(total, 3),
                "load_s": round(marks["run"] - start, 3),
                "steps": len(per_step),
                "step_s_median": round(statistics.median(per_step), 4) if per_step else None,
                "step_s_first": round(per_step[0], 4) if per_step else None,
                "decode_and_encode_s": round(marks["done"] - step_times[-1], 3) if step_times else None,
                "encode_s": round(marks["done"] - marks["encoding"], 3),
                "frames": result.metadata["frames"], "width": result.metadata["width"],
                "height": result.metadata["height"], "fps": result.metadata["fps"],
                "device": result.metadata["device"], "dtype": result.metadata["dtype"],
                "adjusted": result.metadata["adjusted"],
            })
        report["clips"] = clips
        warm = clips[-1]
        if warm["step_s_median"]:
            # Classifier-free guidance (guidance > 1) runs the transformer twice per step; both are in step_s.
            report["estimated_clip_s_at_preset_steps"] = round(
                warm["clip_s"] + (preset.steps - warm["steps"]) * warm["step_s_median"], 1)
            report["preset_steps"] = preset.steps
        if torch.cuda.is_available():
            report["max_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
