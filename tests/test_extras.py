"""The light library: optional packages are named with their extra and install command when missing."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pixelsoap.runtime.extras import EXTRAS, install_hint, require, require_installed

ROOT = Path(__file__).resolve().parents[1]
#: what `import pixelsoap` and a soap_spectra call must not load (the extras' packages; not yaml: numba
#: itself imports it, when installed, to read a .numba_config.yaml)
HEAVY = ("tensorflow", "keras", "jax", "matplotlib", "seaborn", "pandas", "sklearn", "dscribe", "ase", "pydantic",
         "optuna", "distributed", "joblib")


def _block(monkeypatch, *names):
    """Make ``import name`` fail as if the package were not installed (None in sys.modules)."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_require_returns_the_module():
    import json as json_module

    assert require("json", extra="ml") is json_module
    assert require("os.path", extra="ml") is sys.modules["os.path"]


def test_require_names_the_extra_and_the_command(monkeypatch):
    _block(monkeypatch, "keras")
    with pytest.raises(ImportError, match=r'keras is needed.*\'ml\' extra.*pip install "pixelsoap\[ml\]"') as info:
        require("keras", extra="ml")
    assert not isinstance(info.value, ModuleNotFoundError) and info.value.name == "keras"


def test_require_names_the_missing_dependency_of_a_dotted_module(monkeypatch):
    _block(monkeypatch, "sklearn.preprocessing")
    with pytest.raises(ImportError, match=r"sklearn\.preprocessing.*pixelsoap\[sklearn\]"):
        require("sklearn.preprocessing", extra="sklearn")


def test_an_unknown_extra_is_refused_by_name():
    with pytest.raises(ValueError, match="extra must be one of .*got 'mll'"):
        install_hint("mll")
    assert install_hint("plots") == 'pip install "pixelsoap[plots]"'
    assert {"ml", "plots", "pipeline", "dscribe", "gpu"} <= set(EXTRAS)


def test_require_installed_lists_every_missing_package(monkeypatch):
    _block(monkeypatch, "matplotlib", "seaborn")
    message = r'matplotlib, seaborn are needed for figures.*pip install "pixelsoap\[plots\]"'
    with pytest.raises(ImportError, match=message):
        require_installed("numpy", "matplotlib", "seaborn", extra="plots", purpose="figures")
    require_installed("numpy", "json", extra="plots")  # present: no error


def test_every_extra_named_in_the_code_exists_in_pyproject():
    import tomllib

    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS) <= set(optional)
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {dep.split(">")[0].split("=")[0].split("<")[0] for dep in base}
    assert names.isdisjoint({"tensorflow", "keras", "jax", "matplotlib", "pandas", "scikit-learn", "dscribe",
                             "pydantic", "seaborn", "dvc"})


def test_build_classifier_without_keras_names_the_ml_extra(monkeypatch):
    from pixelsoap.models import build_classifier

    _block(monkeypatch, "keras")
    with pytest.raises(ImportError, match=r'pip install "pixelsoap\[ml\]"'):
        build_classifier(10)


def test_dscribe_engine_without_ase_names_the_dscribe_extra(monkeypatch):
    from pixelsoap import SoapParams, soap_spectra

    _block(monkeypatch, "ase")
    with pytest.raises(ImportError, match=r'pip install "pixelsoap\[dscribe\]"'):
        soap_spectra(np.zeros((2, 3)) + [[0, 0, 0], [1, 0, 0]], SoapParams(5, 2, 1, 1.0), engine="dscribe")


@pytest.mark.parametrize(("package", "blocked", "extra"), [
    ("pixelsoap.plots", "matplotlib", "plots"),
    ("pixelsoap.experiments", "optuna", "ml"),
    ("pixelsoap.pipeline", "papermill", "pipeline"),
])
def test_a_heavy_subpackage_names_its_extra_on_import(monkeypatch, package, blocked, extra):
    _block(monkeypatch, blocked)
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=rf'{blocked}.*pip install "pixelsoap\[{extra}\]"'):
        __import__(package)


@pytest.mark.slow  # a fresh interpreter loads numba and compiles or loads the SOAP kernels (several seconds)
def test_import_and_soap_spectra_load_no_extra():
    code = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import pixelsoap
        from pixelsoap import soap
        points = pixelsoap.image_to_points(np.eye(6) * 200)
        params = pixelsoap.SoapParams(r_cut=5, n_max=2, l_max=1, sigma=1.0)
        spectra = pixelsoap.soap_spectra(points, params)
        batch = pixelsoap.soap_spectra_batch([points], params, progress=False)
        assert spectra.shape == batch[0].shape and np.isfinite(spectra).all()
        print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
