"""Images as the method sees them: Algorithm 1 and the image transforms.

- :mod:`.conversion`: Algorithm 1, a grey-level image to a 3D point set (and back to pixels), and the
  encodings with grey levels as density weights
- :mod:`.transforms`: rotations, mirror images, shifts and rescalings of images (Experiment 4)
- :mod:`.selection`: the rules that pick the example images of the figures
"""

from pixelsoap.images.conversion import (
    ENCODINGS,
    GREY_LEVELS_PER_Z,
    check_encoding,
    describe_counts,
    encode_image,
    encode_images,
    image_to_points,
    images_to_points,
    point_pixels,
    points_per_image,
    transform_image,
)
from pixelsoap.images.selection import easiest_per_digit, first_of_digit, most_ambiguous

__all__ = ["ENCODINGS", "GREY_LEVELS_PER_Z", "check_encoding", "describe_counts", "easiest_per_digit",
           "encode_image", "encode_images", "first_of_digit", "image_to_points", "images_to_points",
           "most_ambiguous", "point_pixels", "points_per_image", "transform_image"]
