"""The transformers pose backend, for users with a GPU and downloaded weights: a person detector (any
``AutoModelForObjectDetection`` checkpoint with a "person" class, e.g. RT-DETR) finds the people, ViTPose
(``VitPoseForPoseEstimation``) poses each box. Both are loaded by name or local path like the VLM.

ViTPose gives the 17 COCO keypoints; they go into the 33 MediaPipe landmarks they share a name with (nose, eyes,
ears, shoulders, elbows, wrists, hips, knees, ankles), the hands' and feet's other landmarks unseen, so every
joint angle and velocity of ``kinematics`` is measured the same way. People keep ids across the frames as with
the MediaPipe backend (``people.assign``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from deepsport.pose.kinematics import INDEX, LANDMARKS, PoseFrame, measure
from deepsport.pose.tracking import Person, Track, assign
from deepsport.video import Frame

COCO = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
TO_LANDMARKS = np.array([INDEX[name] for name in COCO])
THRESHOLD = 0.5  # detector score for a person
MAX_PEOPLE = 16  # per frame, the highest scores first


class TransformersPeopleEstimator:
    """People found by `detector` and posed by `pose_model` (names or paths of transformers checkpoints) on
    `device` ("cuda", "cpu"; None: CUDA when available). Same results as PeopleEstimator: each frame's people with
    ids kept across the frames; `references` are accepted for the same call and not needed."""

    def __init__(
        self,
        detector: str,
        pose_model: str,
        device: str | None = None,
        threshold: float = THRESHOLD,
        max_people: int = MAX_PEOPLE,
    ) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModelForObjectDetection, VitPoseForPoseEstimation

        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.threshold = threshold
        self.max_people = max_people
        self.detector_processor: Any = AutoImageProcessor.from_pretrained(detector)
        self.detector: Any = AutoModelForObjectDetection.from_pretrained(detector)
        self.detector.to(self.device).eval()
        labels = {str(name).lower(): int(k) for k, name in self.detector.config.id2label.items()}
        if "person" not in labels:
            raise ValueError(f"the detector {detector} has no 'person' class (its classes: {', '.join(labels)})")
        self.person_label = labels["person"]
        self.pose_processor: Any = AutoImageProcessor.from_pretrained(pose_model)
        vitpose: Any = VitPoseForPoseEstimation  # its from_pretrained's stub wants a model, not a name
        self.pose_model: Any = vitpose.from_pretrained(pose_model)
        self.pose_model.to(self.device).eval()

    def estimate(self, frames: Sequence[Frame], references: Sequence[Frame] = ()) -> list[list[Person]]:
        return list(self.stream(frames, references))

    def stream(self, frames: Sequence[Frame], references: Sequence[Frame] = ()) -> Iterator[list[Person]]:
        tracks: list[Track] = []
        for frame in sorted(frames, key=lambda f: f.time):
            yield assign(tracks, [], self.poses(frame))

    def poses(self, frame: Frame) -> list[PoseFrame]:
        """The people in one frame, posed, keypoints in the frame's pixels (velocities come from the tracks)."""
        image = frame.image.convert("RGB")
        size = (image.width, image.height)
        boxes = self.people(image)
        if len(boxes) == 0:
            return []
        coco = boxes.copy()
        coco[:, 2:] -= coco[:, :2]  # ViTPose takes (x, y, width, height)
        inputs = self.pose_processor(images=image, boxes=[coco.tolist()], return_tensors="pt").to(self.device)
        with self._torch.inference_mode():
            outputs = self.pose_model(**inputs)
        results = self.pose_processor.post_process_pose_estimation(outputs, boxes=[coco.tolist()])[0]
        poses = []
        for result in results:
            keypoints = result["keypoints"].cpu().numpy().astype(np.float64)
            scores = result["scores"].cpu().numpy().astype(np.float64)
            points = np.repeat(keypoints[:1], len(LANDMARKS), axis=0)  # unmapped landmarks sit on the nose, unseen
            visibility = np.zeros(len(LANDMARKS))
            points[TO_LANDMARKS], visibility[TO_LANDMARKS] = keypoints, scores
            poses.append(measure(frame.time, size, points, visibility))
        return poses

    def people(self, image: Any) -> np.ndarray:
        """(n, 4) boxes (x0, y0, x1, y1) in pixels of the people the detector finds, highest score first."""
        inputs = self.detector_processor(images=image, return_tensors="pt").to(self.device)
        with self._torch.inference_mode():
            outputs = self.detector(**inputs)
        found = self.detector_processor.post_process_object_detection(
            outputs, threshold=self.threshold, target_sizes=[(image.height, image.width)]
        )[0]
        keep = (found["labels"] == self.person_label).cpu().numpy()
        boxes = found["boxes"].cpu().numpy()[keep]
        order = np.argsort(-found["scores"].cpu().numpy()[keep])[: self.max_people]
        boxes = boxes[order].astype(np.float64)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, image.width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, image.height)
        return boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]

    def close(self) -> None:
        """Nothing to release beyond the models, which go with the estimator."""
