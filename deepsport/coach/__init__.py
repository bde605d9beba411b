"""Coaching: mistake-conditioned retrieval of instructional video.

A library (``library``) holds narration segments of instructional clips, each with its time span and, where a
person is visible, a pose signature (``signature``: joint-angle curves over the span). ``ranking`` finds the
segments that teach the fix for a described mistake (BM25, optional embeddings, reciprocal-rank fusion) and for an
attempt's movement (DTW over the signatures); ``assess`` has the agent describe the attempt's mistakes first;
``benchmark`` measures recall@k and MRR; ``page`` writes the HTML page of a coaching result.
"""
