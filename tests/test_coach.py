"""Coaching: libraries of narrated clips, the ranking signals, ``deepsport coach``, ``find_instruction`` and the
retrieval benchmark in tests/data/coach (the real clips in ../shared/clips; those tests skip when absent)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from shared_data import CLIPS
from typer.testing import CliRunner

from deepsport.agent_config import AgentConfig
from deepsport.cli import app
from deepsport.coach.library import Library, Signature
from deepsport.coach.ranking import Index
from deepsport.coach.signature import compare, deviation, envelope, envelope_costs, from_poses, mirrored, stack
from deepsport.dev.endpoint import LocalEndpoint, Reply, scripted
from deepsport.dev.synthetic import make_video
from deepsport.pose.kinematics import ANGLES, PoseFrame
from deepsport.session import Session
from deepsport.tools import Budget, Episode, Toolbox, tool_names

DATA = Path(__file__).parent / "data" / "coach"
needs_clips = pytest.mark.skipif(not CLIPS.is_dir(), reason=f"no real clips at {CLIPS} (set DEEPSPORT_SHARED)")
CHROMIUM = shutil.which("chromium")


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def said(result) -> str:
    """What a command printed to stdout, its lines (wrapped by the terminal width) joined."""
    return " ".join(result.stdout.split())


def one_line_error(result, *words):
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    line = " ".join(result.stderr.split())
    assert line.startswith("Error:") and all(w in line for w in words), result.stderr


# --- a small library on synthetic videos (no person: text only) ----------------------------------------------

SRT = """1
00:00:00,500 --> 00:00:02,000
Keep your elbow high as the racket comes through.

2
00:00:02,000 --> 00:00:04,000
Bend your knees and stay low before the serve.
"""
VTT = """WEBVTT

00:00.000 --> 00:03.000
Land on your side after the dive, never on your stomach.
"""


@pytest.fixture(scope="session")
def narrated(tmp_path_factory) -> Path:
    """DIR/tennis/serve/a.mp4 + a.srt, DIR/soccer/goalkeeping/b.mp4 + b.vtt, DIR/tennis/c.mp4 (no narration),
    DIR/tennis/d.mp4 + d.srt (malformed)."""
    root = tmp_path_factory.mktemp("narrated")
    for name, folder, text, suffix in (
        ("a", "tennis/serve", SRT, ".srt"),
        ("b", "soccer/goalkeeping", VTT, ".vtt"),
        ("c", "tennis", None, None),
        ("d", "tennis", "1\nnot a time line\nwords\n", ".srt"),
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
        make_video(root / folder / f"{name}.mp4", duration=5.0, fps=5.0, size=(160, 120))
        if text:
            (root / folder / f"{name}{suffix}").write_text(text)
    return root


@pytest.fixture(scope="session")
def text_library(narrated, tmp_path_factory) -> Path:
    library = tmp_path_factory.mktemp("text-library") / "lib"
    result = run("library", "add", narrated, "--library", library, "--no-pose")
    assert result.exit_code == 0, result.output
    return library


def test_a_folder_of_narrated_videos_becomes_a_library(narrated, text_library):
    segments = Library(text_library).segments()
    assert [(s.sport, s.skill, s.start, s.end) for s in segments] == [
        ("soccer", "goalkeeping", 0.0, 3.0),
        ("tennis", "serve", 0.5, 2.0),
        ("tennis", "serve", 2.0, 4.0),
    ]
    assert segments[1].text == "Keep your elbow high as the racket comes through." and segments[1].id == "a@0.50-2.00"
    info = run("library", "info", text_library, "--json")
    counts = json.loads(info.stdout)
    assert counts["segments"] == 3 and counts["sports"] == {"soccer": 1, "tennis": 2} and counts["with_pose"] == 0
    assert counts["skills"] == {"soccer/goalkeeping": 1, "tennis/serve": 2}
    table = said(run("library", "info", text_library))
    assert "3 segments from 2 videos" in table and "goalkeeping" in table


def test_bad_library_input_warns_or_fails_in_one_line(narrated, tmp_path):
    result = run("library", "add", narrated, "--library", tmp_path / "lib", "--no-pose")
    warnings = " ".join(result.stderr.split())
    assert "c.mp4: no narration (.srt or .vtt beside it); skipped" in warnings
    assert "d.srt: malformed subtitles" in warnings and "Traceback" not in result.output
    bare = tmp_path / "bare"
    bare.mkdir()
    make_video(bare / "x.mp4", duration=1.0, fps=5.0, size=(64, 48))
    one_line_error(run("library", "add", bare, "--library", tmp_path / "l2"), "no narrated videos in")
    one_line_error(run("library", "add", tmp_path / "nothing", "--library", tmp_path / "l3"), "does not exist")
    rows = tmp_path / "rows.jsonl"
    row = {"video": "a.mp4", "start": 0, "end": 1, "text": "t", "sport": "tennis", "skill": "serve"}
    bad = [{**row, "video": "../x.mp4"}, {**row, "start": "soon"}, {**row, "text": " "}]
    rows.write_text("".join(json.dumps(r) + "\n" for r in [row, *bad]))
    one_line_error(run("library", "add", rows, "--library", tmp_path / "l4"), "no usable rows")
    result = run("library", "add", rows, "--library", tmp_path / "l4", "--video-root", narrated / "tennis/serve")
    warnings = " ".join(result.stderr.split())
    assert result.exit_code == 0 and "row 2: video '../x.mp4': a path relative to the video root may not use '..'" in (
        warnings
    )
    assert "row 3: start: Input should be a valid number" in warnings and "row 4: text: Value error, the narration" in (
        warnings
    )
    assert [s.id for s in Library(tmp_path / "l4").segments()] == ["a@0.00-1.00"]
    one_line_error(run("library", "info", tmp_path / "nowhere"), "is not a library")
    one_line_error(run("coach", "eval", tmp_path / "none.jsonl", "--library", tmp_path / "l4"), "does not exist")
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q", "relevant": ["x"]}) + "\n")
    one_line_error(
        run("coach", "eval", bench, "--library", tmp_path / "l4"), "row 1", "a query needs a text or a video"
    )
    one_line_error(run("coach", "eval", bench, "--library", tmp_path / "l4", "--signals", "sound"), "unknown signals")
    one_line_error(run("coach", tmp_path / "missing.mp4", "--library", tmp_path / "l4"), "missing.mp4")


def test_library_add_resumes_after_a_kill(narrated, tmp_path):
    library = tmp_path / "lib"
    assert run("library", "add", narrated, "--library", library, "--no-pose").exit_code == 0
    lines = (library / "segments.jsonl").read_text().splitlines(keepends=True)
    (library / "segments.jsonl").write_text(lines[0] + lines[1][:40])  # killed while writing the second segment
    again = run("library", "add", narrated, "--library", library, "--no-pose")
    assert again.exit_code == 0 and "Added 2 segments" in said(again) and "(1 already there)" in said(again)
    assert [s.id for s in Library(library).segments()] == [json.loads(line)["id"] for line in lines]
    assert "Added 0 segments" in said(run("library", "add", narrated, "--library", library, "--no-pose"))
    (library / "segments.jsonl").write_text(lines[0] + '{"id": "x", "video": "v.mp4"}\n' + lines[2])
    one_line_error(run("library", "info", library), "segments.jsonl:2: start: Field required")


# --- find_instruction -----------------------------------------------------------------------------------------


def test_find_instruction_is_offered_only_with_a_library(text_library, counter_video):
    assert "find_instruction" not in tool_names()
    assert "find_instruction" in tool_names(None, {"find_instruction": {"library": str(text_library)}})
    with pytest.raises(ValueError, match="find_instruction needs tool_options.find_instruction.library"):
        tool_names(["find_instruction"])
    config = AgentConfig(tool_options={"find_instruction": {"library": str(text_library)}})
    with Session(counter_video, "What should I practise?", config) as session:
        assert '"name": "find_instruction"' in session.messages[0]["content"]
    with Session(counter_video, "Q?", AgentConfig()) as session:
        assert "find_instruction" not in session.messages[0]["content"]


def test_find_instruction_returns_clips_and_readable_errors(text_library, counter_video, tmp_path):
    episode = Episode.open(counter_video, Budget())
    try:
        box = Toolbox(episode, ["find_instruction"], {"find_instruction": {"library": str(text_library)}})
        result, _ = box.call("find_instruction", {"query": "I land on my stomach after diving", "top_k": 2})
        assert result.ok and result.text.splitlines()[1].startswith("1. b.mp4 0.00s-3.00s (soccer, goalkeeping)")
        assert "'stomach'" in result.text
        result, _ = box.call("find_instruction", {"query": "knees", "sport": "curling"})
        assert "no clips for sport 'curling'; the library has: soccer, tennis" in result.text
        assert "1. a.mp4 2.00s-4.00s" in result.text
        result, _ = box.call("find_instruction", {"query": ""})
        assert not result.ok and "invalid arguments" in result.text
        missing = Toolbox(episode, ["find_instruction"], {"find_instruction": {"library": str(tmp_path / "no")}})
        result, _ = missing.call("find_instruction", {"query": "knees"})
        assert not result.ok and "the instruction library cannot be read" in result.text
    finally:
        episode.close()


def test_ask_checks_the_library_before_loading_a_model(counter_video, tmp_path):
    one_line_error(run("ask", counter_video, "Q?", "--library", tmp_path / "none"), "is not a library")


# --- embeddings: a real HTTP server on 127.0.0.1 --------------------------------------------------------------

CONCEPTS = {"stomach": 0, "belly": 0, "dive": 1, "diving": 1, "elbow": 2, "arm": 2, "knees": 3, "low": 3}


def embeddings_reply(body, number):
    """An embedding model that knows a few synonyms: each text's vector counts its concepts (+ a constant)."""
    vectors = []
    for text in body["input"]:
        vector = [0.1] * 5
        for word in re.findall(r"[a-z]+", text.lower()):
            if word in CONCEPTS:
                vector[CONCEPTS[word]] += 1.0
        vectors.append(vector)
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    usage = {"prompt_tokens": 1, "total_tokens": 1}
    return Reply(payload={"object": "list", "data": data, "model": body["model"], "usage": usage})


def test_hybrid_ranking_with_an_embedding_endpoint(narrated, tmp_path):
    library = tmp_path / "lib"
    with LocalEndpoint(embeddings_reply) as server:
        args = ["--embeddings-url", server.url, "--embeddings-model", "tiny-embed"]
        result = run("library", "add", narrated, "--library", library, "--no-pose", *args)
        assert result.exit_code == 0, result.output
        assert {r.path for r in server.requests} == {"/v1/embeddings"} and len(server.requests) == 1
        assert np.load(library / "embeddings.npy").shape == (3, 5)
        index = Index(Library(library))  # no embedder: BM25 alone
        assert index.search("belly flop", top_k=3) == []  # no narration says 'belly'
        from deepsport.coach.ranking import load_index

        hybrid = load_index(library)
        best = hybrid.search("belly flop", top_k=3)[0]
        assert best.segment.id == "b@0.00-3.00" and best.similarity is not None and best.text_score is None
        assert [r.body["input"] for r in server.requests[1:]] == [["belly flop"]]
        assert "tiny-embed" in said(run("library", "info", library))
    down = load_index(library)  # the server is gone: BM25 alone, and a warning says so
    assert down.search("stomach", top_k=1)[0].segment.id == "b@0.00-3.00"
    assert down.warning is not None and "ranked by BM25 only" in down.warning


# --- pose signatures and DTW ------------------------------------------------------------------------------------


def curve(values: list[float], joint: str = "right_knee", base: float = 170.0) -> Signature:
    """Every angle at `base` (trunk upright) but `joint`, which follows `values`, at 8 frames per second."""
    angles = np.full((len(values), len(ANGLES)), base)
    angles[:, ANGLES.index(joint)] = values
    angles[:, ANGLES.index("trunk_lean")] = 0.0
    return Signature.from_array([k / 8 for k in range(len(values))], angles)


def test_dtw_matches_the_phase_and_names_where_the_attempt_deviates():
    squat = curve([170, 150, 120, 90, 80, 90, 120, 150, 170])
    jump = curve([170, 170, 175, 178, 180, 178, 175, 170, 170])
    attempt = curve([120, 90, 95, 90, 120])  # the bottom of a squat, 15° short of the clip's depth
    distances = compare(attempt.array(), [jump.array(), squat.array()])
    assert distances[1] == pytest.approx(15 / 5 / len(ANGLES)) and distances[0] > 6
    dev = deviation(attempt, squat)
    assert dev is not None and (dev.joint, dev.time, dev.clip_time, dev.degrees) == ("right_knee", 0.25, 0.5, 15.0)
    left = curve([120, 90, 80, 90], joint="left_knee")  # the same movement seen from the other side
    assert compare(left.array(), [squat.array()])[0] == 0.0
    assert np.allclose(mirrored(mirrored(squat.array())), squat.array())
    low, high = envelope(stack([jump.array(), squat.array()])[0])
    bound = envelope_costs(attempt.array(), low, high)  # what narrows a big sport's clips before DTW
    assert bound[1] == 0.0 and bound[0] == pytest.approx((50 + 80 + 75 + 80 + 50) / 5 / len(ANGLES))
    assert (bound <= distances + 1e-6).all()


def test_a_signature_needs_a_person_in_half_the_frames():
    nobody = [PoseFrame(time=t / 8, frame_size=(64, 48)) for t in range(8)]
    assert from_poses(nobody) is None


# --- the real benchmark -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def clip_library(tmp_path_factory) -> Path:
    library = tmp_path_factory.mktemp("clips") / "lib"
    result = run("library", "add", DATA / "library.jsonl", "--library", library, "--video-root", CLIPS)
    assert result.exit_code == 0, result.output
    return library


@pytest.fixture(scope="session")
def bench_results(clip_library) -> dict[str, dict]:
    result = run("coach", "eval", DATA / "queries.jsonl", "--library", clip_library, "--video-root", CLIPS, "--json")
    assert result.exit_code == 0, result.output
    return {r["signals"]: r for r in json.loads(result.stdout)}


@needs_clips
def test_every_clip_segment_has_a_pose_signature(clip_library):
    info = json.loads(run("library", "info", clip_library, "--json").stdout)
    assert info["segments"] == info["with_pose"] == 15 and info["videos"] == 5
    assert set(info["sports"].values()) == {3}


@needs_clips
def test_benchmark_recall_per_signal(bench_results):
    overall = {name: r["overall"] for name, r in bench_results.items()}
    assert overall["text"] == {"queries": 14, "recall@1": 0.571, "recall@5": 0.714, "mrr": 0.643}
    assert overall["pose"] == {"queries": 14, "recall@1": 0.5, "recall@5": 0.5, "mrr": 0.5}
    assert overall["text+pose"] == {"queries": 14, "recall@1": 0.929, "recall@5": 1.0, "mrr": 0.964}
    assert bench_results["text+pose"]["by_sport"]["tennis"]["recall@1"] == 1.0


@needs_clips
def test_each_signal_helps_on_the_queries_built_to_need_it(bench_results):
    rank = {name: {q["id"]: q["rank"] for q in r["queries"]} for name, r in bench_results.items()}
    worded = [q for q in rank["text"] if q.startswith("text-")]
    attempts = [q for q in rank["text"] if q.startswith("pose-")]
    both = [q for q in rank["text"] if q.startswith("both-")]
    assert len(worded) == 7 and all(rank["text"][q] == 1 and rank["pose"][q] is None for q in worded)
    assert all(rank["pose"][q] == 1 for q in attempts)
    assert sum(rank["text"][q] == 1 for q in attempts) == 1  # only 'lift' in the turnover's narration
    assert all(rank["text"][q] == 2 and rank["text+pose"][q] == 1 for q in both)
    assert [q for q, r in rank["text+pose"].items() if r != 1] == ["pose-pull"]  # 'lift' outvotes the pose


# --- deepsport coach ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def low_forehand(tmp_path_factory) -> Path:
    """An attempt cut from the tennis clip: the baseline forehand to a low ball."""
    out = tmp_path_factory.mktemp("attempt") / "attempt.mp4"
    clip = CLIPS / "tennis_coach_talking.mp4"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-ss", "12.7", "-t", "1.8", "-i", str(clip), "-an", str(out)]
    subprocess.run(cmd, check=True)
    return out


@needs_clips
def test_coach_names_the_mistake_and_recommends_the_clip(clip_library, low_forehand, tmp_path):
    answer = "<answer>He bends at the waist instead of bending his knees to reach the low ball.</answer>"
    page = tmp_path / "coach.html"
    with LocalEndpoint(scripted(lambda messages: answer)) as server:
        args = ["--backend", "openai", "--base-url", server.url, "--model", "coach", "--max-turns", "1"]
        result = run("coach", low_forehand, "--library", clip_library, "--sport", "tennis", *args, "--json")
        result_html = run("coach", low_forehand, "--library", clip_library, *args, "--top-k", "2", "--html", page)
    assert result.exit_code == 0, result.output
    coaching = json.loads(result.stdout)
    assert coaching["mistakes"] == answer.removeprefix("<answer>").removesuffix("</answer>")
    assert "tennis attempt" in server.requests[0].body["messages"][1]["content"][-1]["text"]
    clips = coaching["clips"]
    assert clips[0]["id"] == "low-forehand" and clips[0]["start"] == 12.6 and clips[0]["pose_distance"] < 5
    assert "'waist'" in clips[0]["why"] and "movement close to the attempt" in clips[0]["why"]
    assert coaching["notes"] == [] and {c["sport"] for c in clips} == {"tennis"}
    assert result_html.exit_code == 0 and "1. tennis_coach_talking.mp4 12.60–14.60s" in said(result_html)
    if CHROMIUM:
        dom = chromium_dom(page, tmp_path)
        assert dom.count('<section class="row"') == 2 and "Likely mistakes: He bends at the waist" in dom
        assert dom.count('<img src="data:image/jpeg;base64,') == 2 * (4 + 4)  # the attempt beside each clip


def test_coach_with_a_tiny_model_and_nobody_in_the_attempt(tiny_model_dir, counter_video, text_library, tmp_path):
    page = tmp_path / "page.html"
    args = ["--model", tiny_model_dir(), "--max-turns", "1", "--max-new-tokens", "8", "--json", "--html", page]
    result = run("coach", counter_video, "--library", text_library, "--question", "my knees are straight", *args)
    assert result.exit_code == 0, result.output
    coaching = json.loads(result.stdout)
    assert coaching["notes"][0] == "no person visible in the attempt: ranked by text only"
    assert coaching["clips"][0]["id"] == "a@2.00-4.00" and coaching["trajectory"]["turns"]
    assert all(c["pose_distance"] is None for c in coaching["clips"])
    if CHROMIUM:
        dom = chromium_dom(page, tmp_path)
        assert "no person visible in the attempt: ranked by text only" in dom
        assert dom.count('<img src="data:image/jpeg;base64,') == len(coaching["clips"]) * (4 + 4)
    nothing = run("coach", counter_video, "--library", text_library, "--no-assess")
    one_line_error(nothing, "nothing to rank by: no person visible in the attempt")


def chromium_dom(page: Path, tmp_path: Path) -> str:
    """The page as headless Chromium renders it (its DOM after scripts and parsing)."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path}/chromium"]
    cmd = [CHROMIUM, *flags, "--dump-dom", page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
