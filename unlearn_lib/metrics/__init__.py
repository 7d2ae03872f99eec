"""Metrics computed from models: accuracy/error per split, gap to retrain, membership inference, time."""

from __future__ import annotations

from .classification import Accuracy, ModelOutputs, accuracy, evaluate_splits, predict
from .mia import MembershipInference, mia_loss_lr, mia_loss_lr_ci
from .reference import gap_to_reference, speed_up

__all__ = [
    "Accuracy",
    "MembershipInference",
    "ModelOutputs",
    "accuracy",
    "evaluate_splits",
    "gap_to_reference",
    "mia_loss_lr",
    "mia_loss_lr_ci",
    "predict",
    "speed_up",
]

# GAN metrics: classifier-FID, classifier Inception-style score, class share, D membership AUC.
from .gan import (
    ClassifierFID,
    class_share,
    classifier_fid,
    classifier_inception_score,
    discriminator_membership_auc,
    downstream_accuracy,
    frechet_distance,
    inception_fid,
    inception_score,
    membership_auc,
)

__all__ += [
    "ClassifierFID",
    "class_share",
    "classifier_fid",
    "classifier_inception_score",
    "discriminator_membership_auc",
    "downstream_accuracy",
    "frechet_distance",
    "inception_fid",
    "inception_score",
    "membership_auc",
]

# Segmentation metrics: Dice per class / mean (MONAI) and MAE.
from .segmentation import (
    DiceScore,
    SegmentationOutputs,
    dice_per_class,
    evaluate_segmentation,
    mean_dice,
    predict_segmentation,
    segmentation_mae,
)

__all__ += [
    "DiceScore",
    "SegmentationOutputs",
    "dice_per_class",
    "evaluate_segmentation",
    "mean_dice",
    "predict_segmentation",
    "segmentation_mae",
]

# --- SalUn's SVC MIA-efficacy, the NeurIPS 2023 challenge's forget quality, KL/JS to retrain ---
from .confusion import interclass_confusion
from .divergence import OutputDivergence, js_divergence, kl_divergence
from .privacy import (
    ForgetQuality,
    ForgetQualityResult,
    SVCMembershipInference,
    ULiraResult,
    example_epsilon,
    example_epsilons,
    forget_quality,
    logit_scaled_confidence,
    mia_features,
    svc_mia_efficacy,
    ulira,
)

__all__ += [
    "ForgetQuality",
    "ForgetQualityResult",
    "OutputDivergence",
    "SVCMembershipInference",
    "ULiraResult",
    "example_epsilon",
    "example_epsilons",
    "forget_quality",
    "interclass_confusion",
    "js_divergence",
    "kl_divergence",
    "logit_scaled_confidence",
    "mia_features",
    "svc_mia_efficacy",
    "ulira",
]
