"""Benchmark: SOAP spectra per second on MNIST at the paper's parameters (run on demand).

    make benchmark            # or: .venv/bin/python benchmarks/bench_soap.py --samples 20000

Prints the rate of sampled spectra (Algorithm 3: one DScribe call per image,
only at its sampled centers) for 1 and all worker processes, and of
all-points spectra (Algorithm 2) for one image.  Writes nothing.
"""

import argparse
import time

import numpy as np

from pixelsoap import SoapParams, image_to_points, load_mnist, sample_spectra, soap_spectra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10000)
    args = parser.parse_args()
    params = SoapParams(63, 7, 10, 3)
    images, labels = load_mnist("train")
    points = image_to_points(images[0])
    start = time.perf_counter()
    soap_spectra(points, params)
    elapsed = time.perf_counter() - start
    print(f"all {len(points)} points of one image: {elapsed * 1e3:.1f} ms ({len(points) / elapsed:.0f} spectra/s)")
    for n_jobs in (1, -1):
        start = time.perf_counter()
        sample_spectra(images, labels, params, args.samples, rng=0, n_jobs=n_jobs, progress=False)
        elapsed = time.perf_counter() - start
        print(f"{args.samples} sampled spectra, n_jobs={n_jobs}: {elapsed:.1f} s "
              f"({args.samples / elapsed:.0f} spectra/s)")


if __name__ == "__main__":
    main()
