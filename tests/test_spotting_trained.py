"""The trainable spotter, SoccerNet labels and spotting metrics, on synthetic games whose actions are known.

A synthetic game's actions are 1 s flashes of the background in one colour per label (red "Goal", blue
"Corner", yellow "Yellow card"); green flashes are distractors that carry no label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from shared_data import SHARED

from deepsport.dev.synthetic import DEFAULT_COLOR, make_video
from deepsport.spotting import Event
from deepsport.spotting.features import FeatureConfig, load_features
from deepsport.spotting.labels import (
    Annotation,
    GameLabels,
    LabelsError,
    load_game,
    load_games,
    read_labels,
    write_labels,
    write_predictions,
)
from deepsport.spotting.metrics import LOOSE_DELTAS, TIGHT_DELTAS, average_map, event_interval_iou, interval_iou
from deepsport.spotting.model import CheckpointError, TrainedSpotter
from deepsport.spotting.training import evaluate, train
from deepsport.video import Video, VideoError

COLORS = {"Goal": (220, 30, 30), "Corner": (30, 30, 220), "Yellow card": (230, 210, 20)}
DISTRACTOR = (30, 200, 30)
LABELS = sorted(COLORS)
SAMPLE = SHARED / "annotations" / "soccernet_v2" / "Labels-v2.ASSEMBLED_from_quoted_real_records.json"


def make_game(folder: Path, seed: int, videos: dict[int, str], duration: float = 90.0) -> list[Annotation]:
    """Write a game: one video per half (half -> file name) with flashes every 4-8 s, and its Labels-v2.json."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    annotations = []
    for half, name in videos.items():
        colors, time = [], 2.0 + rng.random()
        while time < duration - 3:
            kind = rng.choice([*LABELS, "distractor"])
            time = round(time, 3)
            colors += [(time, COLORS.get(kind, DISTRACTOR)), (time + 1.0, DEFAULT_COLOR)]
            if kind != "distractor":
                annotations.append(Annotation(half, time, str(kind), team="home"))
            time += 4.0 + 4.0 * rng.random()
        make_video(folder / name, duration=duration, fps=5, size=(160, 90), colors=colors)
    write_labels(folder / "Labels-v2.json", GameLabels(annotations, {"gameHomeTeam": f"Team {seed}"}))
    return annotations


@pytest.fixture(scope="module")
def games(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/: four one-half games (one a lone video with a free name); test/game: a two-half game."""
    root = tmp_path_factory.mktemp("games")
    for seed in range(3):
        make_game(root / "train" / "league" / f"game{seed}", seed, {1: "1_224p.mkv"})
    make_game(root / "train" / "other" / "clip", 3, {1: "broadcast.mp4"})
    make_game(root / "test" / "game", 100, {1: "1_224p.mkv", 2: "2_224p.mkv"})
    return root


@pytest.fixture(scope="module")
def trained(games: Path) -> tuple[Path, dict]:
    checkpoint = games / "spotter.pt"
    summary = train(games / "train", checkpoint, epochs=20, cache_dir=games / "cache", progress=False)
    return checkpoint, summary


# --- the trainable spotter ---------------------------------------------------------------------------------------


def test_learns_actions_from_a_few_games(games: Path, trained: tuple[Path, dict]) -> None:
    checkpoint, summary = trained
    assert summary["labels"] == LABELS and summary["games"] == 4 and summary["videos"] == 4
    assert summary["loss"] < 0.2
    result = evaluate(checkpoint, games / "test", cache_dir=games / "cache", progress=False)
    assert result["videos"] == 2 and result["actions"] > 10
    assert result["tight_average_map"] >= 0.8
    assert result["loose_average_map"] >= 0.8
    assert all(ap["tight"] >= 0.6 for ap in result["per_class"].values())
    assert result["interval_iou"] >= 0.5


def test_checkpoint_round_trip(games: Path, trained: tuple[Path, dict]) -> None:
    spotter = TrainedSpotter.load(trained[0], cache_dir=games / "cache")
    assert spotter.labels == tuple(LABELS)
    game = load_game(games / "test" / "game")
    events = spotter.spot(game.videos[2])
    assert events == sorted(events, key=lambda e: e.time) and all(isinstance(e, Event) for e in events)
    for action in game.labels.in_half(2):  # every action is found, at about its time
        assert any(e.label == action.label and abs(e.time - action.time) <= 1.0 for e in events), action
    with Video(game.videos[2]) as video:
        assert spotter.spot(video) == events
    goals = spotter.spot(game.videos[2], labels=["Goal"], start=20.0, end=70.0)
    assert goals == [e for e in events if e.label == "Goal" and 20.0 <= e.time <= 70.0]
    best = spotter.spot(game.videos[2], top_k=2)
    assert len(best) == 2 and min(e.score for e in best) >= max(e.score for e in events if e not in best)


def test_training_resumes_from_its_checkpoint(games: Path, trained: tuple[Path, dict], tmp_path: Path) -> None:
    checkpoint = tmp_path / "resumed.pt"
    checkpoint.write_bytes(trained[0].read_bytes())
    summary = train(
        games / "train",
        checkpoint,
        21,
        val_games=games / "test",
        resume=True,
        cache_dir=games / "cache",
        progress=False,
    )
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 21 and summary["labels"] == LABELS
    assert summary["val"]["tight_average_map"] >= 0.8
    with pytest.raises(CheckpointError, match="labels differ"):
        train(games / "train", checkpoint, epochs=22, labels=["Goal"], resume=True, progress=False)


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found: .*missing.pt; train one"):
        TrainedSpotter.load(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="Corrupt spotter checkpoint: .*corrupt.pt"):
        TrainedSpotter.load(tmp_path / "corrupt.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="Not a spotter checkpoint"):
        TrainedSpotter.load(tmp_path / "other.pt")


def test_features_are_cached_per_video_and_settings(games: Path, tmp_path: Path) -> None:
    video = games / "test" / "game" / "1_224p.mkv"
    config = FeatureConfig()
    features = load_features(video, config, tmp_path)
    assert features.shape == (180, config.dim) and features.dtype == np.float32
    assert np.array_equal(load_features(video, config, tmp_path), features)
    assert len(list(tmp_path.iterdir())) == 1
    red = 3 * np.arange(32)  # the red value of each grid cell
    first = read_labels(video.parent / "Labels-v2.json").annotations[0]  # a flash from first.time to + 1 s
    during = round((first.time + 0.7) * config.fps)
    expected = np.array(COLORS[first.label]) / 255
    assert np.allclose(features[during, red[-4:]], expected[0], atol=0.05)  # bottom row of cells
    load_features(video, FeatureConfig(fps=1.0), tmp_path)
    assert len(list(tmp_path.iterdir())) == 2
    with pytest.raises(VideoError, match="Video not found"):
        load_features(tmp_path / "missing.mp4", config, tmp_path)


# --- metrics ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    label: str
    time: float


def test_average_map_hand_cases() -> None:
    truth = [[Mark("A", 10.0), Mark("A", 40.0), Mark("B", 25.0)]]
    perfect = [[Event(m.label, m.time, 0.9) for m in truth[0]]]
    assert average_map(truth, perfect, ["A", "B"]).value == 1.0
    assert average_map(truth, perfect, ["A", "B"], LOOSE_DELTAS).value == 1.0
    late = [[Event(m.label, m.time + 3.0, 0.9) for m in truth[0]]]  # 3 s late: beyond every tight δ/2
    assert average_map(truth, late, ["A", "B"]).value == 0.0
    shifted = [[Event(m.label, m.time + 1.5, 0.9) for m in truth[0]]]  # within δ/2 for δ >= 3 s only
    result = average_map(truth, shifted, ["A", "B"])
    assert result.per_delta == {1.0: 0.0, 2.0: 0.0, 3.0: 1.0, 4.0: 1.0, 5.0: 1.0}
    assert result.value == pytest.approx((0 + 0.5 + 1 + 1) / 4)  # trapezoid: the end deltas weigh half
    assert average_map(truth, perfect, ["A", "B", "C"]).value == pytest.approx(2 / 3)  # C has no truth: AP 0
    other_half = [[], [Event(m.label, m.time, 0.9) for m in truth[0]]]
    assert average_map([*truth, []], other_half, ["A", "B"]).value == 0.0


def test_average_map_ranks_by_score() -> None:
    truth = [[Mark("A", 10.0)]]
    # a false positive scoring above the true positive: precision 1/2 at full recall, 0 above its score
    predictions = [[Event("A", 10.0, 0.5), Event("A", 30.0, 0.9)]]
    assert average_map(truth, predictions, ["A"]).value == pytest.approx(0.5)
    # ranked below it, the false positive costs nothing
    predictions = [[Event("A", 10.0, 0.9), Event("A", 30.0, 0.5)]]
    assert average_map(truth, predictions, ["A"]).value == 1.0
    # one prediction matches one action only: recall 1/2 at precision 1, so 6 of the 11 recall points
    one = [[Event("A", 10.5, 0.9)]]
    assert average_map([[Mark("A", 10.0), Mark("A", 11.0)]], one, ["A"]).value == pytest.approx(6 / 11)
    # actions of one label in the same 0.5 s bin count once, as in the official evaluation
    assert average_map([[Mark("A", 10.0), Mark("A", 10.4)]], one, ["A"]).value == 1.0


def test_interval_iou() -> None:
    assert interval_iou([(0.0, 2.0)], [(0.0, 2.0)]) == 1.0
    assert interval_iou([(1.0, 3.0)], [(0.0, 2.0)]) == pytest.approx(1 / 3)
    assert interval_iou([(5.0, 6.0), (0.5, 2.0)], [(0.0, 2.0), (10.0, 11.0)]) == pytest.approx(0.75 / 2)
    assert interval_iou([], [(0.0, 2.0)]) == 0.0
    with pytest.raises(ValueError, match="at least one true interval"):
        interval_iou([(0.0, 1.0)], [])
    truth = [[Mark("A", 10.0), Mark("B", 20.0)]]
    predictions = [[Event("A", 10.5, 0.9), Event("B", 20.0, 0.1)]]  # B scores below min_score
    assert event_interval_iou(truth, predictions, width=2.0, min_score=0.5) == pytest.approx((1.5 / 2.5) / 2)


def test_average_map_matches_the_soccernet_package(tmp_path: Path) -> None:
    action_spotting = pytest.importorskip("SoccerNet.Evaluation.ActionSpotting")
    labels = ["Goal", "Corner", "Foul", "Throw-in", "Offside", "Penalty"]  # a few: the official code is slow
    rng = np.random.default_rng(0)
    truth, predictions = [], []
    for game in range(2):
        annotations, predicted = [], []
        for half in (1, 2):
            marks = [
                Annotation(
                    half, rng.integers(0, 2_700_000) / 1000, labels[rng.integers(len(labels))], visibility=visibility
                )
                for visibility in rng.choice(["visible", "not shown"], 30)
            ]
            events = [Event(m.label, max(0.0, m.time + rng.normal(0, 3)), rng.random()) for m in marks]
            events += [
                Event(labels[rng.integers(len(labels))], rng.integers(0, 2_700_000) / 1000, rng.random()) for _ in marks
            ]
            bins = {(e.label, int(2 * round(e.time * 1000) / 1000)): e for e in events}  # one per 0.5 s and label
            truth.append(marks)
            predictions.append(list(bins.values()))
            annotations += marks
            predicted += [(half, e) for e in bins.values()]
        (tmp_path / "labels" / f"g{game}").mkdir(parents=True)
        write_labels(tmp_path / "labels" / f"g{game}" / "Labels-v2.json", GameLabels(annotations))
        (tmp_path / "predictions" / f"g{game}").mkdir(parents=True)
        write_predictions(tmp_path / "predictions" / f"g{game}" / "results_spotting.json", predicted)
    for metric, deltas in (("tight", TIGHT_DELTAS), ("loose", LOOSE_DELTAS)):
        official = action_spotting.evaluate(
            str(tmp_path / "labels"),
            str(tmp_path / "predictions"),
            dataset=None,
            metric=metric,
            EVENT_DICTIONARY={label: c for c, label in enumerate(labels)},
        )
        ours = average_map(truth, predictions, labels, deltas)
        assert 0.05 < ours.value < 0.95
        assert ours.value == pytest.approx(official["a_mAP"], abs=1e-6)
        assert [ours.per_class[label] for label in labels] == pytest.approx(official["a_mAP_per_class"], abs=1e-6)


def test_evaluation_matches_the_soccernet_package(games: Path, trained: tuple[Path, dict], tmp_path: Path) -> None:
    action_spotting = pytest.importorskip("SoccerNet.Evaluation.ActionSpotting")
    ours = evaluate(trained[0], games / "test", predictions_dir=tmp_path, cache_dir=games / "cache", progress=False)
    assert (tmp_path / "game" / "results_spotting.json").is_file()
    for metric in ("tight", "loose"):
        official = action_spotting.evaluate(
            str(games / "test"),
            str(tmp_path),
            dataset=None,
            metric=metric,
            EVENT_DICTIONARY={label: c for c, label in enumerate(LABELS)},
        )
        assert ours[f"{metric}_average_map"] == pytest.approx(official["a_mAP"], abs=1e-6)


# --- labels ---------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not SAMPLE.is_file(), reason="../shared/annotations is not available")
def test_reads_the_real_soccernet_sample(tmp_path: Path) -> None:
    labels = read_labels(SAMPLE)
    assert [(a.half, a.time, a.label) for a in labels.annotations] == [
        (1, 0.094, "Kick-off"),
        (1, 29.049, "Ball out of play"),
        (1, 39.496, "Throw-in"),
        (2, 999.583, "Indirect free-kick"),
    ]
    assert labels.annotations[0].team == "home" and labels.annotations[0].visibility == "not shown"
    assert labels.meta["UrlLocal"] == ""
    original = json.loads(SAMPLE.read_text())
    written = json.loads(write_labels(tmp_path / "Labels-v2.json", labels).read_text())
    assert written == original


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_labels_parsing_is_tolerant(tmp_path: Path) -> None:
    records = [
        {"gameTime": "2 - 01:05", "label": "Goal"},  # no position: the time comes from gameTime
        {"gameTime": "1-00:03", "label": " Corner ", "position": 3250},  # a number, loose spacing
        {"half": 1, "label": "Foul", "position": "500", "extra": True},  # half instead of gameTime
    ]
    labels = read_labels(write_json(tmp_path / "Labels-v2.json", {"annotations": records}))
    assert [(a.half, a.time, a.label) for a in labels.annotations] == [
        (1, 0.5, "Foul"),
        (1, 3.25, "Corner"),
        (2, 65.0, "Goal"),
    ]
    assert labels.annotations[0].team == "not applicable" and labels.annotations[0].visibility == "visible"
    assert labels.annotations[1].game_time == "1 - 00:03" and labels.annotations[2].game_time == "2 - 01:05"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {
                "annotations": [
                    {"label": "Goal", "position": "1"},
                    {"gameTime": "1 - 0:05", "position": "x", "label": "Goal"},
                ]
            },
            'annotation 0 .*missing "gameTime"',
        ),
        (
            {"annotations": [{"gameTime": "1 - 00:05", "label": "Goal"}, {"gameTime": "first half", "label": "Goal"}]},
            'annotation 1 .*bad "gameTime"',
        ),
        (
            {"annotations": [{"gameTime": "1 - 00:05", "position": "soon", "label": "Goal"}]},
            'annotation 0 .*bad "position"',
        ),
        ({"annotations": [{"gameTime": "1 - 00:05", "position": "5000"}]}, 'annotation 0 .*missing "label"'),
        ({"annotations": [{"gameTime": "1 - 00:05", "label": "Goal", "visibility": "maybe"}]}, 'bad "visibility"'),
        ({"annotations": ["Goal at 5 s"]}, "annotation 0 .*expected an object"),
        ({"labels": []}, 'expected a JSON object with an "annotations" list'),
    ],
)
def test_malformed_labels_name_the_file_and_record(tmp_path: Path, data: object, problem: str) -> None:
    path = write_json(tmp_path / "Labels-v2.json", data)
    with pytest.raises(LabelsError, match=f"{tmp_path}.*{problem}"):
        read_labels(path)


def test_unreadable_labels(tmp_path: Path) -> None:
    (tmp_path / "Labels-v2.json").write_text("{not json")
    with pytest.raises(LabelsError, match="not a readable JSON file"):
        read_labels(tmp_path / "Labels-v2.json")
    with pytest.raises(LabelsError, match="no such annotation file"):
        read_labels(tmp_path / "missing.json")


def test_game_folders(tmp_path: Path) -> None:
    def game(name: str, files: list[str], halves: list[int]) -> Path:
        folder = tmp_path / "root" / name
        folder.mkdir(parents=True)
        for file in files:
            (folder / file).touch()
        write_labels(folder / "Labels-v2.json", GameLabels([Annotation(h, 1.0, "Goal") for h in halves]))
        return folder

    soccernet = game("a/2015/match", ["1_720p.mkv", "1_224p.mkv", "2_224p.mkv", "notes.txt"], [1, 2])
    assert {h: p.name for h, p in load_game(soccernet).videos.items()} == {1: "1_224p.mkv", 2: "2_224p.mkv"}
    single = game("b/clip", ["broadcast.mp4"], [1])
    assert load_game(single / "Labels-v2.json").videos == {1: single / "broadcast.mp4"}
    assert [g.root for g in load_games(tmp_path / "root")] == [soccernet, single]
    assert [g.root for g in load_games([single, soccernet])] == [single, soccernet]
    with pytest.raises(LabelsError, match=r"annotations in half \[2\] but no video"):
        load_game(game("c", ["1_224p.mkv"], [1, 2]))
    with pytest.raises(LabelsError, match="no video"):
        load_game(game("d", [], []))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelsError, match="no Labels-v2.json in this folder or below"):
        load_games(tmp_path / "empty")


# --- the command line ---------------------------------------------------------------------------------------------


def cli(*args: object):
    from typer.testing import CliRunner

    from deepsport.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_spot_train_eval_and_video_commands(games: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "cli.pt"
    trained = cli("spot", "train", games / "train", "--out", checkpoint, "--epochs", 20, "--val", games / "test")
    assert trained.exit_code == 0, trained.output
    assert "Trained on 4 games for 20 epochs" in trained.stdout and "tight average-mAP" in trained.stdout
    evaluated = cli("spot", "eval", checkpoint, games / "test", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["tight_average_map"] >= 0.8
    spotted = cli("spot", games / "test" / "game" / "1_224p.mkv", "--checkpoint", checkpoint, "--json")
    assert spotted.exit_code == 0, spotted.output
    events = json.loads(spotted.stdout)
    assert events and {e["label"] for e in events} <= set(LABELS)
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)


def test_spot_commands_report_bad_input_in_one_line(tmp_path: Path) -> None:
    for args, fragment in [
        (("spot", "eval", tmp_path / "missing.pt", tmp_path), "missing.pt"),
        (("spot", tmp_path / "missing.mp4"), "not found"),
        (("spot", "train", tmp_path, "--out", tmp_path / "x.pt"), str(tmp_path)),
    ]:
        result = cli(*args)
        assert result.exit_code == 1 and result.stderr.startswith("Error:") and fragment in result.stderr
        assert "Traceback" not in result.output
