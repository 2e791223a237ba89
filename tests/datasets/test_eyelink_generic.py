"""EyeLink ASC (synthetic text in the manual's format) and the generic CSV/TSV reader."""

from __future__ import annotations

import numpy as np
import pytest

from gazekit.datasets.eyelink import read_eyelink_asc
from gazekit.datasets.generic_csv import read_generic_csv
from gazekit.errors import ConfigError, DataFormatError

ASC = """** CONVERTED FROM D:\\rec\\s01.edf using edfapi 4.2
** DATE: Mon Jan  1 10:00:00 2024
MSG	1000 DISPLAY_COORDS 0 0 1279 1023
MSG	1001 GAZE_COORDS 0.00 0.00 1919.00 1079.00
START	2000 	LEFT	RIGHT	SAMPLES	EVENTS
PRESCALER	1
EVENTS	GAZE	LEFT	RIGHT	RATE	1000.00	TRACKING	CR	FILTER	2
MSG	2001 TRIALID 1
MSG	2002 !V IMGLOAD FILL C:\\exp\\images\\beach.jpg
SFIX L   2010
SFIX R   2010
2010	  640.1	  512.3	 1021.0	  641.0	  511.0	 1030.0	.....
EFIX L   2010	2209	200	  640.5	  512.5	   1020
EFIX R   2010	2209	200	  641.5	  511.5	   1030
SSACC L  2210
ESACC L  2210	2239	30	  640.5	  512.5	  100.2	  200.1	   12.3	    500
EFIX L   2240	2489	250	  100.0	  200.0	   1000
EFIX L   2490	2589	100	    .	    .	      0
EFIX L   2590	2689	100	 1500.0	  300.0	   1000
MSG	2700 TRIAL_RESULT 0
EFIX L   2710	2799	90	  10.0	  20.0	   1000
MSG	2800 TRIALID 2
# a comment line
EFIX L   2810	3009	200	  300.0	  400.0	   1000
END	3100 	SAMPLES	EVENTS	RES	  38.00	  35.00
"""


def test_eyelink_trials_display_and_events(tmp_path):
    f = tmp_path / "s01.asc"
    f.write_text(ASC)
    t1, t2 = read_eyelink_asc(f, stimulus_pattern=r"!V IMGLOAD \w+ (\S+)")
    assert (t1.width, t1.height) == (1280, 1024)  # DISPLAY_COORDS, not GAZE_COORDS
    assert t1.stimulus == "beach.jpg" and t1.subject == "s01" and t1.meta["trial_id"] == "1"
    np.testing.assert_allclose(t1.xy, [[640.5, 512.5], [100.0, 200.0]])  # right eye, '.' and off-screen dropped
    np.testing.assert_allclose(t1.duration, [200, 250])
    assert t1.meta["dropped_offscreen"] == 1 and t1.meta["eye"] == "L"
    assert t2.stimulus == "trial_2" and len(t2) == 1  # the fixation between trials is not in any trial
    r = read_eyelink_asc(f, eye="R")
    assert r[0].xy.tolist() == [[641.5, 511.5]]
    assert len(read_eyelink_asc(f, offscreen="keep")[0]) == 3
    with pytest.raises(DataFormatError, match="outside") as e:
        read_eyelink_asc(f, offscreen="error")
    assert e.value.line == 19


def test_eyelink_without_trial_messages_uses_recording_blocks(tmp_path):
    f = tmp_path / "b.asc"
    f.write_text(
        "START 1 LEFT\nEFIX L 1 100 100 10 20 1\nEND 200\nSTART 300 LEFT\nEFIX L 300 400 101 30 40 1\nEND 500\n"
    )
    a, b = read_eyelink_asc(f)
    assert a.xy.tolist() == [[10, 20]] and b.xy.tolist() == [[30, 40]] and a.width is None


@pytest.mark.parametrize(
    ("line", "field"),
    [("EFIX L 1 100 100 10", "EFIX"), ("EFIX X 1 100 100 10 20 1", "eye"), ("EFIX L 1 100 abc 10 20 1", "dur"),
     ("EFIX L 1 100 100 nan 20 1", "axp"), ("MSG 5 DISPLAY_COORDS 0 0 1279", "DISPLAY_COORDS")],
)  # fmt: skip
def test_eyelink_malformed_lines(tmp_path, line, field):
    f = tmp_path / "m.asc"
    f.write_text("START 1 LEFT\n" + line + "\nEND 200\n")
    with pytest.raises(DataFormatError) as e:
        read_eyelink_asc(f)
    assert e.value.line == 2 and e.value.field == field and "m.asc" in str(e.value)


def test_generic_tsv_with_mapping(tmp_path):
    f = tmp_path / "rec.tsv"
    f.write_text(
        "MEDIA\tUSER\tIDX\tFX\tFY\tDUR\n"
        "a.png\tu1\t1\t0.5\t0.5\t0.2\n"
        "a.png\tu1\t0\t0.1\t0.2\t0.1\n"
        "b.png\tu1\t0\t0.9\t0.9\t0.3\n"
    )
    cols = {"stimulus": "MEDIA", "subject": "USER", "index": "IDX", "x": "FX", "y": "FY", "duration": "DUR"}
    a, b = read_generic_csv(f, cols, duration_unit="s", coords="normalized", frame_size=(1000, 500))
    np.testing.assert_allclose(a.xy, [[100, 100], [500, 250]])  # sorted by IDX
    np.testing.assert_allclose(a.duration, [100, 200])
    assert (a.stimulus, a.subject, a.width) == ("a.png", "u1", 1000) and len(b) == 1


def test_generic_csv_errors(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("x,y\n1,2\n3\n")
    with pytest.raises(DataFormatError, match="2 columns") as e:
        read_generic_csv(f)
    assert e.value.line == 3
    f.write_text("x,y\n1,-2\n")
    with pytest.raises(DataFormatError, match="minimum") as e:
        read_generic_csv(f)
    assert e.value.field == "y"
    f.write_text("gx,y\n1,2\n")
    with pytest.raises(DataFormatError, match="missing column 'x'"):
        read_generic_csv(f)
    f.write_text("x,y,img\n1,2,../../etc/passwd\n")
    with pytest.raises(DataFormatError, match="root"):
        read_generic_csv(f, {"x": "x", "y": "y", "stimulus": "img"})
    with pytest.raises(ConfigError):
        read_generic_csv(f, {"x": "x"})
    f.write_text("x,y\n0.5,0.5\n")
    with pytest.raises(DataFormatError, match="normalized"):
        read_generic_csv(f, coords="normalized")
