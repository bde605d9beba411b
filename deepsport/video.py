"""Video access: the one place frames are read.

A :class:`Video` opens a file once per episode, validates it with PyAV, indexes the presentation timestamp of
every frame, and returns the real frame nearest to any requested time, scaled to a pixel budget and rotated
for display. The decoder stays open between calls and decodes forward from its current position, seeking to
a keyframe only when the next frame needed is behind it, or when the keyframe before that frame lies more than
SEEK_AHEAD frames ahead; only the frames asked for are converted, and they stay in an LRU cache, so repeating
a request costs almost nothing.

With ``readahead`` > 0 (the agent's tools use it), the time between calls is not wasted: after answering a
request for a window, a background thread converts the frames that come after it (``readahead`` seconds) and
then every frame inside it, so the usual next requests (the adjacent window, a closer look at the same window)
are served from memory. A new request stops the read-ahead at its next frame.

PyAV decodes by default: on the benchmarks (benchmarks/bench_video_window.py) it is as fast as decord or
faster, and it stays frame-exact in MPEG-TS and AVI files where decord returns wrong frames. decord (the
decord2 fork) is available as ``backend="decord"`` for MP4/MOV and Matroska/WebM files.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

BACKENDS = ("auto", "decord", "pyav")
MAX_PIXELS = 640 * 360  # frame size budget: what the model sees everywhere unless the agent's max_pixels says otherwise
_TRANSPOSE = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
# A seek flushes the decoder and restarts its threads, which costs about as much as decoding a few dozen frames
# (720p H.264 on 2 cores): reading forward across a keyframe closer than this decodes on instead.
SEEK_AHEAD = 32
_FIX = "re-encode it (e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4) or download it again"


class VideoError(Exception):
    """One-line, user-facing message saying what is wrong with a video and what to do."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration: float  # seconds, from the first frame's start to the last frame's end
    fps: float
    num_frames: int
    width: int  # display size, after rotation
    height: int
    rotation: int  # counter-clockwise display rotation from the container: 0, 90, 180 or 270
    codec: str


@dataclass(frozen=True)
class Frame:
    time: float  # the real frame's timestamp in seconds from video start (not the requested time)
    index: int  # internal frame index
    image: Image.Image  # RGB, within the pixel budget, rotation applied; shared with the cache: copy to edit


@dataclass(frozen=True)
class _Index:
    """Presentation timestamps of all frames (in display order) and which frames are keyframes."""

    pts: np.ndarray  # int64, stream time base, sorted
    keyframes: np.ndarray  # int64 frame indices, sorted, starts with 0


class Video:
    """An open video file; see the module docstring.

    max_pixels: frames are scaled down (never up) so width * height <= max_pixels, keeping the aspect ratio.
    cache_size: how many converted frames to keep. backend: "auto" (currently PyAV), "pyav" or "decord".
    readahead: seconds to convert in the background after each window (PyAV only; 0 turns it off).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        max_pixels: int = MAX_PIXELS,
        cache_size: int = 256,
        backend: str = "auto",
        readahead: float = 0.0,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        path = Path(path)
        self._cache: OrderedDict[int, Image.Image] = OrderedDict()
        self._cache_size = cache_size
        self.num_decoded = 0  # frames converted for requests (cache misses)
        self.num_read_ahead = 0  # frames converted in the background
        self._lock = threading.Lock()  # the decoder and the cache
        self._request = 0  # counts requests; a read-ahead stops when it is no longer the latest one's
        self._readahead = readahead
        self._worker: ThreadPoolExecutor | None = None
        # seconds before a request whose frames, when the decoder passes them on its way, are converted and kept:
        # set while several episodes share the video (deepsport.video_pool), whose windows start near each other
        self.keep_before = 0.0
        container = _open(path, threads=backend != "decord")
        try:
            stream = container.streams.video[0]
            index, rotation = _scan(container, stream, path)
            base = stream.time_base
            if base is None:  # demuxers always set one; without it the timestamps mean nothing
                raise VideoError(f"Corrupt video: {path} has no time base for its timestamps; {_FIX}")
            self._times = (index.pts - index.pts[0]) * base.numerator / base.denominator
            self.info = _info(str(path), stream, self._times, rotation)
            size = _scaled_size(self.info.width, self.info.height, max_pixels)  # display size
            self.size = size  # (width, height) of the frames it returns
            self._decoder: _Decoder
            if backend == "decord":
                self._decoder = _DecordDecoder(path, container.format.name, len(self._times), size)
                container.close()
            else:
                self._decoder = _PyAVDecoder(container, index, size, rotation)
                if readahead > 0:
                    self._worker = ThreadPoolExecutor(1, thread_name_prefix="video-readahead")
        except BaseException:
            container.close()
            raise

    @property
    def backend(self) -> str:
        """The decoder in use: "decord" or "pyav"."""
        return self._decoder.name

    def frame_times(self) -> np.ndarray:
        """Timestamp in seconds of every frame, in display order."""
        return self._times.copy()

    def frames_at(self, times: Sequence[float] | np.ndarray) -> list[Frame]:
        """The real frame nearest to each time (clamped to the video), without duplicates, ordered by time."""
        wanted = np.asarray(times, dtype=np.float64)
        if not np.all(np.isfinite(wanted)):
            raise ValueError(f"frame times must be finite numbers, got {list(times)}")
        indices = sorted({self._nearest(t) for t in np.clip(wanted, 0.0, self.info.duration)})
        self._request += 1  # a running read-ahead stops at its next frame
        with self._lock:
            missing = [i for i in indices if i not in self._cache]
            if missing:
                first = missing[0] - round(self.keep_before * self.info.fps) if self.keep_before else missing[0]
                passed = self._cache.__setitem__ if self.keep_before else None
                self._cache.update(zip(missing, self._decoder.read(missing, passed, first), strict=True))
                self.num_decoded += len(missing)
            frames = [Frame(float(self._times[i]), i, self._cache[i]) for i in indices]
            for i in indices:
                self._cache.move_to_end(i)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if self._worker and indices and indices[-1] - indices[0] <= self._cache_size // 2:
            # What comes next first (the decoder is already there), then the rest of the window; no more than
            # fits in the cache beside the frames just returned, so the read-ahead never evicts those.
            end = min(len(self._times), indices[-1] + 1 + round(self._readahead * self.info.fps))
            todo = [*range(indices[-1] + 1, end), *range(indices[0] + 1, indices[-1])]
            self._worker.submit(self._read_ahead, todo[: self._cache_size - len(indices)], self._request)
        return frames

    def window(self, start: float, end: float, num_frames: int) -> list[Frame]:
        """`num_frames` frames spread evenly over [start, end], both ends included (one frame: the midpoint)."""
        if num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {num_frames}")
        if num_frames == 1:
            return self.frames_at([(start + end) / 2])
        return self.frames_at(np.linspace(start, end, num_frames).tolist())

    def uniform(self, num_frames: int) -> list[Frame]:
        """`num_frames` frames over the whole video, at the centres of equal segments."""
        if num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {num_frames}")
        step = self.info.duration / num_frames
        return self.frames_at([(k + 0.5) * step for k in range(num_frames)])

    def cached_bytes(self) -> int:
        """Memory held by the converted frames in the cache (RGB, 3 bytes a pixel)."""
        with self._lock:
            return sum(image.width * image.height * 3 for image in self._cache.values())

    def close(self) -> None:
        """Stop the read-ahead, release the decoder and the cached frames."""
        self._request += 1
        if self._worker:
            self._worker.shutdown(wait=True, cancel_futures=True)
        self._decoder.close()
        self._cache.clear()

    def __enter__(self) -> Video:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_ahead(self, todo: list[int], request: int) -> None:
        """Convert the frames in `todo` while `request` is the latest; frames already converted are skipped."""
        for i in todo:
            with self._lock:
                if request != self._request:
                    return
                if i in self._cache:
                    continue
                try:
                    self._cache[i] = self._decoder.read([i])[0]
                except VideoError:
                    return  # the next request that needs this frame reports it
                self.num_read_ahead += 1
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)

    def _nearest(self, time: float) -> int:
        i = int(np.searchsorted(self._times, time))
        if i == len(self._times):
            return i - 1
        if i > 0 and time - self._times[i - 1] <= self._times[i] - time:
            return i - 1
        return i


Keep = Callable[[int, Image.Image], None]


class _Decoder(Protocol):
    """Reads frames by index, scaled and rotated for display; indices come sorted and unique."""

    name: str

    def read(self, indices: list[int], passed: Keep | None = None, keep_from: int = 0) -> list[Image.Image]:
        """The frames at `indices`; with `passed`, also hands it each frame from `keep_from` on that the decoder
        goes through on its way (converted), for the caller to keep."""
        ...

    def close(self) -> None: ...


class _PyAVDecoder:
    """Decodes with PyAV, seeking only when the next frame needed is behind, or when the keyframe before it lies
    more than SEEK_AHEAD frames ahead.

    Frames are counted from the frame a seek lands on (found by its timestamp): counting stays right where
    decoded timestamps do not (AVI with B-frames stores them in decode order)."""

    name = "pyav"

    def __init__(
        self, container: av.container.InputContainer, index: _Index, size: tuple[int, int], rotation: int
    ) -> None:
        self._container, self._index, self._rotation = container, index, rotation
        self._stream = container.streams.video[0]
        self._size = size[::-1] if rotation in (90, 270) else size  # decoded frames are not rotated yet
        self._reformatter = VideoReformatter()
        self._frame_of_pts = {int(p): i for i, p in enumerate(index.pts)}
        self._frames: Iterator[av.VideoFrame] | None = None
        self._position = -1  # index of the last frame decoded

    def read(self, indices: list[int], passed: Keep | None = None, keep_from: int = 0) -> list[Image.Image]:
        return [self._read_one(i, passed, keep_from) for i in indices]

    def close(self) -> None:
        self._frames = None
        self._container.close()

    def _read_one(self, target: int, passed: Keep | None, keep_from: int) -> Image.Image:
        keyframe = self._keyframe_before(target)
        if self._frames is None or target <= self._position or keyframe > self._position + SEEK_AHEAD:
            self._seek(keyframe, target)
        while True:
            frame = self._next_frame()
            if frame is None:
                self._frames = None  # seek again on the next call
                raise VideoError(f"Corrupt video: {self._container.name} ends before frame {target}; {_FIX}")
            self._position += 1
            if self._position >= target:  # (past it only when the first frames do not decode)
                return self._convert(frame)
            if passed is not None and self._position >= keep_from:
                passed(self._position, self._convert(frame))

    def _seek(self, keyframe: int, target: int) -> None:
        """Seek so that decoding resumes at or before `target`. Some demuxers (MPEG-TS) land a keyframe late:
        then step back a keyframe at a time, down to the start of the file."""
        while True:
            if keyframe == 0:
                self._container.seek(0)
            else:
                self._container.seek(int(self._index.pts[keyframe]), stream=self._stream, backward=True)
            self._frames = self._container.decode(self._stream)
            first = self._next_frame()
            if first is not None:
                landed = keyframe if first.pts is None else self._frame_of_pts.get(first.pts, keyframe)
                if landed <= target or keyframe == 0:
                    self._frames = itertools.chain([first], self._frames)
                    self._position = landed - 1
                    return
            if keyframe == 0:
                raise VideoError(f"Corrupt video: {self._container.name} has no decodable frames; {_FIX}")
            keyframe = self._keyframe_before(keyframe - 1)

    def _convert(self, frame: av.VideoFrame) -> Image.Image:
        width, height = self._size
        rgb = self._reformatter.reformat(frame, width=width, height=height, format="rgb24", interpolation="AREA")
        image = rgb.to_image()
        return image.transpose(_TRANSPOSE[self._rotation]) if self._rotation else image

    def _keyframe_before(self, target: int) -> int:
        keyframes = self._index.keyframes
        return int(keyframes[np.searchsorted(keyframes, target, side="right") - 1])

    def _next_frame(self) -> av.VideoFrame | None:
        assert self._frames is not None
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except av.error.FFmpegError as err:
            self._frames = None  # seek again on the next call
            raise VideoError(f"Corrupt video: {self._container.name} cannot be decoded ({err}); {_FIX}") from None


class _DecordDecoder:
    """Decodes with decord, which rotates and scales in the decoder and skips forward inside a GOP."""

    name = "decord"
    formats = {"mov", "mp4", "matroska", "webm"}  # where its timestamp-based frame index is right

    def __init__(self, path: Path, container_format: str, num_frames: int, size: tuple[int, int]) -> None:
        import decord

        if not self.formats & set(container_format.split(",")):
            raise VideoError(
                f"decord returns wrong frames from {container_format} files like {path}; use backend='pyav'"
            )
        decord.logging.set_level(decord.logging.QUIET)
        self._path, self._errors = path, (RuntimeError, decord.DECORDError)
        try:
            self._reader = decord.VideoReader(str(path), width=size[0], height=size[1])
        except self._errors as err:
            raise self._failed(err) from None
        if len(self._reader) != num_frames:
            raise VideoError(
                f"decord counts {len(self._reader)} frames in {path}, not {num_frames}; use backend='pyav'"
            )

    def read(self, indices: list[int], passed: Keep | None = None, keep_from: int = 0) -> list[Image.Image]:
        # decord seeks inside a GOP itself: it passes no frames on its way
        try:
            batch = self._reader.get_batch(indices).asnumpy()
        except self._errors as err:
            raise self._failed(err) from None
        return [Image.fromarray(image) for image in batch]

    def close(self) -> None:
        self._reader = None

    def _failed(self, err: Exception) -> VideoError:
        lines = re.sub(r"\[[\d:]+\] \S+:\d+: ", "", str(err)).strip().splitlines()  # drop log prefixes
        return VideoError(
            f"decord cannot read {self._path} ({lines[0] if lines else type(err).__name__}); use backend='pyav'"
        )


def _open(path: Path, threads: bool) -> av.container.InputContainer:
    """Open `path` with PyAV, turning every failure into a VideoError that says what to do.

    threads: decode with frame and slice threads (only settable before the first decode)."""
    if not path.exists():
        raise VideoError(f"Video not found: {path}; check the path")
    if not path.is_file():
        raise VideoError(f"Not a file: {path} is a directory; pass a video file")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        with path.open("rb") as file:
            head = file.read(12)
        if head[4:8] == b"ftyp":
            raise VideoError(
                f"Truncated or corrupt video: {path} looks like an MP4 but its index (moov atom) is missing, "
                f"so the file is probably incomplete; {_FIX}"
            ) from None
        raise VideoError(
            f"Not a video: {path} cannot be read as a video ({err.strerror}); pass a video file "
            "such as .mp4, .mkv, .mov or .webm"
        ) from None
    except OSError as err:
        raise VideoError(f"Cannot read video {path}: {err.strerror}; check the file's permissions") from None
    if not container.streams.video:
        kinds: list[str] = sorted({s.type for s in container.streams}) or ["no"]
        container.close()
        raise VideoError(f"No video stream: {path} holds only {', '.join(kinds)} streams; pass a file with video")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise VideoError(f"Unsupported codec: {path} uses a video codec ffmpeg cannot decode; {_FIX}")
    if threads:
        stream.thread_type = "AUTO"
    return container


def _scan(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path
) -> tuple[_Index, int]:
    """Demux every packet for the frame timestamps and keyframes, decoding only until the first frame, which
    proves the stream decodes and carries the display rotation. Returns the index and the rotation."""
    packets: list[tuple[int, bool]] = []
    first: av.VideoFrame | None = None
    try:
        for packet in container.demux(stream):
            timestamp = packet.pts if packet.pts is not None else packet.dts
            if packet.size and timestamp is not None:
                packets.append((timestamp, packet.is_keyframe))
            if first is None:
                first = next(iter(stream.codec_context.decode(packet)), None)
    except av.error.FFmpegError as err:
        raise VideoError(f"Corrupt video: {path} cannot be read ({err}); {_FIX}") from None
    if not packets:
        raise VideoError(f"Empty video: {path} has a video stream but no frames; export the video again")
    if stream.frames and len(packets) < stream.frames:
        raise VideoError(
            f"Truncated video: {path} holds {len(packets)} of the {stream.frames} frames its header lists; {_FIX}"
        )
    if first is None:
        raise VideoError(f"Corrupt video: {path} has frames but none decodes; {_FIX}")
    packets.sort()
    pts = np.array([p for p, _ in packets], dtype=np.int64)
    keyframes = np.array([0] + [i for i, (_, key) in enumerate(packets) if key and i > 0], dtype=np.int64)
    return _Index(pts, keyframes), round((first.rotation or 0) / 90) * 90 % 360


def _info(path: str, stream: av.video.stream.VideoStream, times: np.ndarray, rotation: int) -> VideoInfo:
    rate = stream.average_rate or stream.guessed_rate
    if rate:
        fps = float(rate)
    elif len(times) > 1:
        fps = (len(times) - 1) / float(times[-1])
    else:
        raise VideoError(f"Zero-length video: {path} has one frame and no frame rate; export the video again")
    width, height = stream.codec_context.width, stream.codec_context.height
    if rotation in (90, 270):
        width, height = height, width
    codec = stream.codec_context.name
    return VideoInfo(path, float(times[-1]) + 1 / fps, fps, len(times), width, height, rotation, codec)


def _scaled_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest size within `max_pixels` with the aspect ratio of width x height, never upscaled."""
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    return max(1, int(width * scale)), max(1, int(height * scale))


def scan_frames(
    path: str | os.PathLike, fps: float, max_pixels: int, skip_nonref: bool = False
) -> Iterator[tuple[float, np.ndarray]]:
    """One forward pass over a whole video for analysis: about `fps` frames a second (every frame of slower
    videos), each as (seconds from the first frame, RGB array within `max_pixels`, not rotated).

    No index is built and nothing is cached, and the decoder skips its deblocking filter (invisible at analysis
    sizes), so this costs about what decoding does, or less. skip_nonref: do not decode the frames no other frame
    refers to (most B-frames), which saves a share of the decoding when `fps` is well below the video's rate.
    Raises VideoError when the video cannot be opened or stops decoding."""
    container = _open(Path(path), threads=True)
    try:
        stream = container.streams.video[0]
        context = stream.codec_context
        context.options = {**context.options, "skip_loop_filter": "all"}
        if skip_nonref:
            context.skip_frame = "NONREF"
        base = stream.time_base
        if base is None:
            raise VideoError(f"Corrupt video: {path} has no time base for its timestamps; {_FIX}")
        width, height = _scaled_size(context.width, context.height, max_pixels)
        reformatter = VideoReformatter()
        step, origin, due = 1.0 / fps, stream.start_time, 0.0
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            if origin is None:
                origin = frame.pts
            time = float((frame.pts - origin) * base)
            if time < due - step / 4:  # the frame nearest each due time, give or take a quarter step
                continue
            small = reformatter.reformat(frame, width=width, height=height, format="rgb24", interpolation="AREA")
            yield time, small.to_ndarray()
            due = (math.floor(time / step + 0.25) + 1) * step
    except av.error.FFmpegError as err:
        raise VideoError(f"Corrupt video: {path} cannot be decoded ({err}); {_FIX}") from None
    finally:
        container.close()
