"""Exceptions raised by edgefer. Each message names the file (or row) and what was wrong."""
from __future__ import annotations


class EdgeferError(Exception):
    """Base class of edgefer's own errors."""


class DataError(EdgeferError, ValueError):
    """A data set, file or row could not be read or has invalid content."""


class ImageReadError(DataError):
    """An image file is missing, unreadable, corrupt or too large."""


class NotAnImageError(ImageReadError):
    """The bytes are not an image in a format edgefer reads."""


class ImageTooLargeError(ImageReadError):
    """The image declares more pixels than allowed; refused before decoding."""


class CheckpointError(EdgeferError, ValueError):
    """A model checkpoint is missing, corrupt, or not a safe edgefer checkpoint."""
