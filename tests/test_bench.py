"""edgefer.bench's video frames carry scikit-image's astronaut face without needing scikit-image."""
import cv2
import numpy as np
import skimage.data

from edgefer.bench import synthetic_video


def test_synthetic_video_holds_the_astronaut_face_pixel_for_pixel():
    """The packaged face (lossless WebP) equals rows 20-219, columns 130-329 of skimage's astronaut,
    placed at (200, 120) in the first of the 640x480 frames."""
    frames = synthetic_video(3)
    face = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)[20:220, 130:330]
    assert len(frames) == 3 and frames[0].shape == (480, 640, 3)
    assert np.array_equal(frames[0][120:320, 200:400], face)
    assert np.array_equal(frames[1][121:321, 201:401], face)
