"""``deepsport eval`` on a benchmark built from the real clips in ../shared/clips (skipped when absent): real
decoding for the agent's frames and the report's thumbnails, scripted model and judge with known scores."""

import pytest
from eval_bench import frames_call, serve, write_benchmark
from shared_data import CLIPS
from typer.testing import CliRunner

from deepsport.cli import app
from eval.runner import load_results

pytestmark = pytest.mark.skipif(not CLIPS.is_dir(), reason=f"no real clips at {CLIPS}")

# Facts from ../shared/clips/SOURCES.md; (video, question, type, answer, options, sport, dimension, turns, baseline)
ITEMS = {
    "cricket-hit": ("cricket_odi_shot.mp4", "When does the batter hit the ball?", "time_span", "1.95", None,
                    "cricket", "recognition", [frames_call(1.5, 2.5, 6), "<answer>about 1.9 s</answer>"], ""),
    "tennis-first": ("tennis_rally_montecarlo.mp4", "Who hits the ball first?", "choice", "A",
                     ["the near player (red)", "the far player"], "tennis", "recognition",
                     [frames_call(0.0, 1.0, 4), "<answer>A</answer>"], ""),
    "badminton-smash": ("badminton_olympics2012.mp4", "Which player jump-smashes, and when?", "text",
                        "the near player in yellow, at about 1.5 s", None, "badminton", "commentary",
                        ["<answer>the yellow player near the camera, around 1.6 s</answer>"], ""),
    "volleyball-serve": ("volleyball_rally_reel.mp4", "When is the serve?", "time_span", "0.8", None,
                         "volleyball", "rules", ["<answer>4.0</answer>"], ""),
    "lift": ("weightlifting_snatch.mp4", "What does the athlete lift overhead?", "choice", "A",
             ["a barbell", "a kettlebell", "a dumbbell"], "weightlifting", "assessment",
             ["<answer>a barbell</answer>"], ""),
}  # fmt: skip
VERDICTS = {"the yellow player near the camera, around 1.6 s": '{"score": 0.9, "rationale": "right player"}'}


def test_eval_on_real_clips(tmp_path):
    bench = write_benchmark(tmp_path / "clips.jsonl", ITEMS)
    out = tmp_path / "run"
    with serve(items=ITEMS, verdicts=VERDICTS) as endpoint:
        url = endpoint.url
        args = ["eval", "--benchmark", bench, "--video-root", CLIPS, "--model", "scripted", "--backend", "openai"]
        args += ["--base-url", url, "--judge-model", "scripted", "--judge-base-url", url, "--out", out]
        result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    rows = load_results(out)
    scores = {item_id: row.score for item_id, row in rows.items()}
    assert scores == {"cricket-hit": 1.0, "tennis-first": 1.0, "badminton-smash": 0.9, "volleyball-serve": 0.0,
                      "lift": 1.0}  # fmt: skip
    cricket = rows["cricket-hit"].trajectory
    assert cricket.tool_calls[0].frame_times == pytest.approx([1.5, 1.7, 1.9, 2.1, 2.3, 2.5], abs=0.021)
    assert rows["cricket-hit"].frames_used == 14
    page = (out / "report.html").read_text()
    shown = sum(len(set(row.trajectory.frame_times)) for row in rows.values())
    assert page.count("<img src='data:image/jpeg;base64,") == shown
    assert "Accuracy 78.0% on 5 scored items" in " ".join(result.output.split())
