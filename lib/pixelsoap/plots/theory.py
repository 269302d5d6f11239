"""Figures of the SOAP formulation (Sec. 3.1): Figs. 2a, 2b, 3, 4, 5 and 6.

Every function returns a matplotlib Figure and writes nothing (save it with
:func:`pixelsoap.plots.save_figure`).  Parameters are keyword arguments whose
defaults are the paper's values where the paper gives them; ``grid`` sets the
resolution (pixels per side of a cross-section, or samples of a curve).

Choices the paper leaves open (documented per function): the basis size used
for Phi_053 and the radial functions (n_max = 7, l_max = 10, the paper's best
Experiment-1 values, with r_cut = 10 as printed for Figs. 3 and 4), the window
of each cross-section, and the image, points and r_cut of Fig. 2a.  The
reference point r_o of Figs. 2b-6 is the origin; cross-sections are planes
z = const in that frame.
"""

from __future__ import annotations

# Importing this module runs pixelsoap/plots/__init__.py first, which selects
# the headless Agg backend (unless MPLBACKEND says otherwise); nothing here
# calls plt.show().
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Circle

from pixelsoap.soap.theory import density, gto_radial, spatial_basis, spherical_harmonic

__all__ = [
    "fig02a_neighbourhoods",
    "fig02b_density",
    "fig03_spatial_basis",
    "fig04_radial_basis",
    "fig05_spherical_harmonic",
    "fig06_integrand",
]

FIG2B_POINTS = ((0.0, 0.0, 1.0), (1.0, 1.0, 1.0))


def _plane(extent, grid: int, z: float):
    """Cartesian grid of the plane z = const: X, Y (grid, grid) and xyz (grid, grid, 3)."""
    x0, x1, y0, y1 = extent
    xs = np.linspace(x0, x1, int(grid))
    ys = np.linspace(y0, y1, int(grid))
    X, Y = np.meshgrid(xs, ys, indexing="xy")  # rows follow y, columns follow x
    xyz = np.stack([X, Y, np.full_like(X, float(z))], axis=-1)
    return X, Y, xyz


def _extent(half_width=None, window=None):
    if window is not None:
        x0, x1, y0, y1 = (float(v) for v in window)
        return x0, x1, y0, y1
    h = float(half_width)
    return -h, h, -h, h


def _image(ax, values, extent, cmap, norm, label, fig):
    im = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, norm=norm,
                   interpolation="nearest", aspect="equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.colorbar(im, ax=ax, shrink=0.85, label=label)
    return im


def _complex_pair(values, extent, titles, quantity, suptitle):
    """Real and imaginary parts side by side, diverging colours centred on 0."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, part, title in zip(axes, (values.real, values.imag), titles):
        vmax = float(np.abs(part).max()) or 1.0
        _image(ax, part, extent, "RdBu_r", Normalize(-vmax, vmax), quantity, fig)
        ax.set_title(title)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- Fig. 2a
def _default_image(size: int) -> np.ndarray:
    """A small synthetic digit-like stroke (a '7') on a size x size canvas, grey 0..255."""
    img = np.zeros((size, size))
    top = max(1, size // 5)
    img[top, top:size - top] = 230
    for i in range(top + 1, size - 1):
        j = int(round(size - top - 1 - (i - top) * (size - 2 * top - 1) / max(1, size - top - 2)))
        img[i, max(0, min(size - 1, j))] = 200
        if j - 1 >= 0:
            img[i, j - 1] = 120
    return img


def fig02a_neighbourhoods(*, image: np.ndarray | None = None, p_oa=(4.0, 4.0), p_ob=(6.0, 2.0),
                          r_cut: float = 2.5, grid: int = 10):
    """Fig. 2a: a 10 x 10 image, two reference pixels P_oa, P_ob and their r_cut neighbourhoods.

    Parameters
    ----------
    image : array (grid, grid) or None
        Grey levels 0..255; default a synthetic '7' (the paper does not give its image).
    p_oa, p_ob : (x, y)
        The two reference pixels as (column, row), as in Algorithm 1.  Not given in
        the paper; defaults are two ink pixels whose neighbourhoods overlap.
    r_cut : float
        Radius of the circles (pixels); the paper's figure gives no value.
    grid : int
        Image size when ``image`` is None (the paper's 10).

    Points (pixels with grey level >= 10) inside each circle are marked: only
    they shape that SOAP spectrum; blank pixels are no points at all.
    """
    img = _default_image(int(grid)) if image is None else np.asarray(image, dtype=float)
    rows, cols = img.shape
    fig, ax = plt.subplots(figsize=(6.2, 5.6))
    im = ax.imshow(img, cmap="gray_r", vmin=0, vmax=255, origin="upper",
                   extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
    fig.colorbar(im, ax=ax, shrink=0.85, label="grey level I")
    jj, ii = np.meshgrid(np.arange(cols), np.arange(rows))
    for p, name, colour in ((p_oa, r"$\mathbf{P}_{o_a}$", "tab:red"), (p_ob, r"$\mathbf{P}_{o_b}$", "tab:blue")):
        px, py = float(p[0]), float(p[1])
        inside = ((jj - px) ** 2 + (ii - py) ** 2 <= r_cut**2) & (np.floor(img / 10) > 0)
        ax.scatter(jj[inside], ii[inside], s=18, facecolors="none", edgecolors=colour, linewidths=0.8)
        ax.add_patch(Circle((px, py), r_cut, fill=False, color=colour, lw=2))
        ax.plot(px, py, marker="*", ms=16, color=colour, mec="k")
        ax.annotate(name, (px, py), xytext=(6, 6), textcoords="offset points", color=colour,
                    fontsize=13, weight="bold")
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xlabel("x = column j (pixels)")
    ax.set_ylabel("y = row i (pixels)")
    ax.set_title(f"Two reference pixels and their neighbourhoods ($r_{{cut}}$ = {r_cut:g})")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- Fig. 2b
def fig02b_density(*, points=FIG2B_POINTS, sigma: float = 0.5, z: float = 1.0,
                   window=(-1.5, 2.5, -1.5, 2.5), grid: int = 301):
    """Fig. 2b: the density of Eq. 1 in the plane z = ``z``.

    Defaults are the paper's: P1 = (0, 0, 1), P2 = (1, 1, 1), sigma_p = 0.5, and
    the plane z = 1 through both points.  ``window`` = (x0, x1, y0, y1).
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    extent = _extent(window=window)
    _, _, xyz = _plane(extent, grid, z)
    rho = density(xyz, pts, sigma)
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    _image(ax, rho, extent, "viridis", None, r"$\rho_o$", fig)
    ax.scatter(pts[:, 0], pts[:, 1], c="w", marker="+", s=60)
    for i, p in enumerate(pts, start=1):
        ax.annotate(f"$P_{i}$", (p[0], p[1]), xytext=(5, 5), textcoords="offset points", color="w")
    ax.set_title(rf"Density $\rho_o$ at z = {z:g} ($\sigma_p$ = {sigma:g})")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- Fig. 3
def fig03_spatial_basis(*, n: int = 0, l: int = 5, m: int = 3, r_cut: float = 10.0, n_max: int = 7,
                        l_max: int = 10, z: float = 1.0, half_width: float = 3.0, grid: int = 301):
    """Fig. 3: real and imaginary parts of Phi_nlm = g_nl Y_lm (Eq. 2) in the plane z = ``z``.

    Paper: Phi_053 (0-based n = 0), r_cut = 10, z = 1.0.  n_max = 7 and l_max = 10
    are our choice (the paper's best values; g_nl depends on n_max through the
    Loewdin orthonormalisation).  The window is [-half_width, half_width]^2.
    """
    extent = _extent(half_width)
    _, _, xyz = _plane(extent, grid, z)
    phi = spatial_basis(xyz, n, l, m, r_cut, n_max, l_max)
    name = rf"\Phi_{{{n}{l}{m}}}"
    return _complex_pair(phi, extent, (rf"Re ${name}$ at z = {z:g}", rf"Im ${name}$ at z = {z:g}"),
                         rf"${name}$",
                         rf"Spatial basis function ${name}$ ($r_{{cut}}$ = {r_cut:g}, "
                         rf"$n_{{max}}$ = {n_max}, $l_{{max}}$ = {l_max})")


# ---------------------------------------------------------------- Fig. 4
def fig04_radial_basis(*, r_cut: float = 10.0, n_max: int = 7, l_max: int = 10, l_values=(0, 1, 2, 5),
                       r_max: float | None = None, grid: int = 600):
    """Fig. 4: the orthonormal GTO radial functions g_nl(r) (Eq. A2, Algorithm A1).

    One panel per l in ``l_values`` (each <= l_max), one curve per n; r from 0 to
    ``r_max`` (default 1.3 r_cut), the dashed line marks r_cut.  Paper: r_cut = 10;
    n_max = 7, l_max = 10 are our choice.
    """
    l_values = [int(v) for v in l_values]
    if any(v < 0 or v > l_max for v in l_values):
        raise ValueError(f"l_values {l_values} must lie in 0..l_max={l_max}")
    r_max = 1.3 * float(r_cut) if r_max is None else float(r_max)
    r = np.linspace(0.0, r_max, int(grid))
    g = gto_radial(r, r_cut, n_max, l_max)
    ncols = min(2, len(l_values))
    nrows = int(np.ceil(len(l_values) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.6 * ncols, 3.8 * nrows), squeeze=False)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, n_max))
    for ax, l in zip(axes.flat, l_values):
        for n in range(n_max):
            ax.plot(r, g[l, n], color=colours[n], lw=1.5, label=f"n = {n}")
        ax.axvline(r_cut, color="k", ls="--", lw=1)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_title(f"l = {l}")
        ax.set_xlabel("r")
        ax.set_ylabel(r"$g_{nl}(r)$")
    for ax in list(axes.flat)[len(l_values):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, ncol=2)
    fig.suptitle(rf"GTO radial basis functions ($r_{{cut}}$ = {r_cut:g}, $n_{{max}}$ = {n_max})")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- Fig. 5
def fig05_spherical_harmonic(*, l: int = 5, m: int = 3, z: float = 1.0, half_width: float = 5.0,
                             grid: int = 301):
    """Fig. 5: real and imaginary parts of Y_lm (Eq. A1) in the plane z = ``z``.

    Paper: Y_53 at z = 1.0.  Y depends on the direction only (Eq. 3), so the
    pattern is the angular structure seen through the plane.
    """
    extent = _extent(half_width)
    _, _, xyz = _plane(extent, grid, z)
    y = spherical_harmonic(l, m, xyz)
    name = rf"Y_{{{l}{m}}}"
    return _complex_pair(y, extent, (rf"Re ${name}$ at z = {z:g}", rf"Im ${name}$ at z = {z:g}"),
                         rf"${name}$", rf"Spherical harmonic ${name}$")


# ---------------------------------------------------------------- Fig. 6
def fig06_integrand(*, points=FIG2B_POINTS, sigma: float = 0.5, n: int = 0, l: int = 5, m: int = 3,
                    r_cut: float = 10.0, n_max: int = 7, l_max: int = 10, z: float = 1.0,
                    window=(-1.5, 2.5, -1.5, 2.5), grid: int = 301):
    """Fig. 6: the integrand rho_o Phi_nlm of Eq. 4 in the plane z = ``z``.

    Paper: the density of Fig. 2b (P1 = (0,0,1), P2 = (1,1,1), sigma_p = 0.5) times
    Phi_053 (r_cut = 10), at z = 1.0.  n_max = 7, l_max = 10 are our choice.
    """
    extent = _extent(window=window)
    _, _, xyz = _plane(extent, grid, z)
    values = density(xyz, np.asarray(points, dtype=float).reshape(-1, 3), sigma) \
        * spatial_basis(xyz, n, l, m, r_cut, n_max, l_max)
    name = rf"\rho_o \Phi_{{{n}{l}{m}}}"
    return _complex_pair(values, extent, (rf"Re ${name}$ at z = {z:g}", rf"Im ${name}$ at z = {z:g}"),
                         rf"${name}$",
                         rf"Integrand ${name}$ ($\sigma_p$ = {sigma:g}, $r_{{cut}}$ = {r_cut:g})")
