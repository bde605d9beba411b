"""Pose estimation: MediaPipe Pose per frame (``estimator``), kinematics in pure numpy (``kinematics``), tables,
JSON and skeleton overlays (``report``), and the ``deepsport pose`` command (``cli``).

MediaPipe is an optional extra (``pip install -e ".[pose]"``): only building a PoseEstimator imports it, and that
raises PoseUnavailable with the install command when it is missing.
"""
