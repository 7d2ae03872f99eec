"""Datasets and forget splits. Defaults are embedded (no download); real datasets load from a directory."""

from __future__ import annotations

from .cifar import CIFAR10_CLASSES, SafeUnpickler, load_cifar10, safe_load_pickle
from .datasets import ArrayDataset
from .mnist import load_embedded_mnist, load_mnist_idx, read_idx, write_idx
from .splits import FORGET_KINDS, ForgetSplit, forget_split, make_forget_split, stratified_partition, subsample_forget, validation_partition

__all__ = [
    "CIFAR10_CLASSES",
    "FORGET_KINDS",
    "ArrayDataset",
    "ForgetSplit",
    "SafeUnpickler",
    "forget_split",
    "load_cifar10",
    "load_embedded_mnist",
    "load_mnist_idx",
    "make_forget_split",
    "read_idx",
    "safe_load_pickle",
    "stratified_partition",
    "subsample_forget",
    "validation_partition",
    "write_idx",
]

# Simulated brain MRI cohort and MRBrainS18 (segmentation study).
from .cohort import LABEL_NAMES as COHORT_LABEL_NAMES
from .cohort import Cohort, label_dice, simulate_cohort
from .mrbrains import MRBRAINS_CHANNELS, MRBRAINS_LABEL_NAMES, load_mrbrains18

__all__ += ["COHORT_LABEL_NAMES", "MRBRAINS_CHANNELS", "MRBRAINS_LABEL_NAMES", "Cohort", "label_dice", "load_mrbrains18", "simulate_cohort"]
# --- the inter-class confusion test ---
from .confusion import ConfusionSplit, make_confusion_split

__all__ += ["ConfusionSplit", "make_confusion_split"]

# Medical classification data with patient metadata.
from .chexpert import CHEXPERT_FINDINGS, UNCERTAIN_POLICIES, load_chexpert
from .medical import attribute_forget_split, indices_forget_split, load_brain_patches, patches_from_cohort, split_by_subject
from .medmnist import load_medmnist

__all__ += [
    "CHEXPERT_FINDINGS",
    "UNCERTAIN_POLICIES",
    "attribute_forget_split",
    "indices_forget_split",
    "load_brain_patches",
    "load_chexpert",
    "load_medmnist",
    "patches_from_cohort",
    "split_by_subject",
]

# Datasets by name (issue: one dataset registry for every notebook).
from .registry import (
    DATASET_SOURCES,
    DATASETS,
    MODALITIES,
    DataBundle,
    DatasetSpec,
    list_datasets,
    load_dataset,
    register_arrays,
    register_dataset,
)

__all__ += [
    "DATASETS",
    "DATASET_SOURCES",
    "MODALITIES",
    "DataBundle",
    "DatasetSpec",
    "list_datasets",
    "load_dataset",
    "register_arrays",
    "register_dataset",
]
