"""Where caches go: this project's checkout, the per-user cache directory, or the environment's choice."""

import os
from pathlib import Path

import numpy as np
import pytest

from pixelsoap.runtime import paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No location variables set; the per-user cache directory under tmp_path (XDG_CACHE_HOME, as on Linux)."""
    for name in (paths.ROOT_ENV, paths.CACHE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache" / "pixelsoap"


def _foreign_project(tmp_path: Path) -> Path:
    """Another DVC project: a dvc.yaml, but no lib/pixelsoap beside it."""
    folder = tmp_path / "other-project"
    (folder / "sub").mkdir(parents=True)
    (folder / "dvc.yaml").write_text("stages: {}\n")
    return folder


def test_this_checkout_is_recognised_and_a_foreign_dvc_project_is_not(tmp_path):
    assert paths.is_checkout(ROOT)
    assert paths.checkout_root(ROOT / "lib" / "pixelsoap" / "soap") == ROOT
    assert not paths.is_checkout(_foreign_project(tmp_path))
    assert paths.checkout_root(tmp_path / "other-project" / "sub") is None


def test_inside_the_checkout_the_cache_stays_in_data_cache(clean_env, monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")
    assert paths.cache_dir() == ROOT / "data" / "cache"
    assert paths.mnist_cache_dir() == ROOT / "data" / "cache" / "mnist"
    assert paths.project_root() == ROOT


def test_under_a_foreign_dvc_project_the_cache_goes_to_the_user_cache_dir(clean_env, monkeypatch, tmp_path):
    folder = _foreign_project(tmp_path)
    monkeypatch.chdir(folder / "sub")
    assert paths.cache_dir() == clean_env
    assert paths.mnist_cache_dir() == clean_env / "mnist"
    assert not (folder / "data").exists()
    # figures and results: never that project's, and never guessed to be the installed checkout's (a pipeline
    # command run there would rewrite the checkout's results): an error naming the way to choose
    with pytest.raises(FileNotFoundError, match=r"not a pixelsoap checkout.*PIXELSOAP_ROOT="):
        paths.project_root()
    monkeypatch.chdir(tmp_path / "..")   # in no DVC project at all: the checkout holding the library
    assert paths.project_root() == ROOT


def test_the_environment_variable_wins_everywhere(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "mine"))
    for where in (ROOT, _foreign_project(tmp_path)):
        monkeypatch.chdir(where)
        assert paths.cache_dir() == tmp_path / "mine"


def test_an_explicit_root_keeps_its_own_cache(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path / "proj"))
    monkeypatch.chdir(tmp_path)
    assert paths.project_root() == tmp_path / "proj"
    assert paths.cache_dir() == tmp_path / "proj" / "data" / "cache"


def test_outside_any_checkout_the_output_folders_are_an_error_not_cwd(clean_env, monkeypatch, tmp_path):
    # the library as if installed from a wheel: no checkout around this file either
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "site-packages" / "pixelsoap" / "runtime" / "paths.py"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no pixelsoap checkout .*PIXELSOAP_ROOT"):
        paths.figures_dir()
    assert paths.cache_dir() == clean_env


def test_fetch_mnist_from_elsewhere_fills_only_the_user_cache(clean_env, monkeypatch, tmp_path):
    from pixelsoap.data.mnist import ENV_SOURCE_DIR, fetch_mnist, load_mnist

    source = Path(os.environ.get(ENV_SOURCE_DIR) or ROOT / "data" / "cache" / "mnist")
    if not (source / "t10k-images-idx3-ubyte").is_file():
        pytest.skip(f"no local MNIST copy in {source} to copy from (make test fetches one)")
    monkeypatch.delenv(ENV_SOURCE_DIR, raising=False)
    work = _foreign_project(tmp_path) / "sub"
    monkeypatch.chdir(work)
    assert fetch_mnist(source_dir=source) == clean_env / "mnist"
    images, labels = load_mnist("test")  # read back from the user cache
    assert images.shape == (10_000, 28, 28) and np.isin(labels, np.arange(10)).all()
    assert sorted(p.name for p in work.parent.iterdir()) == ["dvc.yaml", "sub"] and not any(work.iterdir())
    assert (clean_env / "mnist" / "t10k-images-idx3-ubyte").is_file()
