"""Readers of published eye-tracking formats, synthetic generators, and Lightning DataModules.

Readers (each returns gazekit's types; bad input raises DataFormatError naming file, line/record and field):

* ``coco_search18``: COCO-Search18 (TP/TA) and COCO-FreeView fixation JSON, 1680x1050 / 512x320 frames,
  images root, split1/split2.
* ``object_level``: the object-level view (detections or COCO annotations, Amazon covers on OAT's grid).
* ``mit1003`` (original per-subject .mat layout), ``capmit1003`` (SQLite), ``gazefollow``,
  ``videoattentiontarget``, ``amazon``, ``oat_shelves``, ``eyelink`` (ASC), ``generic_csv``.
* DataModules, one per data family: ``search_trials`` (object-level search trials: the synthetic search
  world and COCO-Search18 / Amazon covers), ``gaze_following`` (GazeFollow / VideoAttentionTarget images),
  ``synthetic.gaze`` (the synthetic gaze world); base class in ``base``, seeded splits in ``splits``.
* ``download``: ``gazekit download NAME --root DIR``.
"""
