"""Data sets: readers for FER-2013 (CSV and image folders), LFW with expression labels and class folders.

All readers return :class:`FaceDataset` (uint8 gray images, labels in
:data:`edgefer.labels.CLASSES` order, sources). :func:`load_dataset` / :func:`load_splits`
detect the format; :func:`summarize` counts items without decoding images.
"""
from edgefer.data._cache import cache_dir
from edgefer.data.dataset import FaceDataset
from edgefer.data.fer_csv import read_fer_csv
from edgefer.data.folders import (
    FileIndex, LazyImages, index_class_folders, index_fer_folders, read_class_folders, read_fer_folders, read_gray,
    read_gray_images,
)
from edgefer.data.lfw import index_lfw, read_lfw
from edgefer.data.load import (
    FORMATS, concat, dataset_root, detect_format, ferplus_soft_labels, load_dataset, load_splits,
    read_ferplus_votes,
)
from edgefer.data.summary import summarize

__all__ = [
    "FORMATS", "FaceDataset", "FileIndex", "LazyImages", "cache_dir", "concat", "dataset_root",
    "detect_format", "ferplus_soft_labels", "index_class_folders", "index_fer_folders", "index_lfw",
    "load_dataset", "load_splits", "read_class_folders", "read_fer_csv", "read_fer_folders",
    "read_ferplus_votes", "read_gray", "read_gray_images", "read_lfw", "summarize",
]
