"""A long, broadcast-like video joined from short clips with ffmpeg, for spotting tests and benchmarks.

Each part is one clip scaled and padded to one frame size and rate, then its last frame held still and silent for
a quiet stretch; the parts are joined back to back (hard cuts), and the list of parts can be played more than
once (the later passes stand in for replays). :func:`join_clips` returns where every part starts, so labels on
the clips map onto the joined video.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av


@dataclass(frozen=True)
class Part:
    clip: str  # file name of the clip
    start: float  # seconds into the joined video where the clip's first frame is shown
    duration: float  # the clip's own length in seconds
    quiet: float  # seconds of still, silent frames after it

    @property
    def end(self) -> float:
        """Where the next part starts."""
        return self.start + self.duration + self.quiet


def join_clips(
    clips: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    quiet: float = 20.0,
    passes: int = 1,
    size: tuple[int, int] = (1280, 720),
    fps: int = 30,
    preset: str = "veryfast",
) -> list[Part]:
    """Write the clips, each followed by `quiet` still seconds, `passes` times over, to `out` (H.264 + AAC), and
    return its parts in order. Clips without sound get silence. Raises subprocess.CalledProcessError when ffmpeg
    fails."""
    width, height = size
    inputs: list[str] = []
    chains: list[str] = []
    parts: list[Part] = []
    start = 0.0
    for k, clip in enumerate(list(clips) * passes):
        path = Path(clip)
        duration = _duration(path)
        frames = round(duration * fps)
        inputs += ["-i", str(path)]
        video = (
            f"[{k}:v:0]fps={fps},scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p,trim=end_frame={frames},"
            f"tpad=stop_mode=clone:stop_duration={quiet},setpts=PTS-STARTPTS[v{k}]"
        )
        total = frames / fps + quiet
        if _has_audio(path):
            audio = f"[{k}:a:0]aresample=44100,aformat=channel_layouts=stereo,atrim=end={frames / fps},"
        else:
            audio = f"anullsrc=r=44100:cl=stereo,atrim=end={frames / fps},"
        audio += f"apad=whole_dur={total},asetpts=PTS-STARTPTS[a{k}]"
        chains += [video, audio]
        parts.append(Part(path.name, round(start, 6), frames / fps, quiet))
        start += total
    streams = "".join(f"[v{k}][a{k}]" for k in range(len(parts)))
    graph = ";".join([*chains, f"{streams}concat=n={len(parts)}:v=1:a=1[v][a]"])
    command = ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]"]
    command += ["-c:v", "libx264", "-preset", preset, "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"]
    subprocess.run([*command, str(out)], check=True, capture_output=True)
    return parts


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / av.time_base


def _has_audio(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)
