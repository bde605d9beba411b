"""Where people move: boxes around person-shaped moving regions between a frame and one a few frames before it.

Broadcast cameras pan, so the earlier frame is first shifted onto the later one (phase correlation on grey frames
scaled to WIDTH pixels); what still differs, beyond what a sub-pixel misalignment of the texture explains, is
motion. Regions taller than wide and of a person's size are kept. Athletes in play move, so this finds players
of 20 px and more where detectors trained on close views find nobody, and costs about 5 ms a frame; still
frames, title cards and static graphics give nothing. Someone standing still is left to the full-frame pose pass.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

WIDTH = 640  # pixels: motion is measured on frames scaled to this width
THRESHOLD = 18.0  # grey levels a pixel must change by, beyond what the texture's misalignment explains
TEXTURE = 0.6  # how much of the local gradient a change may be without counting as motion
MIN_HEIGHT = 0.035  # fraction of the frame height: smaller moving things are as often logos and digits as people
MAX_HEIGHT = 0.7
MAX_MOVING = 0.25  # more of the frame than this moving: a cut, a zoom or a flash, not people
MIN_FILL = 0.2  # fraction of its box a region must cover
MAX_FILL = 0.9  # a region filling its box is a graphic switching, not a body moving
MIN_MATCH = 0.6  # correlation of the region with the earlier frame near it: a body moved, not text replaced


def grey(image: Image.Image) -> np.ndarray:
    """The image as float32 grey at WIDTH pixels wide (never upscaled), lightly blurred."""
    scale = min(1.0, WIDTH / image.width)
    pixels = np.asarray(image.convert("L") if image.mode not in ("L", "RGB") else image)
    if scale < 1:  # OpenCV's area average: 2 ms for a 1080p frame where PIL's filtered resize takes 20
        pixels = cv2.resize(
            pixels, (round(image.width * scale), round(image.height * scale)), interpolation=cv2.INTER_AREA
        )
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    return cv2.GaussianBlur(pixels.astype(np.float32), (3, 3), 0)


def moving_boxes(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(n, 4) boxes (x0, y0, x1, y1) of person-shaped moving regions in `after`, in the pixels of these grey
    frames (from `grey`), largest first."""
    if before.shape != after.shape:
        return np.zeros((0, 4))
    (dx, dy), _ = cv2.phaseCorrelate(before, after)
    shift = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
    height, width = after.shape
    aligned = cv2.warpAffine(before, shift, (width, height), borderMode=cv2.BORDER_REPLICATE)
    gradient = cv2.magnitude(cv2.Sobel(after, cv2.CV_32F, 1, 0), cv2.Sobel(after, cv2.CV_32F, 0, 1)) / 4
    moving: np.ndarray = (cv2.absdiff(after, aligned) > THRESHOLD + TEXTURE * gradient).astype(np.uint8)
    margin = int(np.ceil(max(abs(dx), abs(dy)))) + 1  # the edge the shift brought in has no earlier pixels
    moving[:, :margin] = moving[:, width - margin :] = 0
    moving[:margin] = moving[height - margin :] = 0
    if moving.mean() > MAX_MOVING:
        return np.zeros((0, 4))
    moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 9)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(moving)
    boxes = []
    for x, y, w, h, area in stats[1:]:
        if not MIN_HEIGHT * height <= h <= MAX_HEIGHT * height or w > 1.2 * h or h > 5 * w:
            continue
        if not MIN_FILL * w * h <= area <= MAX_FILL * w * h or _match(aligned, after, x, y, w, h) < MIN_MATCH:
            continue
        boxes.append((x, y, x + w, y + h))
    boxes.sort(key=lambda b: (b[3] - b[1]) * (b[2] - b[0]), reverse=True)
    return np.array(boxes, dtype=np.float64).reshape(-1, 4)


def _match(before: np.ndarray, after: np.ndarray, x: int, y: int, w: int, h: int) -> float:
    """How well the region of `after` is found in `before` within half its height of where it is (normalised
    cross-correlation, -1 to 1): a body that moved is found displaced, digits or graphics that changed are not."""
    patch = after[y : y + h, x : x + w]
    if patch.std() < 1:
        return -1.0
    r = max(6, h // 2)
    rows, cols = before.shape
    area = before[max(0, y - r) : min(rows, y + h + r), max(0, x - r) : min(cols, x + w + r)]
    return float(cv2.matchTemplate(area, patch, cv2.TM_CCOEFF_NORMED).max())
