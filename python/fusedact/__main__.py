"""Command line: python -m fusedact info | bench | coverage | plot | plot-bench."""

import argparse
import json
import sys

# Each size range of the summary, on the CPU from the 4K elements of a small layer up.
DEFAULT_SIZES = {"cpu": "4K,16K,64K,256K,1M,4M,16M", "cuda": "64K,1M,4M,16M"}


def _sizes(text: str) -> list[int]:
    units = {"K": 1 << 10, "M": 1 << 20}
    return [int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s) for s in text.split(",")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fusedact", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print how fusedact was built (build_info) as JSON")
    bench = sub.add_parser("bench", help="time every op, forward and backward, against torch")
    bench.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when there is a GPU, else cpu")
    bench.add_argument("--ops", help="comma-separated op names (default: all)")
    bench.add_argument("--dtypes", help="comma-separated dtypes (default: float32,bfloat16, and float16 on CUDA)")
    bench.add_argument(
        "--sizes",
        help=f"comma-separated element counts (default: {DEFAULT_SIZES['cpu']} on the CPU, "
        f"{DEFAULT_SIZES['cuda']} on CUDA)",
    )
    bench.add_argument(
        "--repeats",
        type=int,
        default=11,
        help="measurements per case, at least; up to 4x as many while the speedup is not known to +-5%%",
    )
    bench.add_argument("--min-time", type=float, default=0.02, help="seconds one measurement lasts at least")
    bench.add_argument(
        "--models",
        nargs="?",
        const="all",
        help="time whole models instead, converted against unconverted: training step and inference "
        "(comma-separated names, default all: resnet18, efficientnet_b0, mobilenetv3_small_100, vit_tiny, llama)",
    )
    bench.add_argument(
        "--per-call",
        action="store_true",
        help="time the fixed cost of a call instead: 1K elements, one thread, forward and a training step",
    )
    bench.add_argument("--batch", type=int, default=8, help="--models: the batch (default: %(default)s)")
    bench.add_argument("--image-size", type=int, default=224, help="--models: timm's image size (default: %(default)s)")
    bench.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    bench.add_argument("--plot", metavar="FILE", help="also draw the speedups (PNG, or SVG by its suffix; matplotlib)")
    bench.add_argument(
        "--fresh-pages",
        action="store_true",
        help="on the CPU, leave glibc returning large freed blocks to the OS (by default freed memory is "
        "reused, so that large outputs do not measure the kernel zeroing fresh pages)",
    )
    plot = sub.add_parser("plot", help="draw every activation and its derivative, fusedact's over torch's")
    plot.add_argument("--ops", help="comma-separated op names (default: all)")
    plot.add_argument("--out", default=".", help="folder of the figures (default: %(default)s)")
    plot.add_argument("--format", choices=["png", "svg"], default="png")
    plot_bench = sub.add_parser("plot-bench", help="draw the speedups of a bench --json file")
    plot_bench.add_argument("json", help="the file python -m fusedact bench --json wrote")
    plot_bench.add_argument("--out", help="the chart (default: the JSON's name with .png)")
    coverage = sub.add_parser(
        "coverage",
        help="convert transformers and timm models built from tiny configs; print what was replaced and fused, "
        "and whether outputs and gradients still agree",
    )
    coverage.add_argument("--models", help="comma-separated model names (default: all)")
    coverage.add_argument("--no-ffn", action="store_true", help="convert activations only, not feed-forward blocks")
    args = parser.parse_args(argv)

    import torch

    import fusedact

    if args.command == "info":
        json.dump(fusedact.build_info(), sys.stdout, indent=2)
        print()
    elif args.command == "bench":
        from . import bench as bench_module

        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device == "cuda" and not torch.cuda.is_available():
            parser.error("--device cuda: no GPU here")
        if args.models:
            from . import bench_models

            names = None if args.models == "all" else args.models.split(",")
            results = bench_models.run(names, device, args.batch, args.image_size, args.repeats)
            print(
                f"fusedact {fusedact.__version__} vs torch {torch.__version__}, {device}, "
                f"{torch.get_num_threads()} threads, batch {args.batch}: converted (ffn=True) vs unconverted"
            )
            print(bench_models.format_table(results))
            if args.json:
                doc = {"torch": torch.__version__, "device": device, "threads": torch.get_num_threads()}
                doc |= {"batch": args.batch, "results": [r.as_dict() for r in results]}
                with open(args.json, "w") as f:
                    json.dump(doc, f, indent=1)
                    f.write("\n")
            return 0
        info, results = bench_module.run(
            device,
            args.ops.split(",") if args.ops else None,
            args.dtypes.split(",") if args.dtypes else None,
            _sizes(args.sizes or DEFAULT_SIZES[device]),
            args.repeats,
            args.min_time,
            reuse_memory=not args.fresh_pages,
            per_call=args.per_call,
        )
        print(f"fusedact {fusedact.__version__} vs torch {info['torch']}, {info['device']}, {info['threads']} threads")
        if info["cpu_memory_reused"]:
            print("CPU memory: freed blocks reused (glibc mallopt), not returned to the OS; --fresh-pages to change")
        if info["copy_bandwidth_gbps"]:
            print(f"measured copy bandwidth: {info['copy_bandwidth_gbps']:.0f} GB/s")
        print(bench_module.format_table(results))
        print(bench_module.summarize(results))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(info, f, indent=1)
                f.write("\n")
        if args.plot:
            from .plot import plot_bench

            print(f"wrote {plot_bench(info, args.plot)}")
    elif args.command == "plot":
        from .plot import plot_curves

        for path in plot_curves(args.ops.split(",") if args.ops else None, args.out, args.format):
            print(f"wrote {path}")
    elif args.command == "plot-bench":
        from pathlib import Path

        from .plot import plot_bench

        print(f"wrote {plot_bench(args.json, args.out or str(Path(args.json).with_suffix('.png')))}")
    elif args.command == "coverage":
        from . import coverage as coverage_module

        rows, skipped = coverage_module.run(args.models.split(",") if args.models else None, ffn=not args.no_ffn)
        ffn = not args.no_ffn
        print(f"fusedact {fusedact.__version__}, torch {torch.__version__}: fusedact.convert(model, ffn={ffn})")
        print(coverage_module.format_table(rows))
        for name in skipped:
            print(f"skipped {name}")
        if "transformers" not in " ".join(skipped) and not args.models:
            m = coverage_module.llama_training_memory()
            print(f"LLaMA training step ({m['config']}), converted / unconverted:")
            print(f"  loss {m['converted_loss']:.6f} / {m['unconverted_loss']:.6f}")
            for what, key in (("kept for backward", "saved"), ("peak memory", "peak")):
                ours, theirs = m[f"converted_{key}_bytes"], m[f"unconverted_{key}_bytes"]
                if ours is not None:
                    print(f"  {what} {ours / 2**20:.1f} MiB / {theirs / 2**20:.1f} MiB ({ours / theirs:.0%})")
        return 0 if all(r.equal for r in rows) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
