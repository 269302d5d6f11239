"""Benchmark: pixelsoap's SOAP engine beside DScribe, in the same run (run on demand).

    make benchmark                          # everything below, about 10 min on 2 cores
    .venv/bin/python benchmarks/bench_soap.py --images 200 --stream-images 5000   # quicker

Measures, each as spectra per second for both engines (the best of two passes each) and their ratio:
1. every pixel of the first ``--images`` MNIST test images at the paper's
   parameters (r_cut 63, n_max 7, l_max 10, sigma 3), both engines with n_jobs=2;
2. the first 20 parameter sets a search (seed 2025) draws from the paper's space (every pixel of
   ``--images-per-set`` images, n_jobs=1 each): the median ratio;
3. Experiment 3's noise levels (off-lattice points) at the paper's parameters;
4. every pixel of ``--stream-images`` MNIST images (train then test) through
   ``soap_spectra_stream`` into a mean-pooling consumer (our engine only).
Prints a table and writes it to ``benchmarks/results/soap-engine.txt`` with the machine named.
"""

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from pixelsoap import SoapParams, image_to_points, images_to_points, load_mnist, soap_spectra_batch
from pixelsoap.experiments.search.monte_carlo import usable_draws
from pixelsoap.soap.descriptor import soap_spectra_stream

PAPER = SoapParams(63, 7, 10, 3)
RESULTS = Path(__file__).resolve().parent / "results" / "soap-engine.txt"


def rate(point_sets, params, engine, n_jobs, passes=2):
    """Spectra per second over ``point_sets``: the best of ``passes`` timed passes, after one untimed call
    on the first set (kernel loading, thread start-up and first-touch costs are not what a long run
    pays, for either engine).  The best of two, for both engines alike: on this shared machine the
    first pass after a change of work ran up to 20% slow (Experiment 3's first noise level, 2026-12-06)."""
    soap_spectra_batch(point_sets[:1], params, n_jobs=n_jobs, chunk_size=25, progress=False, engine=engine)
    n = sum(len(p) for p in point_sets)
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        soap_spectra_batch(point_sets, params, n_jobs=n_jobs, chunk_size=25, progress=False, engine=engine)
        best = min(best, time.perf_counter() - start)
    return n / best


def machine() -> str:
    """CPU model, its microarchitecture as LLVM names it (what Numba and XLA compile for), cores, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import llvmlite.binding as llvm

        cpu += f" ({llvm.get_host_cpu_name()})"
    except (ImportError, AttributeError, RuntimeError):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--images-per-set", type=int, default=20)
    parser.add_argument("--noise-images", type=int, default=300)  # 100: runs of 0.3 s, too short
    parser.add_argument("--stream-images", type=int, default=70000)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    test_images, _ = load_mnist("test")
    lines = [f"# SOAP engines side by side ({time.strftime('%Y-%m-%d')}; {machine()})",
             "# written by benchmarks/bench_soap.py; rates in spectra per second", ""]

    def emit(text=""):
        print(text, flush=True)
        lines.append(text)

    sets = [image_to_points(im) for im in test_images[:args.images]]
    ours = rate(sets, PAPER, "pixelsoap", args.n_jobs)
    theirs = rate(sets, PAPER, "dscribe", args.n_jobs)
    emit(f"1. every pixel of {len(sets)} MNIST test images ({sum(map(len, sets)):,} spectra), paper parameters, "
         f"n_jobs={args.n_jobs}")
    emit(f"   pixelsoap {ours:,.0f}/s   DScribe {theirs:,.0f}/s   ratio {ours / theirs:.1f}x")

    small = sets[:args.images_per_set]
    ratios = []
    emit("")
    emit(f"2. 20 parameter sets from the search space, every pixel of {len(small)} images, n_jobs=1")
    emit("   r_cut n_max l_max sigma   pixelsoap/s   DScribe/s   ratio")
    for params in usable_draws(None, 2025, 20):
        a, b = rate(small, params, "pixelsoap", 1), rate(small, params, "dscribe", 1)
        ratios.append(a / b)
        emit(f"   {params.r_cut:5.0f} {params.n_max:5d} {params.l_max:5d} {params.sigma:5.0f}   {a:11,.0f}"
             f"   {b:9,.0f}   {a / b:5.1f}x")
    emit(f"   median ratio {statistics.median(ratios):.1f}x (min {min(ratios):.1f}x, max {max(ratios):.1f}x)")

    emit("")
    emit(f"3. Experiment 3's noise (off-lattice points), every pixel of {args.noise_images} images, paper parameters,"
         f" n_jobs={args.n_jobs}")
    for level in (0.1, 1.0, 3.9):
        noisy = images_to_points(test_images[:args.noise_images], level, np.random.default_rng(1))
        a, b = rate(noisy, PAPER, "pixelsoap", args.n_jobs), rate(noisy, PAPER, "dscribe", args.n_jobs)
        emit(f"   sigma_disturbance {level:3.1f}: pixelsoap {a:,.0f}/s   DScribe {b:,.0f}/s   ratio {a / b:.1f}x")

    if args.stream_images:
        train_images, _ = load_mnist("train")
        everything = np.concatenate([train_images, test_images])[:args.stream_images]
        pooled = np.zeros((len(everything), PAPER.size))
        start = time.perf_counter()
        count = 0
        for k, _, spectra in soap_spectra_stream((image_to_points(im) for im in everything), PAPER, dtype="float32",
                                                 n_jobs=args.n_jobs, total=len(everything), desc="stream"):
            pooled[k] += spectra.sum(axis=0)
            count += len(spectra)
        elapsed = time.perf_counter() - start
        emit("")
        emit(f"4. streaming: every pixel of {len(everything):,} MNIST images ({count:,} spectra) into a pooling "
             f"consumer, n_jobs={args.n_jobs}")
        emit(f"   {elapsed / 60:.1f} min ({count / elapsed:,.0f}/s), peak memory bounded by the chunks in flight")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
