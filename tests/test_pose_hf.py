"""The transformers pose backend's mechanics on tiny random checkpoints built here (RT-DETR and ViTPose configs a
few layers deep): people found by the detector, posed into the 33 landmarks, tracked, and served by the tool."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    RTDetrConfig,
    RTDetrForObjectDetection,
    RTDetrImageProcessor,
    RTDetrResNetConfig,
    VitPoseBackboneConfig,
    VitPoseConfig,
    VitPoseForPoseEstimation,
    VitPoseImageProcessor,
)

from deepsport.dev.synthetic import make_video
from deepsport.pose.hf_pose import TO_LANDMARKS, TransformersPeopleEstimator
from deepsport.pose.people import open_people_finder
from deepsport.tools import Episode, Toolbox
from deepsport.video import Video


def tiny_detector(path: Path, labels: dict[int, str]) -> Path:
    """A random RT-DETR whose class scores are pushed up, so that it reports boxes at any threshold."""
    torch.manual_seed(0)
    backbone = RTDetrResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16, 16, 16], depths=[1, 1, 1, 1], out_features=["stage2", "stage3", "stage4"]
    )
    config = RTDetrConfig(
        backbone_config=backbone,
        encoder_in_channels=[16, 16, 16],
        encoder_hidden_dim=16,
        encoder_ffn_dim=16,
        d_model=16,
        decoder_in_channels=[16, 16, 16],
        decoder_ffn_dim=16,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_queries=6,
        num_denoising=0,
        id2label=labels,
        label2id={name: k for k, name in labels.items()},
    )
    model = RTDetrForObjectDetection(config).eval()
    for name, module in model.named_modules():
        if name.split(".")[-1].startswith("class_embed") and isinstance(module, torch.nn.Linear):
            torch.nn.init.constant_(module.bias, 8.0)
    model.save_pretrained(path)
    RTDetrImageProcessor(size={"height": 64, "width": 64}).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("hf_pose")
    detector = tiny_detector(root / "detector", {0: "person"})
    torch.manual_seed(0)
    backbone = VitPoseBackboneConfig(
        image_size=[64, 48], patch_size=[16, 16], hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, out_indices=[1],
    )  # fmt: skip
    VitPoseForPoseEstimation(VitPoseConfig(backbone_config=backbone, num_labels=17)).save_pretrained(root / "pose")
    VitPoseImageProcessor(size={"height": 64, "width": 48}).save_pretrained(root / "pose")
    return str(detector), str(root / "pose")


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("hf_pose_video") / "v.mp4", duration=2.0, fps=10.0, size=(320, 240))


def test_people_are_detected_posed_into_the_33_landmarks_and_tracked(checkpoints, video):
    estimator = open_people_finder("transformers", *checkpoints, device="cpu")
    assert isinstance(estimator, TransformersPeopleEstimator)
    with Video(video) as opened:
        frames = opened.frames_at([0.5, 0.6, 0.7])
    people = estimator.estimate(frames)
    assert [len(found) for found in people] == [len(people[0])] * 3 and 1 <= len(people[0]) <= 6
    for person in people[0]:
        pose = person.pose
        assert pose.found and pose.points is not None and pose.points.shape == (33, 2)
        assert pose.visibility is not None and pose.frame_size == (320, 240)
        unmapped = np.setdiff1d(np.arange(33), TO_LANDMARKS)
        assert (pose.visibility[unmapped] == 0).all()  # hands' and feet's other landmarks are not guessed
        assert set(pose.angles or {}) >= {"left_elbow", "right_knee", "trunk_lean"}
    # the frames are alike, so each person keeps their id, with velocities from the second frame on
    assert [p.id for p in people[2]] == [p.id for p in people[0]]
    assert all(p.pose.dt == pytest.approx(0.1) for p in people[1])


def test_the_tool_runs_on_the_backend_named_in_its_options(checkpoints, video):
    detector, pose_model = checkpoints
    options = {"estimate_pose": {"backend": "transformers", "detector": detector, "pose_model": pose_model}}
    box = Toolbox(Episode.open(video), ["estimate_pose"], options)
    result, _ = box.call("estimate_pose", {"start": 0.5, "end": 1.0, "num_frames": 3})
    assert result.ok, result.text
    assert result.text.startswith("Pose from 0.50s to 1.00s:") and "in 3 of 3 frames" in result.text


def test_refusals(tmp_path, checkpoints, video):
    with pytest.raises(ValueError, match="unknown pose backend 'openpose'"):
        open_people_finder("openpose")
    with pytest.raises(ValueError, match="needs a detector and a pose_model"):
        open_people_finder("transformers", detector=checkpoints[0])
    no_person = tiny_detector(tmp_path / "balls", {0: "ball"})
    with pytest.raises(ValueError, match="has no 'person' class"):
        open_people_finder("transformers", str(no_person), checkpoints[1])
    with pytest.raises(ValueError, match="estimate_pose: unknown backend 'openpose'"):
        Toolbox(Episode.open(video), ["estimate_pose"], {"estimate_pose": {"backend": "openpose"}})
    options = {"estimate_pose": {"backend": "transformers", "detector": str(tmp_path / "nowhere"), "pose_model": "x"}}
    result, _ = Toolbox(Episode.open(video), ["estimate_pose"], options).call("estimate_pose", {"time": 1.0})
    assert not result.ok and result.text.startswith("Error: the pose backend cannot start:")
