"""Metrics computed from models: accuracy/error per split, gap to retrain, membership inference, time."""

from __future__ import annotations

from .classification import Accuracy, ModelOutputs, accuracy, evaluate_splits, predict
from .mia import MembershipInference, mia_loss_lr
from .reference import gap_to_reference, scale_up

__all__ = [
    "Accuracy",
    "MembershipInference",
    "ModelOutputs",
    "accuracy",
    "evaluate_splits",
    "gap_to_reference",
    "mia_loss_lr",
    "predict",
    "scale_up",
]

# --- issue 3: SalUn's SVC MIA-efficacy, the NeurIPS 2023 challenge's forget quality, KL/JS to retrain ---
from .confusion import interclass_confusion
from .divergence import OutputDivergence, js_divergence, kl_divergence
from .privacy import (
    ForgetQuality,
    ForgetQualityResult,
    SVCMembershipInference,
    example_epsilon,
    forget_quality,
    logit_scaled_confidence,
    mia_features,
    svc_mia_efficacy,
)

__all__ += [
    "ForgetQuality",
    "ForgetQualityResult",
    "OutputDivergence",
    "SVCMembershipInference",
    "example_epsilon",
    "forget_quality",
    "interclass_confusion",
    "js_divergence",
    "kl_divergence",
    "logit_scaled_confidence",
    "mia_features",
    "svc_mia_efficacy",
]
