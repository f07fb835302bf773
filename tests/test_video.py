"""Tests for edgefer.video: reading frames, fast recognition with tracking, atomic writing."""
import cv2
import numpy as np
import pytest

from edgefer.errors import DataError
from edgefer.recognize import Recognizer
from edgefer.video import VideoRecognizer, VideoWriter, iter_camera, iter_frames, video_info


def iou(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def recognizer(tiny_checkpoint):
    """A Recognizer on the tiny test checkpoint."""
    return Recognizer(tiny_checkpoint)


@pytest.mark.parametrize("every, expected", [(1, [0, 1, 2, 3, 4, 5, 6]), (2, [0, 2, 4, 6]), (3, [0, 3, 6])])
def test_iter_frames_every_nth(face_video, every, expected):
    """iter_frames yields the indices 0, every, 2*every, ... with full-size BGR uint8 frames."""
    frames = list(iter_frames(face_video[0], every))
    assert [i for i, _ in frames] == expected
    assert all(f.shape == (240, 320, 3) and f.dtype == np.uint8 for _, f in frames)


def test_video_info_reads_size_and_fps(face_video):
    """video_info reports the written size, frame rate and frame count."""
    info = video_info(face_video[0])
    assert (info.width, info.height, info.frame_count) == (320, 240, 7)
    assert info.fps == pytest.approx(10.0)


def test_iter_frames_missing_file_raises_naming_it(tmp_path):
    """A missing video raises FileNotFoundError naming the file."""
    with pytest.raises(FileNotFoundError, match="gone.mp4"):
        iter_frames(tmp_path / "gone.mp4")


def test_iter_frames_unreadable_raises_when_called(tmp_path):
    """A text file named .mp4 raises DataError naming it at the call, before any next()."""
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 20)
    with pytest.raises(DataError, match=r"notes\.mp4: cannot open as a video"):
        iter_frames(bad)


def test_iter_frames_rejects_bad_every(face_video):
    """every must be a positive int."""
    with pytest.raises(ValueError, match="`every` must be an int >= 1; got 0"):
        iter_frames(face_video[0], 0)


def test_iter_camera_unopenable_raises():
    """A camera index that does not exist raises DataError naming the camera."""
    with pytest.raises(DataError, match="camera 97: cannot be opened"):
        iter_camera(97)


@pytest.mark.parametrize("detect_every", [1, 3])
def test_video_recognizer_follows_the_face(recognizer, face_video, detect_every):
    """With full scans every frame or every third frame (tracking between), each frame's box fits the face."""
    path, truth = face_video
    vr = VideoRecognizer(recognizer, detect_every=detect_every)
    for index, _frame, faces in vr.run(path):
        assert len(faces) == 1
        assert iou(faces[0].box, truth[index]) > 0.8
        assert sum(faces[0].probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_video_recognizer_tracked_boxes_match_full_scans(recognizer, face_video):
    """Between full scans, tracked boxes stay as close to the true face as boxes kept unchanged or closer."""
    path, truth = face_video
    tracked = [f[0].box for _, _, f in VideoRecognizer(recognizer, detect_every=7).run(path)]
    kept = [f[0].box for _, _, f in VideoRecognizer(recognizer, detect_every=7, track=False).run(path)]
    assert np.mean([iou(b, t) for b, t in zip(tracked, truth)]) > np.mean([iou(b, t) for b, t in zip(kept, truth)])
    assert min(iou(b, t) for b, t in zip(tracked, truth)) > 0.8


def test_video_recognizer_blank_frame_gives_no_faces(recognizer):
    """A blank frame has no face: an empty list."""
    assert VideoRecognizer(recognizer).process(np.zeros((480, 640, 3), np.uint8)) == []


def test_video_writer_writes_atomically(tmp_path):
    """Frames written in the block make a readable video; an error in the block leaves no file behind."""
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(3)]
    with VideoWriter(tmp_path / "ok.avi", 5.0, (64, 48)) as w:
        for f in frames:
            w.write(f)
    assert [i for i, _ in iter_frames(tmp_path / "ok.avi")] == [0, 1, 2]
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "broken.avi", 5.0, (64, 48)) as w:
            w.write(frames[0])
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.avi"]


def test_video_writer_rejects_wrong_frame_size(tmp_path):
    """A frame of another size than the writer's raises ValueError with both sizes."""
    with pytest.raises(ValueError, match="must be 64x48"):
        with VideoWriter(tmp_path / "v.avi", 5.0, (64, 48)) as w:
            w.write(np.zeros((10, 10, 3), np.uint8))


def test_video_recognizer_from_a_path_fuses_eagerly_and_keeps_a_given_recognizer(tmp_path):
    """Given a checkpoint path, VideoRecognizer loads it with edge fusion in plain torch ops;
    given a Recognizer, it uses it as built (nothing of it is switched)."""
    from edgefer.checkpoint import save_checkpoint
    from edgefer.models import create_model
    from edgefer.models._fusion import EdgeFusion
    from edgefer.preprocess.spec import PreprocessSpec

    model = create_model("fernet_small", fusion="feature")
    path = save_checkpoint(tmp_path / "fused.pt", model_name="fernet_small", model_kwargs={"fusion": "feature"},
                           state_dict=model.state_dict(),
                           preprocess=PreprocessSpec(input_size=48, equalize=True, mean=0.5, std=0.25).to_dict())

    def flags(vr):
        return [m.eager for m in vr.classifier.classifier.model.modules() if isinstance(m, EdgeFusion)]

    assert flags(VideoRecognizer(path)) == [True]
    rec = Recognizer(path)
    assert VideoRecognizer(rec).classifier is rec and flags(VideoRecognizer(rec)) == [False]
