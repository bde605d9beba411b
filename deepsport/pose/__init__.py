"""Pose estimation: MediaPipe Pose per frame (``estimator``), every person in the shot (``people``: the full-frame
pass, people found moving by ``motion`` and posed on crops, ids kept by ``tracking``), a transformers backend for
GPUs (``hf_pose``: a person detector and ViTPose), kinematics in pure numpy (``kinematics``), and tables, JSON and
skeleton overlays (``report``); the ``deepsport pose`` command is in ``deepsport.tools_cli``.

MediaPipe is an optional extra (``pip install -e ".[pose]"``): only building a PoseEstimator imports it, and that
raises PoseUnavailable with the install command when it is missing.
"""
