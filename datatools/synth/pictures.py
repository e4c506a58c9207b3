"""Procedural pictures for the synthetic episode generator (datatools/synth/): scenes (panned
gradient backgrounds with moving shapes), text sprites drawn with a real TrueType font (DejaVu Sans,
shipped with matplotlib) so OCR detectors find them, and the frame-index stamp used by tests.

Every frame is a pure function of time: a scene list and an overlay list on the episode's time
axis.  Text blocks are rendered once to an RGBA sprite (lazily, on first use) and then pasted or
scrolled, which keeps a 320x180 frame well under a millisecond.

    from datatools.synth.pictures import stamp_frame, decode_stamp
    img = stamp_frame(1234, 320, 180)            # uint8 (180, 320, 3): 4x4 black/white code
    decode_stamp(img, (320, 180)) == 1234       # also works on the 66x88 letterboxed copy

No command of its own; run the generator with ``python -m datatools.synth --help``.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

STAMP_GRID = 4          # 4x4 cells = 16 bits of frame index


def font_path(bold: bool = False) -> Path:
    """DejaVu Sans from matplotlib's data folder (found without importing matplotlib)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("matplotlib is not installed; the generator needs its DejaVuSans.ttf")
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / name


@lru_cache(maxsize=64)
def _font(size: int, bold: bool, path: str | None = None, index: int = 0):
    """A font at ``size``: ``path`` (face ``index`` of a collection), else DejaVu Sans (bold)."""
    from PIL import ImageFont
    return ImageFont.truetype(path or str(font_path(bold)), size, index=index)


@dataclass
class Sprite:
    rgb: np.ndarray                      # uint8 (h, w, 3)
    alpha: np.ndarray                    # uint16 (h, w, 1), 0..256
    boxes: list[tuple[int, int, int, int]]  # tight ink box of each text line, sprite coordinates

    @property
    def h(self) -> int:
        return self.rgb.shape[0]

    @property
    def w(self) -> int:
        return self.rgb.shape[1]


def text_sprite(lines: list[str], size: int, color: tuple[int, int, int], bold: bool = False,
                align: str = "center", spacing: float = 1.5, font: tuple[str, int] | None = None) -> Sprite:
    """Render lines of text (with a dark outline, so it stays legible on any background); ``font``:
    (file, face index) of the series' lettering (datatools/synth/lettering.py), else DejaVu Sans."""
    from PIL import Image, ImageDraw
    font = _font(max(6, int(size)), bold, *(font or (None, 0)))
    stroke = max(1, size // 14)
    widths = [int(font.getlength(s)) + 2 * stroke + 2 for s in lines]
    line_h = int(size * spacing)
    w, h = max(widths) + 4, line_h * len(lines) + size // 2
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    for i, s in enumerate(lines):
        x = {"center": (w - widths[i]) // 2, "left": 2, "right": w - widths[i] - 2}[align]
        draw.text((x + stroke, i * line_h + 2), s, font=font, fill=color + (255,), stroke_width=stroke,
                  stroke_fill=(10, 10, 10, 255))
    arr = np.asarray(img)
    alpha = arr[..., 3]
    boxes = []
    for i in range(len(lines)):
        band = alpha[i * line_h:min(h, (i + 1) * line_h + 2)] > 96
        ys, xs = np.nonzero(band)
        if ys.size:
            boxes.append(
                (int(xs.min()), int(ys.min()) + i * line_h, int(xs.max()) + 1, int(ys.max()) + 1 + i * line_h)
            )
    a = alpha.astype(np.uint16)[..., None]
    return Sprite(np.ascontiguousarray(arr[..., :3]), a + (a > 127), boxes)


def paste(frame: np.ndarray, sp: Sprite, x: int, y: int) -> list[list[int]]:
    """Alpha-blend ``sp`` with its top-left at (x, y); returns the text-line boxes that are at least
    half visible, clipped to the frame, in frame pixels."""
    H, W = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + sp.w), min(H, y + sp.h)
    if x0 >= x1 or y0 >= y1:
        return []
    region = frame[y0:y1, x0:x1]
    a = sp.alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    fg = sp.rgb[y0 - y:y1 - y, x0 - x:x1 - x]
    region[:] = ((region.astype(np.uint16) * (256 - a) + fg.astype(np.uint16) * a) >> 8).astype(np.uint8)
    out = []
    for bx0, by0, bx1, by1 in sp.boxes:
        cx0, cy0 = max(0, bx0 + x), max(0, by0 + y)
        cx1, cy1 = min(W, bx1 + x), min(H, by1 + y)
        if cx1 > cx0 and cy1 > cy0 and (cx1 - cx0) * (cy1 - cy0) >= 0.5 * (bx1 - bx0) * (by1 - by0):
            out.append([cx0, cy0, cx1, cy1])
    return out


@dataclass
class Overlay:
    """Text shown in [start, end) moving linearly from p0 to p1 (pixel top-left corners).
    ``make`` builds the sprite on first use (most overlays of a long episode are never shown)."""
    start: float
    end: float
    make: object                       # callable () -> Sprite
    p0: tuple[float, float]            # fractions of (W - w, H - h) if ``relative`` else pixels
    p1: tuple[float, float]
    kind: str = "text"
    relative: bool = True
    _sprite: Sprite | None = field(default=None, repr=False)

    def sprite(self) -> Sprite:
        if self._sprite is None:
            self._sprite = self.make()
        return self._sprite

    def draw(self, frame: np.ndarray, t: float) -> list[list[int]]:
        sp = self.sprite()
        H, W = frame.shape[:2]
        u = (t - self.start) / max(1e-6, self.end - self.start)
        px = self.p0[0] + (self.p1[0] - self.p0[0]) * u
        py = self.p0[1] + (self.p1[1] - self.p0[1]) * u
        if self.kind == "scroll":      # enters at the bottom edge, leaves at the top edge
            px, py = px * (W - sp.w), H - u * (H + sp.h)
        elif self.kind == "crawl":     # enters at the right edge, leaves at the left edge
            px, py = W - u * (W + sp.w), py * (H - sp.h)
        elif self.relative:
            px, py = px * (W - sp.w), py * (H - sp.h)
        return paste(frame, sp, int(round(px)), int(round(py)))


@dataclass
class Shape:
    mask: np.ndarray          # bool (h, w)
    color: np.ndarray         # uint8 (3,)
    pos: tuple[float, float]  # position at the scene start, fractions of the frame
    vel: tuple[float, float]  # frames per second, fractions of the frame (wraps around)


@dataclass
class Scene:
    """A shot: a gradient texture larger than the frame, panned from one corner offset to another,
    with shapes crossing it.  ``style`` is 'body', 'op', 'ed', 'card' or 'black' (both difficulties)
    or, realistic only, 'closeup' (one big slow shape: a face), 'action' (fast shapes, wide pans),
    'montage', 'still' (no pan, no motion).  ``zoom`` > 0 zooms in by that factor over the shot."""
    start: float
    end: float
    seed: int
    style: str
    zoom: float = 0.0
    material: tuple[str, str] | None = None   # (material folder, split): real images instead of shapes
    _cache: dict = field(default_factory=dict, repr=False)

    def _build(self, W: int, H: int):
        if self.material is not None:
            return self._build_material(W, H)
        rng = np.random.default_rng(self.seed)
        bright = {"op": (90, 255), "ed": (20, 150), "card": (5, 40), "action": (70, 255),
                  "montage": (60, 240)}.get(self.style, (40, 220))
        c0, c1 = (rng.integers(*bright, size=3) for _ in range(2))
        margin = {"op": 0.5, "ed": 0.15, "closeup": 0.06, "action": 0.5, "montage": 0.3,
                  "still": 0.0}.get(self.style, 0.25) if self.style != "card" else 0.0
        th, tw = int(H * (1 + margin)) + 1, int(W * (1 + margin)) + 1
        ang = rng.uniform(0, 2 * np.pi)
        g = (np.cos(ang) * np.arange(tw, dtype=np.float32)[None, :] / tw
             + np.sin(ang) * np.arange(th, dtype=np.float32)[:, None] / th)
        g = (g - g.min()) / max(1e-6, float(np.ptp(g)))
        tex = (c0[None, None, :] * (1 - g[..., None]) + c1[None, None, :] * g[..., None]).astype(np.uint8)
        if self.style != "card":     # static scenery: a few flat blocks ("buildings", "furniture")
            for _ in range(int(rng.integers(2, 6))):
                bw, bh = int(rng.uniform(0.1, 0.4) * tw), int(rng.uniform(0.1, 0.5) * th)
                bx, by = int(rng.integers(0, tw - bw)), int(rng.integers(0, th - bh))
                tex[by:by + bh, bx:bx + bw] = rng.integers(*bright, size=3)
        n_shapes = {"op": (3, 7), "ed": (1, 3), "card": (0, 1), "closeup": (1, 2), "action": (3, 7),
                    "still": (1, 4)}.get(self.style, (1, 4))
        speed = {"op": 0.8, "ed": 0.05, "closeup": 0.01, "action": 0.9, "montage": 0.3,
                 "still": 0.0}.get(self.style, 0.12)
        size = {"closeup": (0.3, 0.45)}.get(self.style, (0.05, 0.18))
        shapes = []
        for _ in range(int(rng.integers(*n_shapes))):
            r = max(3, int(rng.uniform(*size) * H))
            yy2, xx2 = np.mgrid[-r:r + 1, -r:r + 1]
            kind = rng.integers(3)
            mask = (xx2 ** 2 + yy2 ** 2 <= r * r) if kind == 0 else \
                (np.abs(xx2) + np.abs(yy2) <= r) if kind == 1 else np.ones_like(xx2, bool)
            shapes.append(Shape(mask, rng.integers(0, 256, size=3).astype(np.uint8),
                                (float(rng.random()), float(rng.random())),
                                (float(rng.uniform(-speed, speed)), float(rng.uniform(-speed, speed)) * 0.5)))
        corners = rng.random(4)
        return tex, shapes, corners, 0

    def _build_material(self, W: int, H: int):
        """The same shot from real material (datatools/synth/material_media.py): a real background
        panned like the texture, real cut-outs moving like the shapes, sometimes letterbox bars."""
        import datatools.synth.material_media as mm
        rng = np.random.default_rng([self.seed, 7])
        margin = {"op": 0.5, "ed": 0.15, "closeup": 0.06, "action": 0.5, "montage": 0.3, "still": 0.0,
                  "card": 0.0}.get(self.style, 0.25)
        th, tw = int(H * (1 + margin)) + 1, int(W * (1 + margin)) + 1
        tex = mm.background_texture(self.material, self.seed, self.style, tw, th)
        n_sprites = {"op": (1, 4), "ed": (0, 2), "card": (0, 1), "closeup": (1, 2), "action": (1, 4),
                     "still": (0, 3)}.get(self.style, (0, 3))
        speed = {"op": 0.6, "ed": 0.04, "closeup": 0.01, "action": 0.7, "montage": 0.25,
                 "still": 0.0}.get(self.style, 0.1)
        size = {"closeup": (0.6, 0.95)}.get(self.style, (0.2, 0.55))
        sprites = []
        for _ in range(int(rng.integers(*n_sprites))):
            seed = int(rng.integers(2**31))   # drawn before the height, as always
            img = mm.sprite_image(self.material, seed, max(8, int(rng.uniform(*size) * H)))
            if img is not None:
                sp = Sprite(*img, [])
                sprites.append((sp, (float(rng.random()), float(rng.uniform(0.3, 0.9))),
                                (float(rng.uniform(-speed, speed)), float(rng.uniform(-speed, speed)) * 0.3)))
        bars_p = 0.2 if self.style in ("op", "ed") else 0.05
        bars = int(H * rng.uniform(0.08, 0.13)) if rng.random() < bars_p else 0
        return tex, sprites, rng.random(4), bars

    def draw(self, frame: np.ndarray, t: float) -> None:
        H, W = frame.shape[:2]
        key = (W, H)
        if key not in self._cache:
            self._cache.clear()
            self._cache[key] = self._build(W, H)
        tex, shapes, (ax, ay, bx, by), bars = self._cache[key]
        u = (t - self.start) / max(1e-6, self.end - self.start)
        mx, my = tex.shape[1] - W, tex.shape[0] - H
        ox, oy = int((ax + (bx - ax) * u) * mx), int((ay + (by - ay) * u) * my)
        frame[:] = tex[oy:oy + H, ox:ox + W]
        dt = t - self.start
        for s in shapes:
            if isinstance(s, Shape):
                h, w = s.mask.shape
                cx = int(((s.pos[0] + s.vel[0] * dt) % 1.0) * W) - w // 2
                cy = int(((s.pos[1] + s.vel[1] * dt) % 1.0) * H) - h // 2
                x0, y0, x1, y1 = max(0, cx), max(0, cy), min(W, cx + w), min(H, cy + h)
                if x0 < x1 and y0 < y1:
                    frame[y0:y1, x0:x1][s.mask[y0 - cy:y1 - cy, x0 - cx:x1 - cx]] = s.color
            else:   # a real cut-out: (Sprite, position, velocity), its centre wrapping like a shape's
                sp, pos, vel = s
                cx = int(((pos[0] + vel[0] * dt) % 1.0) * W) - sp.w // 2
                cy = int(pos[1] * H + vel[1] * dt * H) - sp.h // 2
                paste(frame, sp, cx, cy)
        if self.zoom > 0:               # crop the centre, scale it back up
            import cv2
            z = 1.0 + self.zoom * u
            cw, ch = max(2, int(W / z)), max(2, int(H / z))
            x0, y0 = (W - cw) // 2, (H - ch) // 2
            frame[:] = cv2.resize(frame[y0:y0 + ch, x0:x0 + cw], (W, H), interpolation=cv2.INTER_LINEAR)
        if bars:                        # a letterboxed (cinemascope) shot
            frame[:bars] = 0
            frame[H - bars:] = 0


def stamp_frame(n: int, width: int, height: int) -> np.ndarray:
    """A frame that encodes ``n`` (0 <= n < 65536) as a 4x4 grid of black/white cells over the whole
    picture, most significant bit top-left, row by row.  Big flat cells survive H.264 and a
    downscale to 88x66 intact."""
    if not 0 <= n < 2 ** (STAMP_GRID * STAMP_GRID):
        raise ValueError(f"stamp index {n} does not fit in {STAMP_GRID * STAMP_GRID} bits")
    bits = [(n >> (15 - i)) & 1 for i in range(16)]
    grid = np.array(bits, np.uint8).reshape(STAMP_GRID, STAMP_GRID) * 255
    ys = np.arange(height) * STAMP_GRID // height
    xs = np.arange(width) * STAMP_GRID // width
    return np.repeat(grid[ys][:, xs][..., None], 3, axis=2)


def decode_stamp(img_rgb: np.ndarray, src_size: tuple[int, int] | None = None) -> int:
    """Read the frame index from a stamped frame, full size or resized and letterboxed.

    ``src_size`` is the (width, height) of the source video; the picture area inside ``img_rgb``
    is then found with the same letterbox geometry as preprocessing (datatools.spec), and each cell
    is read from its central half, so a pixel of rounding or blur does not matter.  Without
    ``src_size`` the whole image is taken as the picture."""
    img = np.asarray(img_rgb)
    h, w = img.shape[:2]
    if src_size is None:
        ox, oy, pw, ph = 0, 0, w, h
    else:
        from datatools.spec import letterbox_geometry
        geo = letterbox_geometry(int(src_size[0]), int(src_size[1]), w, h)
        ox, oy, pw, ph = geo.ox, geo.oy, geo.new_w, geo.new_h
    grey = img.astype(np.float32).mean(axis=2) if img.ndim == 3 else img.astype(np.float32)
    n = 0
    for r in range(STAMP_GRID):
        for c in range(STAMP_GRID):
            y0 = oy + int(ph * (r + 0.25) / STAMP_GRID)
            y1 = max(y0 + 1, oy + int(ph * (r + 0.75) / STAMP_GRID))
            x0 = ox + int(pw * (c + 0.25) / STAMP_GRID)
            x1 = max(x0 + 1, ox + int(pw * (c + 0.75) / STAMP_GRID))
            n = (n << 1) | int(grey[y0:y1, x0:x1].mean() > 127.5)
    return n
