"""The plumbing every other layer stands on; it imports nothing else of the project.

- :mod:`.extras`: optional dependencies (:func:`require`): a missing one is named with its extra and install
  command
- :mod:`.paths`: where things live (the project root, caches, results, figures)
- :mod:`.io`: atomic writes (JSON, bytes, ``.npz``), so an interrupted run never leaves half a file
- :mod:`.provenance`: the digest of the library code that jobs run, and the one set of hashing helpers
- :mod:`.validation`: the one set of number checks (:func:`is_int`, :func:`is_real`, :func:`is_finite_number`)
- :mod:`.dask`: the Dask client, the per-worker thread limits and the submit loop (:func:`run_each`)
- :mod:`.cache`: job caches (:class:`ResultCache`, :func:`digest`), unreadable files set aside
- :mod:`.progress`: the library's one ``tqdm`` (plain text in the pipeline's kernels), the filter that
  shows a kernel's progress bars on the terminal, and a stage's log (``results/logs/<stage>.log``)
- :mod:`.interrupt`: the interrupt flag of ``make reproduce`` (:func:`exit_if_interrupted`)
- :mod:`.profiles`, :mod:`.profile_schema`, :mod:`.profile_fields`: the run profiles (``params/*.yaml``)
  and their schema; every stage reads its parameters through them (not re-exported here: they load pydantic)
"""

from pixelsoap.runtime import paths
from pixelsoap.runtime.cache import UNREADABLE, ResultCache, digest, set_aside
from pixelsoap.runtime.dask import configure_jax_threads, dask_client, import_jax, import_keras, on_worker, run_each
from pixelsoap.runtime.interrupt import INTERRUPTED_EXIT, exit_if_interrupted, interrupt_flag
from pixelsoap.runtime.io import atomic_path, save_npz, write_bytes, write_json
from pixelsoap.runtime.provenance import code_digest, file_digest, json_digest, sha256_hex
from pixelsoap.runtime.validation import is_finite_number, is_int, is_real

__all__ = [
    "INTERRUPTED_EXIT", "UNREADABLE", "ResultCache", "atomic_path", "code_digest", "configure_jax_threads",
    "dask_client", "digest", "exit_if_interrupted", "file_digest", "import_jax", "import_keras", "interrupt_flag",
    "is_finite_number", "is_int", "is_real", "json_digest", "on_worker", "paths", "run_each", "save_npz", "set_aside",
    "sha256_hex", "write_bytes", "write_json",
]
