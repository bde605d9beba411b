"""Synthetic videos whose content is known frame by frame, for tests and smoke tests.

Every frame shows, top to bottom: a band of black/white blocks encoding its frame index in binary
(robust to H.264 compression and downscaling; read back with :func:`read_index`), the index and time as
text for humans, and a background colour that can change at given times (read back with
:func:`read_color`). Optionally a big number is shown in the centre during a time span, so a test can ask
"what number is shown?". Events for spotting tests can be injected at known times: short white flashes of the
background, a square sliding into the frame, and loud beeps on the soundtrack.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

INDEX_BITS = 16  # frame indices up to 65535
BAND = 0.2  # height of the index band, as a fraction of the frame height
DEFAULT_COLOR = (128, 128, 128)
WHITE = (255, 255, 255)
FLASH_SECONDS = 0.2  # how long a flash whitens the background
SLIDE_SECONDS = 0.5  # how long an object takes to slide from outside the left edge to the centre
BEEP_SECONDS = 0.2

RGB = tuple[int, int, int]


def frame_image(
    index: int,
    time: float,
    size: tuple[int, int],
    color: RGB = DEFAULT_COLOR,
    number: int | str | None = None,
    slide: float | None = None,
) -> Image.Image:
    """Draw one synthetic frame: index blocks, index/time text, background colour, and optionally a white square
    `slide` of the way from just outside the left edge (0) to the centre (1) and a number."""
    width, height = size
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    band = round(height * BAND)
    for bit in range(INDEX_BITS):
        on = (index >> (INDEX_BITS - 1 - bit)) & 1
        x0, x1 = round(bit * width / INDEX_BITS), round((bit + 1) * width / INDEX_BITS)
        draw.rectangle((x0, 0, x1 - 1, band - 1), fill=(255, 255, 255) if on else (0, 0, 0))
    small = ImageFont.load_default(size=max(10, height // 16))
    draw.text(
        (4, band + 4),
        f"#{index}  t={time:.3f}s",
        fill=(255, 255, 255),
        font=small,
        stroke_width=1,
        stroke_fill=(0, 0, 0),
    )
    centre_y = band + (height - band) / 2
    if slide is not None:
        half = height * 0.15
        x = -half + slide * (width / 2 + half)
        draw.rectangle((x - half, centre_y - half, x + half, centre_y + half), fill=WHITE)
    if number is not None:
        big = ImageFont.load_default(size=height // 3)
        centre = (width / 2, centre_y)
        draw.text(
            centre, str(number), fill=(255, 255, 255), font=big, anchor="mm", stroke_width=3, stroke_fill=(0, 0, 0)
        )
    return image


def read_index(image: Image.Image) -> int:
    """Decode the frame index drawn by :func:`frame_image` from a frame, possibly downscaled.

    Raises ValueError when the image carries no index band (e.g. a real video frame).
    """
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    height, width = grey.shape
    band = height * BAND
    y0, y1 = round(band * 0.3), max(round(band * 0.7), round(band * 0.3) + 1)
    index = 0
    for bit in range(INDEX_BITS):
        x0 = round((bit + 0.3) * width / INDEX_BITS)
        x1 = max(round((bit + 0.7) * width / INDEX_BITS), x0 + 1)
        level = float(grey[y0:y1, x0:x1].mean())
        if 64 < level < 192:
            raise ValueError(f"no frame index in this image (block {bit} has grey level {level:.0f})")
        index = (index << 1) | (level >= 192)
    return index


def read_color(image: Image.Image) -> RGB:
    """The background colour of a synthetic frame (median of a patch in the bottom-left corner)."""
    pixels = np.asarray(image.convert("RGB"))
    height, width, _ = pixels.shape
    patch = pixels[round(height * 0.88) : round(height * 0.97), round(width * 0.02) : round(width * 0.12)]
    red, green, blue = (int(v) for v in np.median(patch.reshape(-1, 3), axis=0))
    return red, green, blue


def color_at(time: float, colors: Sequence[tuple[float, RGB]] | None) -> RGB:
    """Background colour at `time`: the colour of the last change at or before it (grey before any)."""
    current = DEFAULT_COLOR
    for start, color in sorted(colors or [], key=lambda change: change[0]):
        if start <= time:
            current = color
    return current


def slide_at(time: float, objects: Sequence[float] | None) -> float | None:
    """How far the latest object to enter at or before `time` has slid in (0 to 1), or None before any."""
    entered = [start for start in objects or [] if start <= time]
    return min(1.0, (time - max(entered)) / SLIDE_SECONDS) if entered else None


def make_video(
    path: str | os.PathLike,
    duration: float = 10.0,
    fps: float = 10.0,
    size: tuple[int, int] = (320, 240),
    codec: str = "libx264",
    gop: int | None = None,
    audio: bool = False,
    rotation: int = 0,
    colors: Sequence[tuple[float, RGB]] | None = None,
    show_number: tuple[int | str, float, float] | None = None,
    faststart: bool = False,
    texture: bool = False,
    flashes: Sequence[float] = (),
    objects: Sequence[float] = (),
    beeps: Sequence[float] = (),
) -> Path:
    """Write a synthetic video of round(duration * fps) frames; frame i is shown at time i / fps.

    gop: keyframe interval in frames (None keeps the encoder default, 250 for libx264).
    audio: add a quiet 440 Hz AAC track. rotation: display rotation written to the container, in degrees
    counter-clockwise as ffprobe reports it; frames are stored unrotated.
    colors: background colour changes as (start time, RGB), e.g. [(3.0, (255, 0, 0))] turns red at 3 s.
    show_number: (value, start, end) shows `value` in big digits for start <= t < end.
    faststart: put the index (moov atom) at the start of an MP4, as web videos do.
    texture: scroll fine noise over the background so decoding costs about as much as real footage
    (for benchmarks; read_index and read_color still work).
    flashes: times at which the background turns white for FLASH_SECONDS.
    objects: times at which a white square enters from the left, reaching the centre SLIDE_SECONDS later and
    staying there. beeps: times of loud 1 kHz beeps of BEEP_SECONDS on the audio track (they imply audio).
    """
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=rate)
        if not isinstance(stream, av.video.stream.VideoStream):
            raise ValueError(f"{codec!r} is not a video codec")
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        sound = _add_audio(container) if audio or beeps else None
        for index in range(round(duration * fps)):
            time = float(index / rate)
            number = None
            if show_number is not None and show_number[1] <= time < show_number[2]:
                number = show_number[0]
            flash = any(start <= time < start + FLASH_SECONDS for start in flashes)
            color = WHITE if flash else color_at(time, colors)
            image = frame_image(index, time, size, color, number, slide_at(time, objects))
            if texture:
                image = _add_texture(image, index)
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if sound is not None:
            _write_tone(container, sound, duration, beeps)
    return path


@cache
def _noise(height: int, width: int, amplitude: int) -> np.ndarray:
    return np.random.default_rng(0).integers(-amplitude, amplitude + 1, (height, width), dtype=np.int16)


def _add_texture(image: Image.Image, index: int, amplitude: int = 16, step: tuple[int, int] = (3, 2)) -> Image.Image:
    """Add fixed noise, shifted by `step` pixels per frame, to the frame below the index band."""
    pixels = np.asarray(image, dtype=np.int16).copy()
    height, width, _ = pixels.shape
    band = round(height * BAND)
    shifted = np.roll(_noise(height, width, amplitude), (index * step[1], index * step[0]), axis=(0, 1))[band:, :, None]
    pixels[band:] += shifted
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_audio_only(path: str | os.PathLike, duration: float = 2.0) -> Path:
    """Write a file holding only an AAC audio track (no video stream)."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        _write_tone(container, _add_audio(container), duration)
    return path


def make_empty_video(path: str | os.PathLike, size: tuple[int, int] = (320, 240)) -> Path:
    """Write an AVI file with a video stream that holds no frames (MP4 drops empty streams)."""
    path = Path(path)
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        container.start_encoding()
    return path


def _add_audio(container: av.container.OutputContainer) -> av.audio.stream.AudioStream:
    return container.add_stream("aac", rate=16000, layout="mono")


def _write_tone(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    duration: float,
    beeps: Sequence[float] = (),
) -> None:
    """Encode a quiet 440 Hz tone of `duration` seconds into `stream`, with loud 1 kHz beeps at `beeps`."""
    rate, chunk = stream.rate, 1024
    t = np.arange(round(duration * rate)) / rate
    samples = 0.05 * np.sin(2 * np.pi * 440 * t)
    for start in beeps:
        during = (start <= t) & (t < start + BEEP_SECONDS)
        samples[during] = 0.9 * np.sin(2 * np.pi * 1000 * t[during])
    samples = samples.astype(np.float32)
    for start in range(0, len(samples), chunk):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + chunk], format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
