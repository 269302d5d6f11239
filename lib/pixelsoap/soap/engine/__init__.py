"""pixelsoap's own SOAP engine (what ``SoapParams(engine="pixelsoap")`` runs).

- :mod:`.engine`: the engine's entry points (prepared point sets, memory estimates, constants)
- :mod:`.kernels`: the Numba kernels, and the cached kernels dropped when the vector code changes
- :mod:`.vector_kernels`: the contraction of the power spectrum as LLVM vector code
- :mod:`.harmonics`: the solid harmonics as LLVM vector code
- :mod:`.llvm`: helpers to write LLVM IR with explicit vectors

Its public face is :func:`pixelsoap.soap.soap_spectra`; nothing is re-exported here, so that
importing the package compiles nothing.
"""
