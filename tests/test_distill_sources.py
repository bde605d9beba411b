"""Source adapters: real annotation samples in ../shared/annotations (skipped when absent) and small fixtures
written here in each dataset's own format, with the unit conversions checked."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from shared_data import ANNOTATIONS

from data_distill.questions import make_item, number, seconds
from data_distill.sources import SOURCES, SourceError, load_source
from deepsport.paths import VideoPathError, resolve_video
from deepsport.schemas import DIMENSIONS, TASK_TYPES, QAItem
from deepsport.scoring import score_answer

needs_shared = pytest.mark.skipif(not ANNOTATIONS.is_dir(), reason="../shared/annotations is absent")


def load(name: str, path: Path, **options) -> list[QAItem]:
    """Load twice: the items must be valid, scored right by their own answer, and identical on a re-run."""
    items = list(load_source(name, path, **options))
    assert [i.model_dump() for i in items] == [i.model_dump() for i in load_source(name, path, **options)]
    assert len({i.id for i in items}) == len(items)
    for item in items:
        assert item.source == name and item.dimension in DIMENSIONS and item.task_type in TASK_TYPES
        assert QAItem.model_validate_json(item.model_dump_json()) == item
        score = score_answer(item, item.answer)
        assert score is not None and score.value == 1.0, (item, score)
        if item.answer_type == "choice":
            assert item.options and f"\n{item.answer}. {item.options[ord(item.answer) - 65]}" in item.question
    return items


def by_template(items: list[QAItem], template: str) -> list[QAItem]:
    return [i for i in items if i.metadata["template"] == template]


def chosen(item: QAItem) -> str:
    assert item.options is not None
    return item.options[ord(item.answer) - ord("A")]


# --- paths and templates -----------------------------------------------------------------------------


def test_resolve_video_rejects_paths_leaving_the_root(tmp_path: Path) -> None:
    root = tmp_path / "videos"
    (root / "game").mkdir(parents=True)
    (root / "game" / "1.mp4").write_bytes(b"x")
    (tmp_path / "secret.mp4").write_bytes(b"x")
    os.symlink(tmp_path / "secret.mp4", root / "link.mp4")
    assert resolve_video(root, "game/./1.mp4") == (root / "game" / "1.mp4").resolve()
    assert resolve_video(root, "game\\1.mp4") == (root / "game" / "1.mp4").resolve()
    for bad in ("../secret.mp4", "game/../../secret.mp4", "/etc/passwd", "", "C:/x.mp4", "link.mp4"):
        with pytest.raises(VideoPathError):
            resolve_video(root, bad)
    with pytest.raises(VideoPathError, match="no such file"):
        resolve_video(root, "game/2.mp4")
    assert resolve_video(root, "game/2.mp4", must_exist=False).name == "2.mp4"


def test_items_are_deterministic_and_options_shuffled_by_id() -> None:
    def item(key: int) -> QAItem:
        made = make_item(
            "event_at", source="s", sport="x", video="v.mp4", key=key, correct="Goal", pool=list("ABCDEFG"), time="1.0"
        )
        assert made is not None
        return made

    assert item(1) == item(1) and item(1).id != item(2).id
    letters = {item(k).answer for k in range(30)}
    assert len(letters) > 1 and all(chosen(item(k)) == "Goal" for k in range(30))
    assert all(len(item(k).options or []) == 4 for k in range(30))
    assert (
        make_item("event_at", source="s", sport="x", video="v", key=0, correct="Goal", pool=["Goal"], time="1") is None
    )
    assert [seconds(12.5), seconds(15), seconds(29.049), seconds(0.1)] == ["12.5", "15.0", "29.05", "0.1"]
    assert [number(3), number(3.5), number(81.18)] == ["3", "3.5", "81.18"]


def test_registry_lists_ten_sources_and_rejects_unknown_names_and_options(tmp_path: Path) -> None:
    assert len(SOURCES) == 10 and all(callable(a.load) for a in SOURCES.values())
    assert SOURCES["finediving"].options()["fps"] == 25.0
    with pytest.raises(SourceError, match="unknown source 'nope'.*soccernet_v2"):
        load_source("nope", tmp_path)
    with pytest.raises(SourceError, match="unknown option.*fsp.*it takes: fps"):
        load_source("penn_action", tmp_path, fsp=30)
    for name in SOURCES:
        with pytest.raises(SourceError, match="missing"):
            list(load_source(name, tmp_path / "missing"))


# --- SoccerNet-v2 ------------------------------------------------------------------------------------------


def _annotation(half: int, ms: int, label: str, visibility: str = "visible") -> dict[str, str]:
    clock = f"{ms // 60000:02d}:{ms // 1000 % 60:02d}"
    return {
        "gameTime": f"{half} - {clock}",
        "label": label,
        "position": str(ms),
        "team": "home",
        "visibility": visibility,
    }


def test_soccernet_v2_fixture(tmp_path: Path) -> None:
    game = tmp_path / "england_epl" / "2015-2016" / "A 1 - 0 B"
    game.mkdir(parents=True)
    records = [
        _annotation(1, 60500, "Kick-off"),
        _annotation(1, 120000, "Ball out of play"),
        _annotation(1, 125250, "Throw-in"),
        _annotation(1, 200000, "Goal"),
        _annotation(1, 400000, "Foul"),
        _annotation(1, 401000, "Yellow card"),
        _annotation(1, 430000, "Direct free-kick"),
        _annotation(1, 1000000, "Goal"),
        _annotation(2, 300000, "Corner", "not shown"),
    ]
    (game / "Labels-v2.json").write_text(json.dumps({"annotations": records, "gameHomeTeam": "A"}))
    items = load("soccernet_v2", tmp_path)
    video = "england_epl/2015-2016/A 1 - 0 B/1_224p.mkv"
    kickoff = next(i for i in by_template(items, "when_event") if i.metadata["label"] == "Kick-off")
    assert (kickoff.video, kickoff.answer, kickoff.evidence.start) == (video, "60.5", 60.5)  # ms -> s
    assert kickoff.metadata["tolerance"] == 2.0 and kickoff.answer_type == "time_span"
    goals = [i for i in by_template(items, "when_event_window") if i.metadata["label"] == "Goal"]
    assert [g.answer for g in goals] == ["200.0", "1000.0"] and "170.0 s and 230.0 s" in goals[0].question
    restarts = {i.metadata["label"]: i for i in by_template(items, "restart")}
    assert chosen(restarts["Ball out of play"]) == "Throw-in"
    assert (restarts["Ball out of play"].evidence.start, restarts["Ball out of play"].evidence.end) == (120.0, 125.25)
    assert chosen(restarts["Foul"]) == "Direct free-kick" and restarts["Foul"].dimension == "rules"
    at = {i.metadata["label"] for i in by_template(items, "event_at")}
    assert "Foul" not in at and "Yellow card" not in at and "Kick-off" in at  # another event within 3 s
    counts = {(i.metadata["half"], i.metadata["label"]): i.answer for i in by_template(items, "count_events")}
    assert counts[(1, "Goal")] == "2" and counts[(2, "Corner")] == "1"
    assert not [i for i in items if i.metadata["half"] == 2 and i.task_type != "counting"]  # not shown
    shown = load("soccernet_v2", game / "Labels-v2.json", include_not_shown=True, resolution="720p")
    corner = next(i for i in by_template(shown, "when_event") if i.metadata["label"] == "Corner")
    assert (corner.video, corner.answer) == ("A 1 - 0 B/2_720p.mkv", "300.0")


def test_soccernet_v2_bad_file_names_the_record(tmp_path: Path) -> None:
    (tmp_path / "Labels-v2.json").write_text(json.dumps({"annotations": [{"label": "Goal", "gameTime": "x"}]}))
    with pytest.raises(SourceError, match=r"Labels-v2.json: annotation 0 .*gameTime"):
        list(load_source("soccernet_v2", tmp_path))


@needs_shared
def test_soccernet_v2_shared_sample() -> None:
    items = load("soccernet_v2", ANNOTATIONS / "soccernet_v2")
    free_kick = next(i for i in by_template(items, "when_event") if i.metadata["label"] == "Indirect free-kick")
    assert (free_kick.video, free_kick.answer, free_kick.evidence.start) == (
        "soccernet_v2/2_224p.mkv",
        "999.58",
        999.583,
    )
    assert chosen(by_template(items, "restart")[0]) == "Throw-in"  # ball out at 29.049 s, throw-in at 39.496 s


# --- SoccerNet-Echoes ----------------------------------------------------------------------------------


def test_soccernet_echoes_fixture_drops_whisper_loops(tmp_path: Path) -> None:
    game = tmp_path / "whisper_v2_en" / "spain_laliga" / "2016-2017" / "C 2 - 1 D"
    game.mkdir(parents=True)
    segments = {
        "0": [0.0, 4.0, "Goal goal goal goal goal goal"],
        "1": [4.0, 9.0, "Welcome to the stadium for tonight's derby between the two sides."],
        "2": [9.0, 12.0, "The teams walk out."],
        "3": [12.0, 13.0, "The teams walk out."],
        "4": [13.0, 20.0, "Kick-off, the home side start with the ball moving it to the left wing."],
        "5": [60.0, 70.0, "A long ball forward and the keeper comes out to collect it comfortably."],
    }
    (game / "2_asr.json").write_text(json.dumps({"segments": segments}))
    items = load("soccernet_echoes", tmp_path / "whisper_v2_en", window=30.0, max_gap=5.0)
    assert [(i.evidence.start, i.evidence.end) for i in items] == [(4.0, 20.0), (60.0, 70.0)]
    assert items[0].answer.count("The teams walk out.") == 1 and "goal goal" not in items[0].answer.lower()
    assert items[0].video == "spain_laliga/2016-2017/C 2 - 1 D/2_224p.mkv" and items[0].answer_type == "text"
    assert items[0].metadata["asr_version"] == "whisper_v2_en" and "4.0 s" in items[0].question
    assert score_answer(items[0], "something else") is None  # open text: the judge decides
    (game / "1_asr.json").write_text(json.dumps({"segments": {"0": [5.0, 1.0, "x"]}}))
    with pytest.raises(SourceError, match=r"1_asr.json: segment 0 .*expected \[start_s, end_s, text\]"):
        list(load_source("soccernet_echoes", tmp_path))


@needs_shared
def test_soccernet_echoes_shared_sample() -> None:
    items = load("soccernet_echoes", ANNOTATIONS / "soccernet_echoes")
    assert len(items) >= 10 and not any("team of the week" in i.answer.lower() for i in items)
    assert {i.metadata["asr_version"] for i in items} == {"whisper_v1", "whisper_v2_en"}


# --- SoccerNet-MVFouls ---------------------------------------------------------------------------------


def _mvfoul_action(offence: str, severity: str, kind: str) -> dict:
    clips = [{"Url": "x", "Camera type": "Main camera center", "Timestamp": 1259839, "Replay speed": 1.0}] * 2
    return {"UrlLocal": "a\\b", "Offence": offence, "Severity": severity, "Action class": kind, "Clips": clips}


def test_soccernet_mvfoul_fixture(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    actions = {
        "0": _mvfoul_action("Offence", "5.0", "High leg"),
        "1": _mvfoul_action("No offence", "", "Dive"),
        "2": _mvfoul_action("Between", "2.0", "Dont know"),
    }
    (tmp_path / "train" / "annotations.json").write_text(json.dumps({"Set": "train", "Actions": actions}))
    items = load("soccernet_mvfoul", tmp_path)
    answers = {(i.metadata["action"], i.metadata["template"]): chosen(i) for i in items}
    assert answers == {
        ("0", "offence"): "Foul",
        ("0", "sanction"): "Red card",
        ("0", "foul_class"): "High leg",
        ("1", "offence"): "No foul",
        ("1", "sanction"): "No card",
        ("1", "foul_class"): "Dive",
        ("2", "offence"): "Borderline (could go either way)",
    }
    assert items[0].video == "train/action_0/clip_0.mp4" and items[0].metadata["timestamp_ms"] == 1259839
    assert {i.video for i in load("soccernet_mvfoul", tmp_path, all_clips=True)} >= {"train/action_1/clip_1.mp4"}


@needs_shared
def test_soccernet_mvfoul_shared_sample() -> None:
    items = load("soccernet_mvfoul", ANNOTATIONS / "soccernet_mvfoul")
    assert len(items) == 15  # five actions: offence, card, action class each
    sanction = {i.metadata["action"]: chosen(i) for i in by_template(items, "sanction")}
    assert sanction["0"] == "Yellow card" and sanction["3"] == "Red card"


# --- FineDiving ------------------------------------------------------------------------------------------


def _write_finediving(folder: Path) -> None:
    labels = np.array([2] * 10 + [25] * 20 + [36] * 10)  # back take-off, 3.5 somersaults tuck, entry at frame 30
    fine = {
        ("01", 3): {
            "action_type": "207c",
            "dive_score": 81.18,
            "difficulty": 3.3,
            "steps_transit_frames": np.array([9, 29]),
            "frames_labels": labels,
            "sub-action_types": {2: "Back", 25: "3.5 Soms.Tuck", 36: "Entry"},
        }
    }
    coarse = {
        ("01", 3): {
            "action_type": "207c",
            "start_frame": 1000,
            "end_frame": 1039,
            "dive_score": 81.18,
            "difficulty": 3.3,
            "judge_scores": [8.0, 8.5, 8.0],
        }
    }
    for name, data in (
        ("FineDiving_fine-grained_annotation.pkl", fine),
        ("FineDiving_coarse_annotation.pkl", coarse),
        ("test_split.pkl", [("01", 3)]),
    ):
        (folder / name).write_bytes(pickle.dumps(data, protocol=2))


def test_finediving_fixture_converts_frames_to_seconds(tmp_path: Path) -> None:
    _write_finediving(tmp_path)
    items = load("finediving", tmp_path, fps=25.0)
    answers = {i.metadata["template"]: i for i in items}
    assert answers["when_entry"].answer == "1.2" and answers["when_entry"].video == "01/3.mp4"  # frame 30 / 25 fps
    assert (
        answers["when_phase"].answer == "0.4-1.2"
        and "3.5 somersaults in tuck position" in answers["when_phase"].question
    )
    assert chosen(answers["takeoff"]) == "Back" and (
        answers["takeoff"].evidence.start,
        answers["takeoff"].evidence.end,
    ) == (0.0, 0.4)
    assert chosen(answers["dive_position"]) == "Tuck"
    assert (answers["count_somersaults"].answer, answers["count_twists"].answer) == ("3.5", "0")
    assert (answers["dive_difficulty"].answer, answers["dive_score"].answer) == ("3.3", "81.18")
    assert answers["dive_score"].metadata["split"] == "test" and answers["dive_score"].metadata["judge_scores"] == [
        8.0,
        8.5,
        8.0,
    ]
    assert (
        score_answer(answers["dive_score"], "79").value == 1.0
        and score_answer(answers["dive_score"], "70").value == 0.0
    )
    whole = {i.metadata["template"]: i for i in load("finediving", tmp_path, fps=25.0, untrimmed=True)}
    assert (whole["when_entry"].answer, whole["when_entry"].video) == ("41.2", "01.mp4")  # (1000 + 30) / 25


def test_finediving_refuses_pickles_that_run_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (tmp_path / "FineDiving_fine-grained_annotation.pkl").write_bytes(pickle.dumps({("01", 1): Evil()}))
    with pytest.raises(SourceError, match="refusing to load"):
        list(load_source("finediving", tmp_path))


@needs_shared
def test_finediving_shared_sample() -> None:
    items = load("finediving", ANNOTATIONS / "finediving")
    entry = next(i for i in by_template(items, "when_entry") if i.video == "01/1.mp4")
    assert entry.answer == "1.4" and entry.metadata["frames"] == [35, 84]  # frames_labels turns to Entry at frame 35
    twists = next(i for i in by_template(items, "count_twists") if i.video == "06/55.mp4")
    assert twists.answer == "1.5" and len({i.video for i in items}) == 6


# --- FineGym ---------------------------------------------------------------------------------------------


def _write_finegym(folder: Path) -> None:
    (folder / "gym99_categories.txt").write_text(
        "Clabel:   0; set:  1; Glabel:  20; (VT) round-off, flic-flac on, stretched salto backward with 1 turn off\n"
        "Clabel:   1; set: 41; Glabel: 413; (UB) giant circle backward with 0.5 turn to handstand\n"
        "Clabel:   2; set: 41; Glabel: 414; (UB) clear pike circle backward to handstand\n"
    )
    (folder / "gym99_val_element.txt").write_text(
        "yt_ab-c_E_002407_002435_A_0003_0005 1\n"
        "yt_ab-c_E_002407_002435_A_0010_0012 2\n"
        "yt_ab-c_E_002681_002688_A_0000_0006 0\n"
    )
    info = {
        "yt_ab-c": {
            "E_002407_002435": {
                "event": 4,
                "timestamps": [[2407.32, 2435.28]],
                "segments": {"A_0003_0005": {"stages": 1, "timestamps": [[3.45, 5.64]]}},
            }
        }
    }
    (folder / "finegym_annotation_info_v1.1.json").write_text(json.dumps(info))
    qtree = {
        "413": {"BTcode": "10", "questions": ["giant circle?", "Toes touch the bar?"], "code": "4.103"},
        "20": {"BTcode": "1", "questions": ["round-off onto the springboard?"], "code": "4.60"},
    }
    (folder / "finegym_glabel_to_Qtree.json").write_text(json.dumps(qtree))


def test_finegym_fixture_relative_and_absolute_times(tmp_path: Path) -> None:
    _write_finegym(tmp_path)
    items = load("finegym", tmp_path, label_set="gym99")
    when = {i.metadata["element"]: i for i in by_template(items, "when_action")}
    assert when["A_0003_0005"].answer == "3.45-5.64" and when["A_0003_0005"].video == "yt_ab-c_E_002407_002435.mp4"
    assert when["A_0010_0012"].answer == "10.0-12.0"  # no annotation info for it: the whole seconds in its id
    element = next(i for i in by_template(items, "element") if i.metadata["element"] == "A_0003_0005")
    assert chosen(element) == "giant circle backward with 0.5 turn to handstand" and len(element.options or []) == 2
    attributes = {i.metadata["attribute"]: chosen(i) for i in by_template(items, "element_attribute")}
    assert attributes == {"giant circle?": "Yes", "Toes touch the bar?": "No", "round-off onto the springboard?": "Yes"}
    assert [i.answer for i in by_template(items, "vault_difficulty")] == ["4.6"]
    absolute = load("finegym", tmp_path, label_set="gym99", event_videos=False)
    when = {i.metadata["element"]: i for i in by_template(absolute, "when_action")}
    assert when["A_0003_0005"].answer == "2410.77-2412.96" and when["A_0003_0005"].video == "yt_ab-c.mp4"
    assert when["A_0010_0012"].answer == "2417.0-2419.0"
    (tmp_path / "gym99_val_element.txt").write_text("yt_E_1_2_A_3_4 9\n")
    with pytest.raises(SourceError, match=r"gym99_val_element.txt:1: label 9 is not in gym99_categories.txt"):
        list(load_source("finegym", tmp_path, label_set="gym99"))


@needs_shared
def test_finegym_shared_sample() -> None:
    items = load("finegym", ANNOTATIONS / "finegym")
    first = next(i for i in by_template(items, "element") if i.metadata["youtube_id"] == "0LtLS9wROrk")
    assert (first.evidence.start, first.evidence.end) == (3.45, 5.64)  # from the annotation info example
    assert {i.metadata["split"] for i in items} == {"train", "val"}


# --- Penn Action -----------------------------------------------------------------------------------------


def test_penn_action_fixture(tmp_path: Path) -> None:
    from scipy.io import savemat

    frames = 40
    y = np.full((frames, 13), 200.0)
    y[:, 6] = 200.0 - 150.0 * np.exp(-(((np.arange(frames) - 20) / 4.0) ** 2))  # right wrist peaks at row 20
    visibility = np.ones((frames, 13), dtype=np.uint8)
    mat = {
        "action": "tennis_serve",
        "pose": "left",
        "x": np.zeros((frames, 13)),
        "y": y,
        "visibility": visibility,
        "train": np.array([[1]]),
        "nframes": np.array([[frames]]),
    }
    savemat(tmp_path / "0042.mat", mat)
    items = load("penn_action", tmp_path, fps=30.0)
    answers = {i.metadata["template"]: i for i in items}
    assert chosen(answers["action_in_clip"]) == "tennis serve" and answers["action_in_clip"].sport == "tennis"
    assert chosen(answers["camera_view"]) == "Left side" and answers["camera_view"].metadata["split"] == "train"
    peak = answers["when_joint_highest"]
    assert (peak.answer, peak.metadata["frame"], peak.video) == ("0.67", 21, "0042.mp4")  # row 20 = frame file 21
    assert "right wrist" in peak.question
    savemat(tmp_path / "0043.mat", {"action": "squat"})
    with pytest.raises(SourceError, match=r"0043.mat: missing pose, y, visibility, train"):
        list(load_source("penn_action", tmp_path))


@needs_shared
def test_penn_action_shared_sample() -> None:
    items = load("penn_action", ANNOTATIONS / "penn_action")
    actions = {i.video: chosen(i) for i in by_template(items, "action_in_clip")}
    assert actions == {
        "0001.mp4": "baseball pitch",
        "0002.mp4": "baseball pitch",
        "1000.mp4": "jump rope",
        "2326.mp4": "tennis serve",
    }
    assert {i.video: i.metadata["split"] for i in items}["0002.mp4"] == "train"


# --- NSVA ------------------------------------------------------------------------------------------------


def _write_nsva_captions(folder: Path) -> None:
    sentences = [
        {"video_id": "video7", "caption": "<T2>_Made_Shot-Jump_Shot Foul-Shooting"},
        {"video_id": "video7", "caption": "<T3>_Curry makes 26-foot three point jumper"},
        {"video_id": "video7", "caption": "<T1>_201939"},
    ]
    (folder / "ourds_description_only.json").write_text(json.dumps({"sentences": sentences}))
    (folder / "videoid2gameid_eventid.json").write_text(json.dumps({"video7": "0021800013-4"}))


def test_nsva_fixture(tmp_path: Path) -> None:
    coarse = {
        "Made_Shot-Jump_Shot": "Shot",
        "Foul-Shooting": "Foul",
        "Foul-Personal": "Foul",
        "Block": "Block",
        "Steal": "Steal",
    }
    fine = {
        "Made_Shot-Jump_Shot": "Jump_Shot",
        "Foul-Shooting": "Foul-Shooting",
        "Foul-Personal": "Foul-Personal",
        "Block": "Block",
        "Steal": "Steal",
    }
    (tmp_path / "action_list_Coarse.json").write_text(json.dumps(coarse))
    (tmp_path / "action_list_Fine.json").write_text(json.dumps(fine))
    _write_nsva_captions(tmp_path)
    items = load("nsva", tmp_path)
    assert {i.video for i in items} == {"0021800013-4.mp4"}
    shot = next(i for i in by_template(items, "event_in_clip") if i.metadata["event"] == "Made_Shot-Jump_Shot")
    assert chosen(shot) == "Shot" and "Foul" not in (shot.options or [])  # another true answer is no distractor
    call = by_template(items, "foul_type")[0]
    assert chosen(call) == "Foul-Shooting"
    assert set(call.options or []) == {"Foul-Shooting", "Foul-Personal"} and call.dimension == "rules"
    assert chosen(by_template(items, "shot_outcome")[0]) == "Made"
    caption = by_template(items, "play_caption")[0]
    assert caption.answer == "Curry makes 26-foot three point jumper" and caption.dimension == "commentary"


@needs_shared
def test_nsva_shared_sample_needs_the_captions(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no caption file"):
        list(load_source("nsva", ANNOTATIONS / "nsva"))
    for name in ("action_list_Coarse.json", "action_list_Fine.json"):
        (tmp_path / name).write_bytes((ANNOTATIONS / "nsva" / name).read_bytes())
    _write_nsva_captions(tmp_path)
    items = load("nsva", tmp_path)
    call = by_template(items, "foul_type")[0]
    assert chosen(call) == "Foul-Shooting" and len(call.options or []) == 4
    assert all(option.startswith("Foul-") for option in call.options or [])  # distractors: other foul calls
    assert chosen(by_template(items, "shot_outcome")[0]) == "Made"


# --- MultiSports ----------------------------------------------------------------------------------------


def _tube(first: int, last: int) -> np.ndarray:
    frames = np.arange(first, last + 1, dtype=float)
    return np.stack([frames, frames, frames + 1, frames + 50, frames + 80], axis=1)


def _write_multisports(path: Path, with_labels: bool = True) -> None:
    data = {
        "train_videos": [["volleyball/v_abc_c001"]],
        "test_videos": [[]],
        "nframes": {"volleyball/v_abc_c001": 100},
        "resolution": {"volleyball/v_abc_c001": (720, 1280)},
        "gttubes": {"volleyball/v_abc_c001": {0: [_tube(1, 10), _tube(50, 60)], 1: [_tube(11, 35)]}},
    }
    if with_labels:
        data["labels"] = [
            "volleyball serve",
            "volleyball spike",
            "volleyball block",
            "volleyball dink",
            "football shoot",
        ]
    path.write_bytes(pickle.dumps(data))


def test_multisports_fixture_counts_frames_from_one(tmp_path: Path) -> None:
    _write_multisports(tmp_path / "multisports_GT.pkl")
    items = load("multisports", tmp_path, fps=25.0)
    spike = by_template(items, "when_action")[0]
    assert (spike.answer, spike.metadata["frames"], spike.video) == ("0.4-1.4", [11, 35], "volleyball/v_abc_c001.mp4")
    assert spike.sport == "volleyball" and spike.metadata["split"] == "train"
    counts = {i.metadata["label"]: i.answer for i in by_template(items, "count_events")}
    assert counts == {"serve": "2", "spike": "1"}
    first = by_template(items, "action_in_span")[0]
    assert chosen(first) == "serve" and (first.evidence.start, first.evidence.end) == (0.0, 0.4)
    assert "shoot" not in (first.options or [])  # another sport's label is no distractor


@needs_shared
def test_multisports_shared_labels_with_a_split_pickle(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no multisports_GT.pkl"):
        list(load_source("multisports", ANNOTATIONS / "multisports"))
    _write_multisports(tmp_path / "multisports_GT.pkl", with_labels=False)
    with pytest.raises(SourceError, match="labels_file"):
        list(load_source("multisports", tmp_path))
    labels = ANNOTATIONS / "multisports" / "multisports_66_labels_from_dataset_card.txt"
    items = load("multisports", tmp_path, labels_file=labels)
    counts = {i.metadata["label"]: i.answer for i in by_template(items, "count_events")}
    assert counts == {"push up": "2", "explosive push up": "1"}  # indices 0 and 1 of the 66, sport prefix dropped


# --- SPORTU ------------------------------------------------------------------------------------------------


def test_sportu_fixture(tmp_path: Path) -> None:
    mc = [
        {
            "id": "american_football_93",
            "question": "What kind of foul does this video show?",
            "options": {"A": "Unknown", "B": "Holding"},
            "answer": "B",
            "difficulty level": "hard",
        }
    ]
    oe = [
        {"id": "Badminton_7_1", "question": "How many players are there?", "answer": "two", "difficulty level": "easy"}
    ]
    (tmp_path / "SportU_Video_mc.json").write_text(json.dumps(mc))
    (tmp_path / "SportU_video_oe.json").write_text(json.dumps(oe))
    items = load("sportu", tmp_path)
    foul, count = sorted(items, key=lambda i: i.answer_type)
    assert (foul.answer, foul.options, foul.sport, foul.task_type, foul.video) == (
        "B",
        ["Unknown", "Holding"],
        "american football",
        "rules",
        "american_football_93.mp4",
    )
    assert (count.answer_type, count.sport, count.task_type) == ("text", "badminton", "counting")
    mc[0]["answer"] = "E"
    (tmp_path / "SportU_Video_mc.json").write_text(json.dumps(mc))
    with pytest.raises(SourceError, match=r"question 0 \(american_football_93\): answer 'E' is not one of its options"):
        list(load_source("sportu", tmp_path))


@needs_shared
def test_sportu_shared_sample() -> None:
    items = load("sportu", ANNOTATIONS / "sportu")
    assert len(items) == 23 and sum(i.answer_type == "choice" for i in items) == 13
    badminton = next(i for i in items if i.metadata["clip"] == "Badminton_76")
    assert chosen(badminton) == "2" and badminton.task_type == "counting"


# --- bring your own -----------------------------------------------------------------------------------


def test_custom_events_and_questions(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(
        "video,label,start,end,sport\nm/a.mp4,serve,1:05,,tennis\nm/a.mp4,ace,70,72.5,tennis\nm/a.mp4,serve,90,,tennis\n"
    )
    rows = [
        {
            "video": "m/b.mp4",
            "question": "Who wins the point?",
            "answer": "Nadal",
            "options": ["Federer", "Nadal"],
            "sport": "tennis",
        },
        {
            "video": "m/b.mp4",
            "question": "When is the smash?",
            "answer": "12.5-14",
            "answer_type": "time_span",
            "start": 12.5,
            "end": 14,
            "dimension": "recognition",
            "task_type": "temporal_localisation",
        },
        {
            "video": "m/b.mp4",
            "question": "Score the serve from 1 to 10.",
            "answer": "7",
            "answer_type": "number",
            "dimension": "assessment",
            "tolerance": 1,
        },
    ]
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    items = load("custom", tmp_path)
    ace = next(i for i in by_template(items, "when_action"))
    assert (ace.answer, ace.metadata["line"], ace.sport) == ("70.0-72.5", "events.csv:3", "tennis")
    serve = next(i for i in by_template(items, "event_at") if i.metadata["line"] == "events.csv:2")
    assert chosen(serve) == "serve" and "65.0 s" in serve.question  # 1:05 -> 65 s
    assert {i.metadata["label"]: i.answer for i in by_template(items, "count_events")} == {"ace": "1", "serve": "2"}
    questions = by_template(items, "custom_question")
    assert [q.answer for q in questions] == ["B", "12.5-14", "7"] and questions[2].metadata["tolerance"] == 1.0
    assert questions[1].evidence.end == 14.0 and questions[2].dimension == "assessment"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("video,label,start\nm/a.mp4,serve,1\nm/a.mp4,,2\n", r"x.csv:3: missing 'label'"),
        ("video,label,start\nm/a.mp4,serve,soon\n", r"x.csv:2: 'start' is 'soon'; expected seconds"),
        ("video,label,start\n../a.mp4,serve,1\n", r"x.csv:2: video '../a.mp4'.*'\.\.'"),
        ("video,label,start,end\nm/a.mp4,serve,5,4\n", r"x.csv:2: 'end' 4.0 is before 'start' 5.0"),
        ("video,question,answer,options\nm/a.mp4,Who?,Zed,A|B\n", r"x.csv:2: answer 'Zed' is neither an option letter"),
        (
            "video,question,answer,dimension\nm/a.mp4,Who?,Zed,fun\n",
            r"x.csv:2: dimension 'fun'; expected one of recognition",
        ),
        (
            "video,question,answer,task_type\nm/a.mp4,Who?,Zed,localization\n",
            r"x.csv:2: task_type 'localization'; expected one of recognition, temporal_localisation",
        ),
        ("video,clip\nm/a.mp4,1\n", r"x.csv: no 'label' or 'question' column"),
    ],
)
def test_custom_bad_rows_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "x.csv").write_text(content)
    with pytest.raises(SourceError, match=message):
        list(load_source("custom", tmp_path / "x.csv"))
