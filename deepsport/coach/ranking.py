"""Ranking a library's segments for a described mistake and an attempt's movement.

Text: BM25 (``bm25s``, English stemming with PyStemmer, stop words out) over each segment's narration, skill and
sport, offline; when the library has embeddings (``library add --embeddings-url``) and the endpoint answers, also
the cosine similarity of ``/v1/embeddings`` vectors. Motion: subsequence DTW of the attempt's pose signature
against the segments' (``deepsport.coach.signature``). The lists are fused by reciprocal rank (RRF, k = 60): a
segment's score is the sum of 1 / (60 + rank) over the lists it is in. A sport, when given, restricts every list.

The BM25 index is saved in the library (``index/``) and rebuilt when the segments changed. DTW runs against at
most POSE_POOL clips. When the sport has more, two bounds narrow it: ENVELOPE_POOL clips whose angle ranges the
attempt stays closest to (how far each attempt frame's angles lie outside the clip's per-joint range), then the
POSE_POOL nearest by a coarse cost (both curves at COARSE frames; each attempt frame's cost to its closest clip
frame, averaged: a path free to visit the clip's frames in any order). Neither exceeds DTW at its resolution.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepsport.coach.library import Library, LibraryError, Segment, Signature
from deepsport.coach.signature import (
    Deviation,
    compare,
    deviation,
    envelope,
    envelope_costs,
    local_costs,
    mirrored,
    stack,
)

RRF_K = 60
LIST_DEPTH = 100  # entries of each ranked list that take part in the fusion
POSE_POOL = 128
ENVELOPE_POOL = 1024
COARSE = 8
SIGNALS = ("text", "pose")
logging.getLogger("bm25s").setLevel(logging.ERROR)


class EmbeddingError(Exception):
    """The embedding endpoint failed; the message is one line."""


class Embedder:
    """Vectors from an OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM serving an embedding model, ...)."""

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout: float = 30.0) -> None:
        from deepsport.backends.openai_backend import openai_client

        self.base_url, self.model = base_url, model
        self.client = openai_client(base_url, api_key_env, timeout=timeout, max_retries=2)

    def embed(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """(len(texts), dim) unit vectors. Raises EmbeddingError."""
        import openai

        vectors: list[list[float]] = []
        for first in range(0, len(texts), batch):
            try:
                reply = self.client.embeddings.create(model=self.model, input=texts[first : first + batch])
            except openai.OpenAIError as err:
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise EmbeddingError(f"embedding endpoint {self.base_url}: {reason}") from None
            vectors += [item.embedding for item in sorted(reply.data, key=lambda item: item.index)]
        array = np.asarray(vectors, dtype=np.float32)
        return array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)


def add_embeddings(library: Library, embedder: Embedder) -> int:
    """Embed the library's segments that have no vector yet; returns how many. Raises EmbeddingError."""
    segments = library.segments()
    path, settings = library.path / "embeddings.npy", library.embedding_settings()
    if settings and settings["model"] != embedder.model:
        raise EmbeddingError(f"the library's vectors are from {settings['model']}, not {embedder.model}")
    have = np.load(path) if path.exists() and settings else np.zeros((0, 0), dtype=np.float32)
    todo = [_document(s) for s in segments[len(have) :]]
    if not todo:
        return 0
    new = embedder.embed(todo)
    vectors = new if len(have) == 0 else np.concatenate([have, new])
    np.save(path, vectors)
    meta = {"model": embedder.model, "base_url": embedder.base_url, "count": len(vectors)}
    (library.path / "embeddings.json").write_text(json.dumps(meta))
    return len(new)


@dataclass
class Match:
    """One ranked segment and why it is there."""

    segment: Segment
    score: float  # fused reciprocal-rank score
    text_score: float | None = None  # BM25
    terms: tuple[str, ...] = ()  # the query's words found in the narration
    similarity: float | None = None  # embedding cosine
    pose_distance: float | None = None  # DTW, mean degrees per attempt frame
    deviation: Deviation | None = None

    def why(self) -> str:
        reasons = []
        if self.terms:
            reasons.append(f"narration or skill matches {', '.join(repr(t) for t in self.terms)}")
        if self.similarity is not None:
            reasons.append(f"meaning close to the mistake (cosine {self.similarity:.2f})")
        if self.pose_distance is not None:
            reasons.append(f"movement close to the attempt (DTW {self.pose_distance:.1f}° per frame)")
            if self.deviation is not None:
                d = self.deviation
                reasons.append(
                    f"the attempt deviates most at {d.time:.2f}s: {d.joint.replace('_', ' ')} "
                    f"{abs(d.degrees):.0f}° {'more' if d.degrees > 0 else 'less'} than the clip at {d.clip_time:.2f}s"
                )
        return "; ".join(reasons) or "same sport"

    def to_json(self) -> dict[str, Any]:
        s = self.segment
        return {
            "id": s.id,
            "video": s.video,
            "start": s.start,
            "end": s.end,
            "sport": s.sport,
            "skill": s.skill,
            "narration": s.text,
            "score": round(self.score, 5),
            "bm25": None if self.text_score is None else round(self.text_score, 3),
            "cosine": None if self.similarity is None else round(self.similarity, 4),
            "pose_distance": None if self.pose_distance is None else round(self.pose_distance, 2),
            "why": self.why(),
        }


class Index:
    """A library ready to search: its segments, BM25 index, pose curves and (optional) embeddings."""

    def __init__(self, library: Library, embedder: Embedder | None = None) -> None:
        import Stemmer

        self.library = library
        self.segments = library.segments()
        self.stemmer = Stemmer.Stemmer("english")
        self.bm25 = self._bm25()
        self.sports = np.array([s.sport.lower() for s in self.segments])
        posed = [k for k, s in enumerate(self.segments) if s.pose is not None]
        self.pose_rows = np.array(posed, dtype=np.int64)
        self.curves = [self.segments[k].pose.array() for k in posed]  # type: ignore[union-attr]
        self.padded, self.lengths = stack(self.curves)
        self.low, self.high = envelope(self.padded)
        self.coarse = np.stack([_resample(c) for c in self.curves]) if posed else np.zeros((0, COARSE, 9))
        self.embedder, self.vectors = embedder, self._vectors(embedder)
        self.warning: str | None = None  # set when the embedding endpoint failed during a search

    def search(
        self,
        text: str | None = None,
        attempt: Signature | None = None,
        sport: str | None = None,
        top_k: int = 5,
        signals: tuple[str, ...] = SIGNALS,
    ) -> list[Match]:
        """The best `top_k` segments for a mistake `text` and/or an attempt's signature, within `sport`."""
        allowed = np.ones(len(self.segments), bool) if not sport else self.sports == sport.lower()
        lists: list[list[int]] = []
        facts: dict[int, dict[str, Any]] = {}
        if text and "text" in signals:
            scores = self.bm25.get_scores(self._tokens(text)) if self._tokens(text) else np.zeros(len(allowed))
            scores = np.where(allowed, scores, 0.0)
            order = _top(scores, LIST_DEPTH)
            lists.append([k for k in order if scores[k] > 0])
            for k in lists[-1]:
                facts.setdefault(k, {})["text_score"] = float(scores[k])
            query = self._embed(text)
            if query is not None and self.vectors is not None:
                cosine = np.where(allowed, self.vectors @ query, -np.inf)
                lists.append(list(_top(cosine, LIST_DEPTH)))
                for k in lists[-1]:
                    facts.setdefault(k, {})["similarity"] = float(cosine[k])
        if attempt is not None and "pose" in signals and len(self.pose_rows):
            lists.append(self._pose(attempt, allowed[self.pose_rows], facts))
        fused: dict[int, float] = {}
        for ranked in lists:
            for rank, k in enumerate(ranked, 1):
                fused[k] = fused.get(k, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused, key=lambda k: (-fused[k], -facts[k].get("text_score", 0.0)))[:top_k]
        matches = [Match(self.segments[k], fused[k], **facts[k]) for k in best]
        for match in matches:
            if attempt is not None and match.pose_distance is not None and match.segment.pose is not None:
                match.deviation = deviation(attempt, match.segment.pose)
        if text:
            words = self._words(text)
            for match in matches:
                narration = set(self._tokens(f"{match.segment.text} {match.segment.skill}"))
                match.terms = tuple(w for w, stem in words if stem in narration)
        return matches

    def _embed(self, text: str) -> np.ndarray | None:
        """The query's vector, or None without embeddings; an endpoint failure leaves a warning and BM25 alone."""
        if self.vectors is None or self.embedder is None:
            return None
        try:
            return self.embedder.embed([text])[0]
        except EmbeddingError as err:
            self.warning, self.vectors = f"{err}: ranked by BM25 only", None
            return None

    def _pose(self, attempt: Signature, allowed: np.ndarray, facts: dict[int, dict[str, Any]]) -> list[int]:
        """Library rows ranked by DTW distance to the attempt (against the pool the module docstring describes)."""
        pool = np.flatnonzero(allowed)
        curve = _resample(attempt.array())
        if len(pool) > ENVELOPE_POOL:
            bound = [envelope_costs(q, self.low[pool], self.high[pool]) for q in (curve, mirrored(curve))]
            pool = pool[_top(-np.minimum(*bound), ENVELOPE_POOL)]
        if len(pool) > POSE_POOL:
            refs = self.coarse[pool]
            distance = np.minimum(*(local_costs(q, refs).min(axis=2).mean(axis=1) for q in (curve, mirrored(curve))))
            pool = pool[_top(-distance, POSE_POOL)]
        if not len(pool):
            return []
        distances = compare(attempt.array(), (self.padded[pool], self.lengths[pool]))
        order = np.argsort(distances, kind="stable")[:LIST_DEPTH]
        ranked = []
        for o in order:
            if np.isfinite(distances[o]):
                row = int(self.pose_rows[pool[o]])
                facts.setdefault(row, {})["pose_distance"] = float(distances[o])
                ranked.append(row)
        return ranked

    def _tokens(self, text: str) -> list[str]:
        """Stemmed tokens of `text` that the index knows."""
        return [stem for _, stem in self._words(text) if stem in self.bm25.vocab_dict]

    def _words(self, text: str) -> list[tuple[str, str]]:
        """(word, stem) of each word of `text` that is not a stop word."""
        import bm25s

        words = bm25s.tokenize([text], stopwords="en", return_ids=False, show_progress=False)[0]
        return list(zip(words, self.stemmer.stemWords(words), strict=True))

    def _bm25(self) -> Any:
        """The saved BM25 index when it matches the segments, else a new one (saved when the folder allows)."""
        import bm25s

        folder = self.library.path / "index"
        state = folder / "state.json"
        if state.exists() and json.loads(state.read_text()).get("segments") == len(self.segments):
            return bm25s.BM25.load(str(folder), show_progress=False)
        corpus = bm25s.tokenize(
            [_document(s) for s in self.segments], stopwords="en", stemmer=self.stemmer, show_progress=False
        )
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        try:
            retriever.save(str(folder), show_progress=False)
            state.write_text(json.dumps({"segments": len(self.segments)}))
        except OSError:  # a read-only library still answers; the index is rebuilt next time
            pass
        return retriever

    def _vectors(self, embedder: Embedder | None) -> np.ndarray | None:
        settings = self.library.embedding_settings()
        if embedder is None or settings is None:
            return None
        if settings["model"] != embedder.model:
            raise LibraryError(f"the library's vectors are from {settings['model']}, not {embedder.model}")
        vectors = np.load(self.library.path / "embeddings.npy")
        if len(vectors) != len(self.segments):
            raise LibraryError("the library has segments without vectors: run `deepsport library add` again")
        return vectors


def load_index(path: Path, embeddings_url: str | None = None, api_key_env: str = "OPENAI_API_KEY") -> Index:
    """The index of the library at `path`, with its embedding endpoint (`embeddings_url`, or the one the library
    was built with) when it has vectors. Raises LibraryError."""
    library = Library(path)
    library.check()
    settings = library.embedding_settings()
    embedder = None
    if settings is not None:
        embedder = Embedder(embeddings_url or settings["base_url"], settings["model"], api_key_env)
    return Index(library, embedder)


def _document(segment: Segment) -> str:
    return f"{segment.text} {segment.skill} {segment.sport}"


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest scores, best first."""
    k = min(k, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def _resample(curve: np.ndarray) -> np.ndarray:
    """A curve at COARSE evenly spaced frames (nearest frame)."""
    picks = np.round(np.linspace(0, len(curve) - 1, COARSE)).astype(int)
    return curve[picks]
