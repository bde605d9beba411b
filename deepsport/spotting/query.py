"""Open-vocabulary spotting: rank spotted moments by how well their frame matches words ("a jump smash").

An image-text embedding model (a CLIP or SigLIP checkpoint, loaded by name through transformers like the VLM) scores
the frame at each candidate moment against the query; the score is fused with the moment's own score, and the
time stays the spotter's, so an answer sits on the moment (a contact, a cut) rather than on a look-alike frame
nearby.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from PIL import Image

from deepsport.spotting.events import Event
from deepsport.video import Video

MATCH_WEIGHT = 0.6  # share of the fused score that comes from the image-text match
FRAME_PIXELS = 224 * 224  # frames are read at this budget; the processor resizes them to the model's size


class QueryError(Exception):
    """One-line, user-facing message: the image-text model cannot be loaded or run."""


class TextMatcher:
    """An image-text embedding model (CLIP/SigLIP family) loaded by name or path with transformers."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModel, AutoProcessor

        try:
            self.model = AutoModel.from_pretrained(name).to(device).eval()
            self.processor = AutoProcessor.from_pretrained(name)
        except (OSError, ValueError, KeyError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise QueryError(
                f"cannot load the image-text model {name!r} ({first}); give a CLIP or SigLIP checkpoint "
                "(a local folder or a model id you have downloaded)"
            ) from None
        if not hasattr(self.model, "get_image_features") or not hasattr(self.model, "get_text_features"):
            raise QueryError(f"{name!r} is not an image-text embedding model (CLIP or SigLIP family)")
        self.name, self.device, self._torch = name, device, torch
        self._padding = "max_length" if "siglip" in self.model.config.model_type else True

    def similarities(self, images: list[Image.Image], text: str) -> np.ndarray:
        """Cosine similarity of each image with the text."""
        torch = self._torch
        inputs = self.processor(text=[text], images=images, return_tensors="pt", padding=self._padding)
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        with torch.inference_mode():
            image = _features(self.model.get_image_features(pixel_values=inputs["pixel_values"]))
            words = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            text_features = _features(self.model.get_text_features(**words))
        image = image / image.norm(dim=-1, keepdim=True)
        text_features = text_features / text_features.norm(dim=-1, keepdim=True)
        return (image @ text_features.T).squeeze(-1).float().cpu().numpy()


@functools.cache
def load_matcher(name: str) -> TextMatcher:
    """The matcher for a model name, loaded once per process (every episode's tool shares it)."""
    return TextMatcher(name)


def rank(events: list[Event], video: Video, query: str, matcher: TextMatcher | None) -> list[Event]:
    """The events best first for `query`: by the fused score (MATCH_WEIGHT x the frame's match, rescaled to 0..1
    among the events, plus the rest x the event's own score) with a matcher, else by their own score. Times stay."""
    if matcher is None or not events:
        return sorted(events, key=lambda e: -e.score)
    frames = video.frames_at([e.time for e in events])
    by_time = {f.time: f.image for f in frames}
    nearest = [frames[int(np.argmin([abs(f.time - e.time) for f in frames]))].time for e in events]
    match = matcher.similarities([by_time[t] for t in nearest], query)
    spread = float(match.max() - match.min())
    scaled = (match - match.min()) / spread if spread > 0 else np.full(len(events), 0.5)
    fused = [
        Event(e.label, e.time, float(MATCH_WEIGHT * s + (1 - MATCH_WEIGHT) * e.score))
        for e, s in zip(events, scaled, strict=True)
    ]
    return sorted(fused, key=lambda e: -e.score)


def _features(output: Any) -> Any:
    """Embeddings (a tensor) from get_*_features, which newer transformers may wrap in an output object."""
    pooled = getattr(output, "pooler_output", None)
    return pooled if pooled is not None else output
