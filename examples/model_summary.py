"""Parameters and GFLOPs (multiply-accumulates) of every model, next to the paper's Table 12.

Run:  python examples/model_summary.py            (a text table, about 5 s: the count runs on the meta device)
      python examples/model_summary.py --markdown (the table of docs/models.md)
      python examples/model_summary.py --device cpu (count with real tensors; slower, same numbers)

Three counts are printed (see lifting_dfer.flops): "all" is every multiply-accumulate, attention's
activation-activation matmuls included (torch FlopCounterMode / 2); "layers" counts conv and linear layers only;
"thop" adds 4 operations per element of each BatchNorm / LayerNorm to "layers", as the module-hook counter thop
does. "thop" is the convention of the paper's Table 12 (it reproduces both baselines), so the diff column
compares it with the paper.
"""

from __future__ import annotations

import argparse
import functools

from lifting_dfer.flops import model_complexity
from lifting_dfer.models import create_model

# Paper, Table 12: params (M), GFLOPs per 16x224x224 clip.
PAPER = {
    "baseline_2dcnn": (1.55, 3.73),
    "ifdd_2dcnn": (1.18, 3.86),
    "baseline_3dvit": (23.41, 32.83),
    "ifdd_3dvit": (37.44, 36.01),
}
# Other readings of the paper, shown for comparison (docs/models.md discusses them).
VARIANTS = [
    ("ifdd_2dcnn", {"compress": 4}, "D_C = 4"),
    ("ifdd_3dvit", {"mlp_ratio": 4.0}, "MLP ratio 4"),
    ("ifdd_3dvit", {"out_stages": (1, 2, 3)}, "stages 1-3"),
]


def pct(value: float, ref: float) -> str:
    return f"{100 * (value / ref - 1):+.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16, help="clip length t0 (default 16)")
    parser.add_argument("--size", type=int, default=224, help="frame size (default 224)")
    parser.add_argument("--device", default="meta", help="'meta' (default, no memory) or 'cpu' / 'cuda'")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()

    shape = (1, 3, args.frames, args.size, args.size)
    rows = []
    for name, (paper_params, paper_gflops) in PAPER.items():
        rows.append((name, "", {}, paper_params, paper_gflops))
    for name, overrides, note in VARIANTS:
        rows.append((name, note, overrides, *PAPER[name]))

    results = {}
    lines = []
    if args.markdown:
        lines.append("| model | variant | params (M) | paper | diff | GMACs: all | layers | thop | paper | diff |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    else:
        lines.append(
            f"{'model':16} {'reading':30} {'params':>7} {'paper':>6} {'diff':>7} "
            f"{'all':>6} {'layers':>6} {'thop':>6} {'paper':>6} {'diff':>6}"
        )
    for name, note, overrides, paper_params, paper_gflops in rows:
        kwargs = {"num_frames": args.frames, "image_size": args.size, **overrides}
        c = model_complexity(functools.partial(create_model, name, **kwargs), shape, device=args.device)
        if not overrides:
            results[name] = c
        cells = (
            name, note or "default", f"{c.params_m:.2f}", f"{paper_params:.2f}", pct(c.params_m, paper_params),
            f"{c.gmacs:.2f}", f"{c.layer_gmacs:.2f}", f"{c.thop_gmacs:.2f}", f"{paper_gflops:.2f}",
            pct(c.thop_gmacs, paper_gflops),
        )  # fmt: skip
        if args.markdown:
            lines.append("| " + " | ".join(f"`{cells[0]}`" if i == 0 else v for i, v in enumerate(cells)) + " |")
        else:
            lines.append(
                f"{cells[0]:16} {cells[1]:30} {cells[2]:>7} {cells[3]:>6} {cells[4]:>7} "
                f"{cells[5]:>6} {cells[6]:>6} {cells[7]:>6} {cells[8]:>6} {cells[9]:>6}"
            )
    print("\n".join(lines))

    print()
    for backbone, paper_overhead in (("2dcnn", (3.86 / 3.73 - 1)), ("3dvit", (36.01 / 32.83 - 1))):
        ifdd, base = results[f"ifdd_{backbone}"], results[f"baseline_{backbone}"]
        print(
            f"IFDD-{backbone.upper()} over its baseline: thop {pct(ifdd.thop_gmacs, base.thop_gmacs)}, "
            f"all {pct(ifdd.macs, base.macs)}, params {pct(ifdd.params, base.params)} "
            f"(paper: {100 * paper_overhead:+.2f}% GFLOPs)"
        )
    print(f"\nper clip of {args.frames}x{args.size}x{args.size}; GMACs = FLOPs / 2 (the 'GFLOPs' of DFER papers)")


if __name__ == "__main__":
    main()
